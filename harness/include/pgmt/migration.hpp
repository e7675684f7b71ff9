#pragma once
/// migration: finding a migration set in any supported layout, ordering it by
/// version, checksums and directives.

#include "pgmt/script.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgmt {

/// How a migrations folder is laid out.
enum class layout {
  automatic,  ///< detect from the folder
  flat,       ///< <version>_<name>.sql, forward only (Supabase, numbered files)
  paired,     ///< <version>_<name>.up.sql + .down.sql (golang-migrate)
  split,      ///< up/<file>.sql + down/<file>.sql
  folders,    ///< <version>_<name>/up.sql + down.sql (diesel)
  sections,   ///< one file with -- migrate:up / -- migrate:down (dbmate)
  flyway,     ///< V<version>__<desc>.sql, U<version>__ undo, R__ repeatable (Flyway)
  sqitch,     ///< sqitch.plan + deploy/, revert/, verify/ (sqitch)
};

/// "flat", "paired", ...
std::string to_string(layout l);
/// Parses a layout name; throws input_error listing the valid names.
layout parse_layout(std::string_view name);

/// One migration: its up script and, where the layout has them, its down script.
struct migration {
  std::string version;  ///< ordering key, e.g. 20260219120000
  std::string name;     ///< e.g. profiles
  sql_source up;
  std::optional<sql_source> down;
  /// sqitch's verify script: run after each deploy; fails when it errors.
  std::optional<sql_source> verify;
  bool repeatable = false;      ///< Flyway's R__: runs after the versioned ones, again when it changes
  bool irreversible = false;    ///< -- pgmt:irreversible
  bool not_idempotent = false;  ///< -- pgmt:not-idempotent
  std::string not_idempotent_reason;

  /// SHA-256 of the up text (BOM removed, CRLF read as LF), computed on each
  /// call: a check needs it for one migration, not for the whole set.
  [[nodiscard]] std::string checksum() const;
  /// version_name, how messages and databases name it.
  [[nodiscard]] std::string id() const { return name.empty() ? version : version + "_" + name; }
};

/// All migrations of a folder, in order.
struct migration_set {
  std::filesystem::path dir;
  layout kind = layout::flat;
  std::vector<migration> migrations;
  /// Run before the first migration and after the last, wherever the chain is
  /// built from nothing: Flyway's beforeMigrate and afterMigrate callbacks.
  std::vector<sql_source> before_all, after_all;
  /// What discovery leaves out and says so (Flyway callbacks pgmt does not run).
  std::vector<std::string> notes;

  /// The migration with this version (or id), or nullptr.
  [[nodiscard]] const migration* find(std::string_view version_or_id) const;
  /// Position (0-based) of the migration with this version; throws input_error.
  [[nodiscard]] std::size_t index_of(std::string_view version_or_id) const;
};

/// Finds the migrations in dir. Throws input_error naming the files for a
/// missing or empty folder, a duplicate version, a down without an up, a file
/// that is not UTF-8, a mix of layouts, or an unknown directive.
migration_set discover(const std::filesystem::path& dir, layout forced = layout::automatic);

/// Reads `-- pgmt:...` directives from the leading comment lines of src into m
/// (and src.no_transaction). Throws input_error at the line of an unknown one.
void read_directives(sql_source& src, migration* m);

}  // namespace pgmt
