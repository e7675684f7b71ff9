#pragma once
/// checks: each check is a function from a context to a result. A check that
/// finds a problem returns it; exceptions are for the unexpected.

#include "pgmt/rls.hpp"
#include "pgmt/snapshot.hpp"
#include "pgmt/state.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace pgmt {

/// Outcome of one check.
struct check_result {
  enum class status { passed, failed, skipped };
  status outcome = status::passed;
  std::vector<std::string> findings;  ///< each a formatted diagnostic (first line: file:line: message)
  std::string note;                   ///< one line of what was done, or why it was skipped
  std::vector<std::string> details;   ///< lines printed whatever the outcome (a report, warnings)

  [[nodiscard]] static check_result pass(std::string note) {
    return {status::passed, {}, std::move(note), {}};
  }
  [[nodiscard]] static check_result fail(std::vector<std::string> findings, std::string note = {}) {
    return {status::failed, std::move(findings), std::move(note), {}};
  }
  [[nodiscard]] static check_result skip(std::string why) {
    return {status::skipped, {}, std::move(why), {}};
  }
  [[nodiscard]] bool passed() const noexcept { return outcome == status::passed; }
};

/// One kind of check: the one place its name, scope, CTest labels, when it
/// applies and how it runs are written. `pgmt list --checks` (what the CMake
/// discovery reads), the CLI's help and `pgmt check` all read it.
struct check_kind {
  enum class scope { migration, suite };
  const char* name;     ///< in test names; "pgtap" stands for every "pgtap.<file>"
  scope where;          ///< one test per migration, or per suite
  const char* labels;   ///< CTest labels besides the suite's, ',' between them
  const char* summary;  ///< what it proves, one line
  /// The tests of this kind a suite has: for migration index (scope
  /// migration), or for the whole suite; empty when it does not apply.
  std::vector<std::string> (*tests)(const suite& s, const migration_set& set, std::size_t index);
  /// Runs the check on its own (from templates and clones), for test (its
  /// name in test names, "pgtap.notes") and migration index.
  check_result (*run)(state_cache& cache, std::size_t index, const std::string& test);
};

/// Every kind of check, in the order a suite's verdicts come.
[[nodiscard]] const std::vector<check_kind>& check_registry();

/// The kind of the check a test runs ("apply", "pgtap.notes") in scope where; nullptr if none.
[[nodiscard]] const check_kind* find_check(const std::string& test, check_kind::scope where);

/// "apply, idempotency, ... and pgtap.<file>", for messages.
[[nodiscard]] std::string known_checks();

/// The suite's own tests, in order: reset, drift (with a snapshot file),
/// then those suite_checks() gives.
[[nodiscard]] std::vector<std::string> suite_tests(const suite& s, const migration_set& set);

/// `apply K`: clone S(K-1), run migration K; pass when it runs without error.
/// index is 0-based into the suite's migrations.
[[nodiscard]] check_result check_apply(state_cache& cache, std::size_t index);

/// `idempotency K`: on S(K), run migration K again; pass when it succeeds and
/// leaves the snapshot and every table's row count unchanged.
[[nodiscard]] check_result check_idempotency(state_cache& cache, std::size_t index);

/// `roundtrip K`: on S(K-1) (plus K's data file, if the suite has one): up,
/// down, compare with before (schema and the row counts of tables that
/// existed), up again, compare with the first up.
[[nodiscard]] check_result check_roundtrip(state_cache& cache, std::size_t index);

/// `drift`: the snapshot after every migration equals the suite's committed
/// snapshot file.
[[nodiscard]] check_result check_drift(state_cache& cache);

/// The checks a suite runs for migration index, in order: "apply", then
/// "idempotency" and "roundtrip" where they apply (see the README).
[[nodiscard]] std::vector<std::string> checks_for(const suite& s, const migration_set& set,
                                                  std::size_t index);

/// `rls K`: on S(K), the assertion file of migration K in the suite's RLS
/// folder, as its users.
[[nodiscard]] check_result check_rls(state_cache& cache, std::size_t index);
/// sqitch's verify script of migration index runs without error on S(index+1).
[[nodiscard]] check_result check_verify(state_cache& cache, std::size_t index);

/// `rls` (suite): final.json of the RLS folder on the reset state.
[[nodiscard]] check_result check_rls_final(state_cache& cache);

/// `rls_coverage`: on the reset state, every table the API roles (anon and
/// authenticated under the supabase profile, and the roles of the declared
/// users) may read or write, whether row level security is on, its policies,
/// and which user x command pairs the assertion files exercise. A table they
/// can reach with row level security off fails; one with it on that no
/// assertion exercises is a warning.
[[nodiscard]] check_result check_rls_coverage(state_cache& cache);

/// `pgtap.<name>`: the pgTAP file <name> of the suite's pgTAP folder on the
/// reset state built for pgTAP; its TAP judged.
[[nodiscard]] check_result check_pgtap(state_cache& cache, const std::string& name);

/// The suite-level checks besides reset and drift, in order: "rls" when the
/// RLS folder has final.json, "pgtap.<name>" for each pgTAP file.
[[nodiscard]] std::vector<std::string> suite_checks(const suite& s, const migration_set& set);

namespace detail {

/// Thrown by a check body run inside the caller's transaction (nested) that
/// met an error committing between scripts would not have raised (SQLSTATE
/// 55P04, a new enum label used; 25001): the check must run where each script commits.
struct needs_own_commits {};

/// The skip verdict of a check whose state could not be built. For a check
/// of migration m (the state after it, or its own run), a culprit that is m
/// itself is said so, pointing at m's apply test of suite s.
[[nodiscard]] check_result skipped_because(const state_error& e);
[[nodiscard]] check_result skipped_because(const state_error& e, const suite& s, const migration& m,
                                           const migration_set& set);

/// The body of `idempotency K` on conn at S(K); reader is conn's, at S(K),
/// and is told of every script. nested: the scripts run as savepoints of the
/// transaction the caller has open and rolls back.
[[nodiscard]] check_result idempotency_on(const suite& s, connection& c, catalog_reader& reader,
                                          const migration& m, bool nested);

/// The body of `roundtrip K` on conn at S(K-1), as idempotency_on.
[[nodiscard]] check_result roundtrip_on(const suite& s, connection& c, catalog_reader& reader,
                                        const migration& m, bool nested);

/// The rest of `roundtrip K` once up has run on conn: down, compared with
/// before (and counts_before), then up again, compared with up. data_note
/// ends the passing note (", with data from <file>" or empty).
[[nodiscard]] check_result roundtrip_after_up(const suite& s, connection& c, catalog_reader& reader,
                                              const migration& m, bool nested, const catalog& before,
                                              const std::map<std::string, long long>& counts_before,
                                              const catalog& up, const std::string& data_note);

/// Whether the suite has a data file for m (loaded before its round trip).
[[nodiscard]] bool has_data_file(const suite& s, const migration& m);

/// The verdict of `drift` for actual, the snapshot after the n migrations.
[[nodiscard]] check_result drift_of(const suite& s, const nlohmann::json& actual, std::size_t n);

/// The verdict of `roundtrip K` for a migration without a down script.
[[nodiscard]] check_result missing_down(const migration& m);

/// The note of a passing `apply`: what ran, how, and how long it took.
[[nodiscard]] std::string applied_note(const migration& m, const run_stats& stats);

/// The verdict of an `apply` that ran: its note, and the warnings of what
/// reached past the database (run_stats::warnings) as details.
[[nodiscard]] check_result applied(const migration& m, const run_stats& stats);

/// The verdict of an RLS file from the findings run_rls_file gave.
[[nodiscard]] check_result rls_result(const rls_file& f, const std::vector<std::string>& findings);

/// Whether an RLS file's SQL ends or opens transactions itself: it then runs on a clone.
[[nodiscard]] bool controls_transactions(const rls_file& f);

}  // namespace detail

/// `lock`: the suite's migrations against its lock file (see lock.hpp).
[[nodiscard]] check_result check_lock_file(const suite& s, const migration_set& set);

/// `reset`: from an empty database, fixtures, every migration in order, then
/// the seeds; pass when all of it runs and the tracking table lists every migration.
[[nodiscard]] check_result check_reset(state_cache& cache);

}  // namespace pgmt
