#pragma once
// Internal: the layouts of tools that bring their own naming and ordering
// rules (Flyway, sqitch). discover() (migration.cpp) dispatches to them.
#include "pgmt/migration.hpp"

#include <cctype>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgmt::detail {

/// s ends with suffix.
inline bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

/// s without leading and trailing blanks.
inline std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  return s.substr(b);
}

/// What pgmt reads of a Flyway configuration (flyway.conf or flyway.toml).
struct flyway_config {
  std::filesystem::path file;                    ///< the file it came from; empty: defaults
  std::vector<std::filesystem::path> locations;  ///< folders of migrations; empty: the migrations folder
  std::vector<std::filesystem::path> callback_locations;  ///< more folders of callbacks (callbackLocations)
  std::string versioned = "V", undo = "U", repeatable = "R", separator = "__";
  std::vector<std::string> suffixes = {".sql"};
  bool replace_placeholders = true;
  std::string placeholder_prefix = "${", placeholder_suffix = "}";
  std::map<std::string, std::string> placeholders;
};

/// The Flyway configuration of a project folder (flyway.toml, flyway.conf or
/// conf/flyway.conf in dir), or nullopt. Throws input_error at the line of
/// what it cannot read.
std::optional<flyway_config> read_flyway_config(const std::filesystem::path& dir);

/// True for a name Flyway would take as a migration under the default
/// prefixes: V<version>__<desc>.sql, U<version>__<desc>.sql, R__<desc>.sql.
bool flyway_file_name(const std::string& name);

/// Flyway's order of two versions written with '.' ("1.10" after "1.9";
/// "1" equals "1.0"): negative, zero or positive.
int compare_flyway_versions(const std::string& a, const std::string& b);

/// True for a Flyway SQL callback's name: <event>.sql or <event>__<desc>.sql
/// (afterMigrate.sql, beforeMigrate__grants.sql, ...).
bool flyway_callback_name(const std::string& name);

/// A Flyway project's migrations and SQL callbacks.
struct flyway_project {
  /// Versioned in version order, undo scripts as their downs, repeatable ones
  /// after them (by description).
  std::vector<migration> migrations;
  std::vector<sql_source> before_all, after_all;  ///< beforeMigrate, afterMigrate callbacks
  std::vector<std::string> notes;                 ///< callbacks pgmt does not run, and why
};
flyway_project discover_flyway(const std::filesystem::path& dir, const flyway_config& config);

/// The migrations of a sqitch project (sqitch.plan in dir): the plan's order,
/// deploy/ as up, revert/ as down, verify/ as verify.
std::vector<migration> discover_sqitch(const std::filesystem::path& dir);

}  // namespace pgmt::detail
