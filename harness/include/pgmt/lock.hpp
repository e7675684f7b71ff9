#pragma once
/// lock: migrations released are not edited. A lock file beside the
/// migrations (`pgmt.lock` in their folder) holds one line per migration,
/// `<version> <name> <sha256>` of its up script (BOM removed, CRLF read as
/// LF), sorted by the layout's order, so that two branches that each add
/// migrations merge line by line. The check compares the migrations with it,
/// or with the files at a git ref.

#include "pgmt/checks.hpp"
#include "pgmt/migration.hpp"

#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace pgmt {

/// One locked migration.
struct lock_entry {
  std::string version;
  std::string name;
  std::string checksum;  ///< SHA-256 hex of the up script
  int line = 0;          ///< in the lock file, 0 when it came from elsewhere (a git ref)
};

/// The lock file of a migrations folder: `<dir>/pgmt.lock`.
[[nodiscard]] std::filesystem::path default_lock_file(const std::filesystem::path& migrations_dir);

/// Reads a lock file. Throws input_error at file:line for a line that is not
/// `<version> <name> <sha256>` (comments start with #; blank lines are fine).
[[nodiscard]] std::vector<lock_entry> read_lock_file(const std::filesystem::path& file);

/// The text of the lock file for set: a header comment, then a line per migration in order.
[[nodiscard]] std::string format_lock_file(const migration_set& set);

/// What the lock is compared with, and how to show an edited script's lines.
struct lock_basis {
  std::vector<lock_entry> entries;
  std::string where;  ///< "migrations/pgmt.lock", or "the files at origin/main"
  /// The text a locked migration had, where it is known (a git ref, or the
  /// committed file when its checksum is the locked one); nullopt otherwise.
  std::function<std::optional<std::string>(const lock_entry&, const migration* now)> old_text;
};

/// The verdict of `lock`: every locked migration is there, under its name,
/// with its checksum; no new migration sorts before the newest locked one.
/// Versions in allowed ("*" for all) are reported but do not fail
/// (PGMT_LOCK_ALLOW, for emergencies).
[[nodiscard]] check_result check_lock(const migration_set& set, const lock_basis& basis,
                                      const std::set<std::string>& allowed);

/// The basis of a lock file, old texts read from git where the committed file matches.
[[nodiscard]] lock_basis lock_file_basis(const std::filesystem::path& file);

/// The basis of the migrations at git ref base (the files of set.dir at that
/// commit, in the same layout). Throws input_error when git cannot show them.
[[nodiscard]] lock_basis git_basis(const migration_set& set, const std::string& base);

/// PGMT_LOCK_ALLOW as a set of versions ("*" for all); empty when unset.
[[nodiscard]] std::set<std::string> lock_allowed_from_environment();

}  // namespace pgmt
