#pragma once
/// state: the state after the first k migrations, S(k), kept as a template
/// database built once per server and cloned (CREATE DATABASE ... TEMPLATE)
/// for every test that needs it. Safe for several processes at once
/// (advisory locks, unique names).

#include "pgmt/migration.hpp"
#include "pgmt/script.hpp"
#include "pgmt/server.hpp"
#include "pgmt/suite.hpp"

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pgmt {

class connection;

/// A state could not be built because a fixture or migration failed.
class state_error : public std::runtime_error {
 public:
  state_error(std::size_t k, std::string culprit, diagnostic d);
  /// The state that could not be built.
  [[nodiscard]] std::size_t state() const noexcept { return k_; }
  /// What failed: a migration id or "fixtures".
  [[nodiscard]] const std::string& culprit() const noexcept { return culprit_; }
  /// Where and why.
  [[nodiscard]] const diagnostic& diag() const noexcept { return diag_; }

 private:
  std::size_t k_;
  std::string culprit_;
  diagnostic diag_;
};

/// Creates pgmt's schema and tracking table (pgmt.migrations) if missing.
void ensure_tracking_table(connection& conn);

/// Runs m's up script on conn and records it in pgmt.migrations in the same
/// transaction (when it has one); nested: inside the transaction conn has
/// open (see run_options::nested); count_writes: see run_options; again: a
/// second run on a state that has it, meeting what the first left (see
/// run_options::drop_created_databases); trace: see run_options::trace.
/// Throws script_error.
run_stats apply_migration(connection& conn, const migration& m, const suite& s, bool nested = false,
                          bool count_writes = true, bool again = false, bool trace = false);

/// Runs each source on conn, committed one by one. Throws script_error.
void run_sources(connection& conn, const std::vector<sql_source>& sources, const suite& s, const char* what);

/// Each sequence's (last_value, is_called), by qualified name.
using sequence_values = std::map<std::string, std::pair<std::string, std::string>>;

/// The sequences of conn's database and where they stand.
sequence_values read_sequence_values(connection& conn);

/// Sets every sequence of was that moved since back to where it was:
/// nextval() is not undone by a rollback.
void set_sequences_back(connection& conn, const sequence_values& was);

class state_cache;

/// A work database lent to one check: it holds S(k) and is connected. The
/// check runs its scripts in a transaction it rolls back (or commits one
/// migration, moving it to S(k+1)), then gives it back; the next check moves
/// it forward by running the migrations in between, which costs what those
/// migrations cost, where cloning a template costs what the whole schema
/// weighs. Sequences are set back when given back, since nextval() ignores
/// rollbacks. One not given back (an error left it in an unknown state) is
/// dropped.
class work_lease {
 public:
  work_lease(state_cache& cache, std::string name, std::size_t k, std::unique_ptr<connection> maint);
  ~work_lease();
  work_lease(const work_lease&) = delete;
  work_lease& operator=(const work_lease&) = delete;

  /// The connection to the work database.
  [[nodiscard]] connection& conn() { return *conn_; }
  /// The state it holds.
  [[nodiscard]] std::size_t state() const noexcept { return k_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  /// Records that a committed migration moved it to S(k).
  void advanced_to(std::size_t k);
  /// Sets the sequences back to where they were when it was lent, ends any
  /// open transaction with a rollback, and returns it to the pool at state().
  void give_back();

 private:
  std::map<std::string, std::pair<std::string, std::string>> read_sequences();

  state_cache& cache_;
  std::string name_;
  std::size_t k_;
  std::unique_ptr<connection> maint_;  // holds the advisory lock that makes it ours
  std::unique_ptr<connection> conn_;
  std::map<std::string, std::pair<std::string, std::string>> sequences_;  // name -> (last_value, is_called)
  bool given_back_ = false;
};

/// Template databases for the states of one suite on one server. At most
/// PGMT_MAX_STATES (default 48) are kept; the least recently used go first,
/// and one that is needed again is rebuilt from the nearest state below it.
class state_cache {
 public:
  state_cache(server_info server, suite s, migration_set set);

  /// The template database holding S(k), k in [0, size]; builds it and any
  /// missing lower state. Throws state_error.
  std::string ensure(std::size_t k);
  /// A new database cloned from S(k); the caller drops it.
  std::string clone(std::size_t k, std::string_view purpose);
  /// A new database from the reset state: every migration and the seeds
  /// (built once, kept as a template).
  std::string clone_final(std::string_view purpose);
  /// A new database from the reset state built for pgTAP: pgtap (and the
  /// suite's pgTAP helpers) created after the fixtures, before the migrations.
  std::string clone_pgtap(std::string_view purpose);
  /// A work database at S(k) (see work_lease), moved forward from one at a
  /// state a few migrations below, or cloned from S(k) while the pool is
  /// smaller than PGMT_WORK_DBS (default 4; 0 turns work databases off).
  /// Null when none is free: the caller clones. Throws state_error when a
  /// migration on the way fails.
  std::unique_ptr<work_lease> lease(std::size_t k);
  /// A new empty database (from template0) for checks that start from nothing.
  std::string create_empty(std::string_view purpose);
  /// Makes db the template for S(k) if that state does not exist yet; db is
  /// renamed in that case. Returns whether it was taken.
  bool adopt(std::size_t k, const std::string& db);
  /// Drops db (forcing other sessions off it).
  void drop(const std::string& db);
  /// Turns work databases off for this cache: checks clone templates.
  void without_work_databases() noexcept { max_work_ = 0; }
  /// Makes a template of S(k) as a copy of db, which holds S(k) and has no
  /// session, unless that template exists.
  void keep_template(std::size_t k, const std::string& db);
  /// Name of the template database for S(k).
  [[nodiscard]] std::string template_name(std::size_t k) const;
  /// A connection string for database db.
  [[nodiscard]] std::string conninfo(const std::string& db) const;

  [[nodiscard]] const suite& config() const noexcept { return suite_; }
  [[nodiscard]] const migration_set& migrations() const noexcept { return set_; }
  [[nodiscard]] const server_info& server() const noexcept { return server_; }

 private:
  /// Builds S(k) from S(below) (from nothing when below is empty: then k is 0).
  void build(std::size_t k, std::optional<std::size_t> below);
  bool complete(connection& maint, const std::string& name);
  /// Drops the least recently used states beyond max_states_ (those not being built).
  void evict(connection& maint);
  std::string create_db_sql(const std::string& name, const std::string& from) const;
  std::string work_comment(std::size_t k) const;
  /// Runs the migrations that take lease's database up to S(k).
  void walk(work_lease& lease, std::size_t k);
  /// How far a work database walks at most, and how often one leaves a template behind.
  static constexpr std::size_t checkpoint_every = 16;
  friend class work_lease;

  server_info server_;
  suite suite_;
  migration_set set_;
  std::vector<std::string> keys_;  // keys_[k]: hash of everything S(k) is made of
  std::size_t max_states_ = 48;    // PGMT_MAX_STATES: templates kept on the server at most
  std::size_t max_work_ = 4;       // PGMT_WORK_DBS: work databases at most
};

}  // namespace pgmt
