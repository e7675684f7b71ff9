#pragma once
/// snapshot: a deterministic JSON description of a database read from
/// pg_catalog (never pg_dump), and a readable diff of two snapshots.

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace pgmt {

class connection;

/// The "format" of a snapshot written now. Format 2 added table inheritance,
/// column and constraint inheritance, storage and statistics settings,
/// replica identity, collations, casts, operators, text search objects,
/// statistics objects, publications, foreign data wrappers and servers.
/// Format 3 added operator classes, operator families and procedural
/// languages.
inline constexpr const char* snapshot_format = "pgmt-snapshot-3";
struct run_stats;

/// A database's catalog as pgmt reads it: each object's description (the
/// compact JSON text of one snapshot entry) with its OID and a fingerprint of
/// the catalog rows it was read from. A clone keeps both, so a later read of
/// the same database, or of a clone, re-reads only objects whose rows changed.
struct catalog {
  struct object {
    std::string oid;
    std::string fingerprint;
    std::string value;
  };
  std::map<std::string, std::map<std::string, object>> objects;  ///< category -> name -> object
  /// Roles and other named things descriptions mention (collations, operators,
  /// ...): when it changes, everything is read again.
  std::string global;
  /// The transaction horizon of the read (the next transaction ID then, modulo
  /// 2^32): catalog rows written later have an xmin at or past it.
  std::string horizon;
  /// The snapshot: what take_snapshot gives for the same database.
  [[nodiscard]] nlohmann::json snapshot() const;
};

/// Reads the whole catalog of conn's database.
catalog read_catalog(connection& conn);

/// Reads the catalog and the row counts of one connection's database again
/// and again; each read re-reads only what changed since the one before.
/// PGMT_VERIFY_CATALOG=1 checks every such read against a full one.
class catalog_reader {
 public:
  /// Starts from what store() saved in this database (or in the database it
  /// was cloned from), when there is something.
  explicit catalog_reader(connection& conn);
  /// The catalog now.
  const catalog& read();
  /// Exact row counts now, by qualified table name. Tables whose catalog row
  /// is unchanged and that no script wrote are not counted again.
  std::map<std::string, long long> counts();
  /// Tells what a script run on the connection wrote: the tables it inserted
  /// into or deleted from, or nullopt when that is not known.
  void wrote(const std::optional<std::vector<std::string>>& tables);
  /// Tells what a script run on the connection wrote, as run_script measured
  /// it: its tables, and whether it changed the system catalogs.
  void wrote(const run_stats& stats);
  /// Promises that the database is a fresh clone of one whose catalog was
  /// stored, and that from now on it changes only through scripts reported
  /// with wrote(run_stats): read() then takes the stored catalog as it is,
  /// reads nothing again after scripts that left the catalogs alone, and
  /// otherwise re-reads only the objects that own catalog rows written since
  /// the read before (their xmin), instead of comparing every object.
  void trust_reports();
  /// Saves the catalog and counts in the database (pgmt.catalog_cache), so
  /// that readers of its clones start from them.
  void store();
  /// What the reader knows now: the catalog and the row counts.
  struct position;
  /// Reads the catalog and the row counts now and returns them, so that the
  /// reader can go back to them after the caller rolls back (restore()).
  [[nodiscard]] position mark();
  /// The database was rolled back to where mark() gave p: takes p as
  /// current, and follows changes from there as before.
  void restore(const position& p);
  /// How many objects the last read() read in full (the rest were unchanged).
  [[nodiscard]] std::size_t objects_read() const noexcept { return objects_read_; }
  /// How many categories (tables, indexes, ...) the last read() listed object
  /// by object to find what changed, rather than following changed rows.
  [[nodiscard]] std::size_t categories_listed() const noexcept { return categories_listed_; }

 private:
  struct table_rows {
    std::string oid;
    std::string fingerprint;
    long long rows = 0;
  };

 public:
  struct position {
    catalog cat;
    std::map<std::string, table_rows> rows;
    /// The row counts, by qualified table name.
    [[nodiscard]] std::map<std::string, long long> counts() const {
      std::map<std::string, long long> out;
      for (const auto& [name, t] : rows) out[name] = t.rows;
      return out;
    }
  };

 private:
  connection& conn_;
  std::optional<catalog> last_;
  std::optional<catalog> stored_;
  std::map<std::string, table_rows> rows_;
  std::map<std::string, table_rows> stored_rows_;
  std::set<std::string> dirty_;
  bool all_dirty_ = false;
  bool trusted_ = false;        // trust_reports(): only reported scripts change the database
  bool changes_known_ = false;  // pending_ holds every catalog changed since last_ (trusted_ only)
  std::set<std::string> pending_changed_;
  std::set<std::string> pending_deleted_;
  std::size_t objects_read_ = 0;
  std::size_t categories_listed_ = 0;
};

/// Reads the snapshot of conn's database: schemas, extensions, collations,
/// types, casts, operators, text search objects, foreign data wrappers and
/// servers, tables (columns in logical order, inheritance), constraints,
/// indexes, views, sequences, statistics objects, functions, triggers,
/// policies, rules, event triggers, publications, default privileges, with
/// owners, privileges (grantor included) and comments. No OIDs; objects
/// of extensions and of pgmt itself are left out. The same database always
/// gives the same JSON.
nlohmann::json take_snapshot(connection& conn);

/// The snapshot as pgmt writes it to a file: pretty-printed, sorted, one trailing newline.
std::string snapshot_text(const nlohmann::json& snap);

/// Exact row counts of every ordinary table, by qualified name.
std::map<std::string, long long> row_counts(connection& conn);

/// How a diff speaks of the two sides, e.g. {"missing after down", "left behind by down", "changed by
/// up/down"}.
struct diff_words {
  std::string missing;  ///< in expected, not in actual
  std::string extra;    ///< in actual, not in expected
  std::string changed;  ///< in both, different; followed by what changed
};

/// One difference between two snapshots.
struct difference {
  std::string kind;         ///< "index", "policy", "column", ...
  std::string name;         ///< qualified name
  std::string line;         ///< the whole readable line: "index public.notes_idx: missing after down"
  nlohmann::json expected;  ///< the object (or field) on the expected side, null when missing
  nlohmann::json actual;    ///< on the actual side, null when missing
};

/// What makes snap something other than a snapshot (a JSON object of object
/// kinds, each an object of objects by name, and its "format"), or "" when
/// it is one.
std::string snapshot_problem(const nlohmann::json& snap);

/// Object-by-object differences from expected to actual, in a stable order.
std::vector<difference> diff_snapshots(const nlohmann::json& expected, const nlohmann::json& actual,
                                       const diff_words& words);

/// The same differences as diff_snapshots of the two catalogs' snapshots.
std::vector<difference> diff_catalogs(const catalog& expected, const catalog& actual,
                                      const diff_words& words);

/// Writes the full material of diffs (both sides of every changed object) to
/// path; returns path.
std::filesystem::path write_diff_file(const std::filesystem::path& path, const std::string& title,
                                      const std::vector<difference>& diffs);

}  // namespace pgmt
