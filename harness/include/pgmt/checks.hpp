#pragma once
/// checks: each check is a function from a context to a result. A check that
/// finds a problem returns it; exceptions are for the unexpected.

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

/// `reset`: from an empty database, fixtures, every migration in order, then
/// the seeds; pass when all of it runs and the tracking table lists every migration.
[[nodiscard]] check_result check_reset(state_cache& cache);

}  // namespace pgmt
