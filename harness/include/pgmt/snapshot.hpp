#pragma once
/// snapshot: a deterministic JSON description of a database read from
/// pg_catalog (never pg_dump), and a readable diff of two snapshots.

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace pgmt {

class connection;

/// Reads the snapshot of conn's database: schemas, extensions, types, tables
/// (columns in logical order), constraints, indexes, views, sequences,
/// functions, triggers, policies, rules, event triggers, default privileges,
/// with owners, privileges (grantor included) and comments. No OIDs; objects
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

/// Object-by-object differences from expected to actual, in a stable order.
std::vector<difference> diff_snapshots(const nlohmann::json& expected, const nlohmann::json& actual,
                                       const diff_words& words);

/// Writes the full material of diffs (both sides of every changed object) to
/// path; returns path.
std::filesystem::path write_diff_file(const std::filesystem::path& path, const std::string& title,
                                      const std::vector<difference>& diffs);

}  // namespace pgmt
