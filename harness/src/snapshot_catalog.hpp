#pragma once
// The catalog queries of snapshots: one per object kind, and the catalogs
// each kind is read from, which the incremental reader (snapshot.cpp)
// follows. Kept apart from the reader and the diff: this is the file that
// grows when a snapshot learns a new kind of object.

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace pgmt::detail {

/// SQL condition on a pg_namespace alias n: a schema of the user's (not the
/// system's, not pgmt's own).
extern const char* const user_schema;

/// SQL condition: the object (catalog, oid) is not a member of an extension.
std::string not_extension_member(const std::string& catalog, const std::string& oid);

/// One kind of object as a query: the columns give each object's name,
/// description, OID and fingerprint.
struct category {
  const char* name;
  std::string key;          ///< text: the object's name
  std::string value;        ///< jsonb: its description
  std::string from;         ///< "from ... where ...": one row per object
  std::string oid;          ///< the object's OID
  std::string fingerprint;  ///< text: versions (xmin) of the rows value is read from
};

/// Every kind of object a snapshot holds, in the snapshot's order.
const std::vector<category>& categories();

/// Where a category's objects live: their own catalog (deletions there remove
/// objects), and every catalog whose rows their descriptions are read from,
/// with the column naming the object a row belongs to (keys of
/// owner_columns, "comment:<catalog>" and "depend:<catalog>" for the objoid
/// of pg_description and pg_depend rows about objects of that catalog,
/// "rel:<catalog>" for the relation of a pg_class or pg_attribute row,
/// "list:<catalog>" for a catalog the reader cannot follow row by row: any
/// change there lists the category in full).
struct category_sources {
  const char* primary;
  std::vector<std::string> owners;
  /// Catalogs whose deleted rows may change an object and no other row of it
  /// (a comment set to NULL, OWNED BY NONE, NO INHERIT): the category is then
  /// listed in full.
  std::vector<std::string> orphaning;
};

/// The sources of every category, by category name.
const std::map<std::string, category_sources>& sources_by_category();

/// For each catalog the reader follows, the owner keys its rows give and the
/// column of the row that names the owner.
const std::map<std::string, std::vector<std::pair<std::string, std::string>>>& owner_columns();

/// For catalogs with many rows initdb made, a condition on alias x that
/// keeps the user's (OID at or past FirstNormalObjectId, 16384).
const std::map<std::string, std::string>& user_rows_only();

/// One row: what every description may name besides the objects of the
/// categories (roles, collations, operators, ...), and the read's horizon.
extern const char* const global_fingerprint_sql;

}  // namespace pgmt::detail
