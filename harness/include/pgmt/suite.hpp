#pragma once
/// suite: what a suite is made of (migrations folder, layout, fixtures,
/// seeds, limits), read from the JSON file pgmt_add_migration_tests writes or
/// from command-line options.

#include "pgmt/migration.hpp"
#include "pgmt/script.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace pgmt {

/// One suite's settings.
struct suite {
  std::string name = "suite";
  std::filesystem::path migrations_dir;
  layout forced_layout = layout::automatic;
  /// A profile of fixtures/ ("supabase"), loaded before the suite's own fixtures; empty: none.
  std::string profile;
  std::vector<std::filesystem::path>
      fixtures;  ///< files or folders of .sql, loaded before the first migration
  std::vector<std::filesystem::path>
      seeds;  ///< files or folders of .sql, loaded by reset after the last migration
  std::chrono::milliseconds statement_timeout{std::chrono::minutes(1)};
  std::chrono::milliseconds lock_timeout{std::chrono::seconds(10)};
  std::filesystem::path output_dir;     ///< where long material goes (build tree)
  std::filesystem::path snapshot_file;  ///< committed snapshot for drift; empty: none
  std::filesystem::path data_dir;       ///< per-migration data loaded before a round trip; empty: none
  std::filesystem::path rls_dir;        ///< RLS assertion files; empty: none
  std::filesystem::path pgtap_dir;      ///< pgTAP files; empty: none
  std::string pgtap_helpers;            ///< "supabase": Supabase test helpers for the pgTAP files
  /// The lock file (`lock`): empty for the migrations folder's pgmt.lock when
  /// it exists; ignored when lock_off.
  std::filesystem::path lock_file;
  bool lock_off = false;  ///< LOCK_FILE OFF: no lock check
  bool lint_off = false;  ///< LINT OFF: no lint tests
  std::vector<std::string> lint_ignore;                ///< LINT_IGNORE: rules left out
  std::optional<std::vector<std::string>> lint_errors;  ///< LINT_ERRORS: the rules that fail the test
  std::filesystem::path lint_manifest;                 ///< LINT_MANIFEST: allowed tables and enums; empty: none
  /// Idempotency checks: "auto" (on for forward-only sets, off for up/down
  /// sets and Flyway's versioned migrations), "on" or "off".
  std::string idempotency = "auto";
  /// IRREVERSIBLE: versions that have no down on purpose (no round trip).
  std::vector<std::string> irreversible;
  /// NOT_IDEMPOTENT: versions left out of the idempotency check.
  std::vector<std::string> not_idempotent;
  /// COLUMN_ORDER: "strict" (a changed column order is a finding) or "ignore".
  std::string column_order = "strict";
  /// PGTAP_ORDER: "isolated" (each file on its own copy of the reset state)
  /// or "sequential" (every file, in name order, on one database).
  std::string pgtap_order = "isolated";
  /// SERVER_SETTINGS: name=value settings a server pgmt starts gets.
  std::vector<std::string> server_settings;
  /// The server is not pgmt's own (external): statements that would change it
  /// for good are refused (run_options::shared_server). Set from the server,
  /// never read from a suite file.
  bool shared_server = false;

  /// Reads a suite file; relative paths are taken from the file's folder.
  /// Throws input_error naming the file and the key that is wrong.
  static suite from_file(const std::filesystem::path& file);
  /// The JSON form.
  [[nodiscard]] nlohmann::json to_json() const;

  /// The fixture files in load order: the profile's, then the suite's (a
  /// folder gives its .sql files in byte order).
  [[nodiscard]] std::vector<sql_source> fixture_sources() const;
  /// The fixture files, then the set's own (Flyway's beforeMigrate callbacks).
  [[nodiscard]] std::vector<sql_source> fixture_sources(const migration_set& set) const;
  /// Throws input_error (prefixed with where) for settings that do not go together.
  void validate(const std::string& where) const;
  /// Settings every session starts with (libpq options), from the profile.
  [[nodiscard]] std::string session_options() const;
  /// The seed files in load order.
  [[nodiscard]] std::vector<sql_source> seed_sources() const;
  /// The set's own (Flyway's afterMigrate callbacks), then the seed files.
  [[nodiscard]] std::vector<sql_source> seed_sources(const migration_set& set) const;
  /// The lock file the `lock` check reads, or empty when the suite has none.
  [[nodiscard]] std::filesystem::path lock_path() const;
  /// The migration set of migrations_dir.
  [[nodiscard]] migration_set discover_migrations() const;
};

/// Files of paths in order: a file as is, a folder's *.sql in byte order.
/// Throws input_error for a path that does not exist.
std::vector<sql_source> load_sources(const std::vector<std::filesystem::path>& paths, const char* what);

}  // namespace pgmt
