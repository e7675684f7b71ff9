#pragma once
/// rls: row level security asserted as simulated users. An assertion file
/// (JSON, one per migration version in the suite's RLS folder, plus an
/// optional final.json run on the reset state) declares users, a setup run as
/// the owner, and expectations each run as one user, the way PostgREST runs a
/// request: SET LOCAL ROLE, then the JWT claims (or plain settings) for the
/// transaction.

#include "pgmt/migration.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pgmt {

class connection;

/// Someone an expectation runs as.
struct rls_user {
  std::string name;
  std::string role;                             ///< SET LOCAL ROLE to this
  std::optional<nlohmann::json> claims;         ///< request.jwt.claims (Supabase style)
  std::map<std::string, std::string> settings;  ///< set_config for the transaction (plain style)
  bool bypass = false;                          ///< declared as bypassing row level security
};

/// One expectation of an assertion file.
struct rls_expectation {
  std::string where;  ///< "expect[3]"
  std::string as;
  std::string sql;
  std::string it;  ///< what it shows, for messages (optional)
  enum class kind { rows, count, affected, error } what = kind::rows;
  nlohmann::json rows;  ///< expected rows (array of objects)
  bool ordered = false;
  long long number = 0;  ///< count or affected
  std::string sqlstate;  ///< for error ("denied" is 42501)
  /// Tables the statement names (schema.table as written) and its command.
  std::vector<std::string> relations;
  std::string command;  ///< SELECT, INSERT, UPDATE, DELETE or OTHER
};

/// An assertion file, read and checked.
struct rls_file {
  std::filesystem::path path;
  std::string version;  ///< the migration it belongs to; empty for final.json
  std::map<std::string, rls_user> users;
  std::string setup;
  std::vector<rls_expectation> expect;
};

/// What an RLS folder holds, matched to a migration set.
struct rls_dir {
  std::filesystem::path dir;
  std::optional<std::filesystem::path> users_file;  ///< users.json
  std::optional<std::filesystem::path> final_file;  ///< final.json: run on the reset state
  std::map<std::string, std::filesystem::path> by_version;
};

/// Lists dir. A .json file that is neither users.json, final.json nor named
/// after a migration version (<version>.json or <version>_<name>.json) is an
/// input_error naming it.
rls_dir scan_rls_dir(const std::filesystem::path& dir, const migration_set& set);

/// The users every file of a suite knows: the profile's (supabase: anon and
/// service_role) and those of users.json.
std::map<std::string, rls_user> suite_rls_users(const rls_dir& dir, const std::string& profile);

/// Reads and checks a file. Malformed content is an input_error with the
/// file and the JSON path ("expect[3].as: unknown user \"carol\"").
rls_file load_rls_file(const std::filesystem::path& path, const std::string& version,
                       const std::map<std::string, rls_user>& suite_users, const std::string& profile);

/// The coverage report of a database: lines to print, failures (tables the
/// API roles reach with row level security off) and warnings (tables with it
/// on that no expectation touches).
struct rls_coverage {
  std::vector<std::string> lines;
  std::vector<std::string> failures;
  std::vector<std::string> warnings;
  std::size_t exposed = 0;
};

/// Coverage of conn's database by files, for the API roles (those of them that exist).
rls_coverage rls_coverage_of(connection& conn, const std::vector<rls_file>& files,
                             const std::vector<std::string>& api_roles);

/// Runs a file on conn (a scratch database it may change: everything runs in
/// one transaction that is rolled back). Returns the findings; none means it
/// passed. For the supabase profile, users with a "sub" claim get their
/// auth.users row first.
std::vector<std::string> run_rls_file(connection& conn, const rls_file& f, const std::string& profile);

}  // namespace pgmt
