#include "pgmt/snapshot.hpp"

#include "snapshot_catalog.hpp"

#include "pgmt/pg.hpp"
#include "pgmt/script.hpp"
#include "pgmt/text.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <stdexcept>

namespace fs = std::filesystem;

namespace pgmt {

namespace {

using detail::categories;
using detail::category_sources;
using detail::global_fingerprint_sql;
using detail::not_extension_member;
using detail::sources_by_category;
using detail::user_schema;

// Whether a catalog read with global fingerprint was can be carried on to a
// database whose global fingerprint is now. Roles are shared by the whole
// server, and other tests create and drop theirs all the time; a description
// names a role only through an object that depends on it, so only a renamed
// role matters: the same OID under another name.
bool globals_compatible(const std::string& was, const std::string& now) {
  if (was == now) return true;
  const std::size_t a = was.find('|'), b = now.find('|');
  if (a == std::string::npos || b == std::string::npos || was.substr(a) != now.substr(b)) return false;
  auto roles = [](const std::string& list) {
    std::map<std::string, std::string> out;
    std::size_t p = 0;
    while (p < list.size()) {
      std::size_t comma = list.find(',', p);
      if (comma == std::string::npos) comma = list.size();
      const std::string item = list.substr(p, comma - p);
      const std::size_t colon = item.find(':');
      if (colon != std::string::npos) out[item.substr(0, colon)] = item.substr(colon + 1);
      p = comma + 1;
    }
    return out;
  };
  const auto before = roles(was.substr(0, a)), after = roles(now.substr(0, b));
  for (const auto& [oid, name] : before)
    if (auto it = after.find(oid); it != after.end() && it->second != name) return false;
  return true;
}

// Names every stored catalog with the queries that made it, so a catalog
// stored by another version of pgmt is never reused.
const std::string& format_tag() {
  static const std::string tag = [] {
    std::string acc = "pgmt-catalog-3";
    for (const auto& c : categories()) acc += c.key + c.value + c.from + c.oid + c.fingerprint;
    return sha256_hex(acc + global_fingerprint_sql);
  }();
  return tag;
}

bool verify_reads() {
  const char* v = std::getenv("PGMT_VERIFY_CATALOG");
  return v && *v && std::string(v) != "0";
}

// Names inside a description that other descriptions may spell out: a
// table's or view's columns (in indexes, constraints, views, policies,
// publications), an enum's labels (in defaults and checks), a composite
// type's attributes.
std::vector<std::string> inner_names(const std::string& category, const std::string& value) {
  std::vector<std::string> out;
  if (category != "tables" && category != "types" && category != "views") return out;
  auto j = nlohmann::json::parse(value);
  for (const char* list : {"columns", "attributes"})
    if (j.contains(list) && j[list].is_array())
      for (const auto& c : j[list]) out.push_back(c["name"].get<std::string>());
  if (j.contains("labels") && j["labels"].is_array())
    for (const auto& l : j["labels"]) out.push_back(l.get<std::string>());
  return out;
}

const char* const table_list_sql =
    "select n.nspname || '.' || c.relname, c.oid::text, c.xmin::text || ':' || c.relfilenode::text "
    "from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relkind = 'r' and ";

// Counts rows of the listed tables (all when oids is null); each table is
// counted by a small query of its own through query_to_xml, which plans far
// faster than one UNION ALL of every table.
std::map<std::string, long long> count_tables(connection& conn, const std::optional<std::string>& oids) {
  std::string sql =
      std::string(
          "select n.nspname || '.' || c.relname, (xpath('/row/n/text()', query_to_xml(format("
          "'select count(*) as n from only %I.%I', n.nspname, c.relname), false, true, '')))[1]::text "
          "from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relkind = 'r' and ") +
      user_schema + " and " + not_extension_member("pg_class", "c.oid");
  result r = oids ? conn.exec_prepared(sql + " and c.oid = any($1::oid[])", {*oids}) : conn.exec_prepared(sql);
  std::map<std::string, long long> out;
  for (int i = 0; i < r.rows(); ++i) out[r.value(i, 0)] = std::stoll(r.value(i, 1));
  return out;
}

std::string oid_array(const std::vector<std::string>& oids) {
  std::string out = "{";
  for (std::size_t i = 0; i < oids.size(); ++i) out += (i ? "," : "") + oids[i];
  return out + "}";
}

// Runs f in a read-only repeatable read transaction with an empty
// search_path, which makes pg_get_*def qualify every name. Inside a
// transaction the caller has open (a check that rolls everything back), in a
// savepoint that is rolled back.
template <typename F> void in_read_transaction(connection& conn, F&& f) {
  const bool nested = conn.transaction_status() == tx_status::in_transaction;
  const char* const done = nested ? "rollback to savepoint pgmt_read; release savepoint pgmt_read" : "commit";
  conn.exec(nested ? "savepoint pgmt_read; set local search_path = ''"
                   : "begin isolation level repeatable read read only; set local search_path = ''");
  try {
    f();
    conn.exec(done);
  } catch (...) {
    try {
      conn.exec(nested ? done : "rollback");
    } catch (...) {
    }
    throw;
  }
}

// Reads the catalog; objects whose OID and fingerprint are the same as in
// prev are taken from prev. Returns nullopt when an object of prev was
// renamed (its name may appear in other objects' descriptions, whose rows did
// not change): the caller reads everything again.
// How a read that knows which catalog rows changed reads one category.
struct category_plan {
  enum class how { reuse, fetch, list } mode = how::list;
  std::set<std::string> candidates;  // fetch: OIDs of objects that own a changed row
  bool check_gone = false;           // fetch: rows of its own catalog were deleted
};

// For each catalog, the OIDs its changed rows name: key "catalog" is the
// row's own object (oid, or the owning relation/type/function for catalogs
// without one), "catalog.column" another column, "comment:<catalog>" and
// "depend:<catalog>" the objoid of pg_description and pg_depend rows about
// objects of that catalog, "rel:<catalog>" the relation a pg_class or
// pg_attribute row belongs to, for the composite types built on it.
std::map<std::string, std::set<std::string>> changed_owners(connection& conn,
                                                            const std::set<std::string>& changed,
                                                            const std::string& horizon) {
  const auto& columns = detail::owner_columns();
  std::string sql;
  auto add = [&sql](const std::string& part) { sql += (sql.empty() ? "" : " union all ") + part; };
  // The horizon's age once (an InitPlan), not once a row; each catalog
  // scanned once, whatever number of owners its rows name.
  const std::string is_new = "pg_catalog.age(x.xmin) <= (select pg_catalog.age($1::xid))";
  // Rows of objects initdb made (OIDs below FirstNormalObjectId, 16384: the
  // pg_catalog and information_schema ones) describe nothing a snapshot
  // holds: the catalogs with many such rows are read from their index past
  // them. (pg_namespace is not: the public schema is one of them.)
  const auto& user_only = detail::user_rows_only();
  for (const auto& [catalog_name, cols] : columns) {
    if (!changed.count(catalog_name)) continue;
    std::string where = is_new;
    if (auto it = user_only.find(catalog_name); it != user_only.end()) where = it->second + " and " + where;
    if (cols.size() == 1) {
      const auto& [key, column] = cols.front();
      // (As oid: pg_aggregate's aggfnoid is a regproc, whose text is a name.)
      add("select '" + key + "', x." + column + "::oid::text from pg_catalog." + catalog_name + " x where " +
          where + " and x." + column + "::oid <> 0");
      continue;
    }
    std::string values;
    for (const auto& [key, column] : cols)
      values += (values.empty() ? "" : ", ") + std::string("('") + key + "', x." + column + "::oid)";
    add("select v.k, v.o::text from pg_catalog." + catalog_name + " x, lateral (values " + values +
        ") v(k, o) where " + where + " and v.o <> 0");
  }
  if (changed.count("pg_description"))
    add("select 'comment:' || x.classoid::regclass::text, x.objoid::text from pg_catalog.pg_description x "
        "where " +
        is_new);
  if (changed.count("pg_depend"))
    add("select 'depend:' || x.classid::regclass::text, x.objid::text from pg_catalog.pg_depend x where " +
        is_new);
  std::map<std::string, std::set<std::string>> out;
  if (sql.empty()) return out;
  result r = conn.exec_prepared(sql, {horizon});
  for (int i = 0; i < r.rows(); ++i) out[r.value(i, 0)].insert(r.value(i, 1));
  return out;
}

// Plans a read from the catalogs changed since prev was read.
std::optional<std::map<std::string, category_plan>> plan_read(connection& conn, const catalog& prev,
                                                              const std::set<std::string>& changed,
                                                              const std::set<std::string>& deleted) {
  const std::string& horizon = prev.horizon;
  if (horizon.empty() || std::stoll(horizon) < 3) return std::nullopt;  // not a normal transaction ID
  auto owners = changed_owners(conn, changed, horizon);
  std::map<std::string, category_plan> plans;
  for (const auto& [name, src] : sources_by_category()) {
    category_plan& p = plans[name];
    bool touched = changed.count(src.primary) > 0, list = false;
    for (const auto& full_key : src.owners) {
      // "domain:<key>": the OIDs under key are constraints, their domains the owners.
      const std::string key = full_key.rfind("domain:", 0) == 0 ? full_key.substr(7) : full_key;
      const std::string cat = key.substr(key.find(':') == std::string::npos ? 0 : key.find(':') + 1);
      const bool hit = changed.count(cat.substr(0, cat.find('.'))) ||
                       (key.rfind("comment:", 0) == 0 && changed.count("pg_description")) ||
                       (key.rfind("depend:", 0) == 0 && changed.count("pg_depend"));
      touched = touched || hit;
      list = list || (hit && key.rfind("list:", 0) == 0);
    }
    if (!touched) {
      p.mode = category_plan::how::reuse;
      continue;
    }
    if (list || std::any_of(src.orphaning.begin(), src.orphaning.end(),
                            [&](const std::string& c) { return deleted.count(c); }))
      continue;  // listed in full
    p.mode = category_plan::how::fetch;
    p.check_gone = deleted.count(src.primary) > 0;
    std::set<std::string> relations, constraints;
    for (const auto& key : src.owners) {
      const bool domain = key.rfind("domain:", 0) == 0;
      auto it = owners.find(domain ? key.substr(7) : key);
      if (it == owners.end()) continue;
      if (key.rfind("rel:", 0) == 0)
        relations.insert(it->second.begin(), it->second.end());
      else if (domain)
        constraints.insert(it->second.begin(), it->second.end());
      else
        p.candidates.insert(it->second.begin(), it->second.end());
    }
    if (!relations.empty()) {  // composite types: the type built on a changed relation
      result r = conn.exec_prepared("select oid::text from pg_catalog.pg_type where typrelid = any($1::oid[])",
                                  {oid_array({relations.begin(), relations.end()})});
      for (int i = 0; i < r.rows(); ++i) p.candidates.insert(r.value(i, 0));
    }
    if (!constraints.empty()) {  // domains: the domain of a constraint whose comment changed
      result r = conn.exec_prepared(
          "select contypid::text from pg_catalog.pg_constraint where oid = any($1::oid[]) and contypid <> 0",
          {oid_array({constraints.begin(), constraints.end()})});
      for (int i = 0; i < r.rows(); ++i) p.candidates.insert(r.value(i, 0));
    }
  }
  return plans;
}

// Reads the catalog; objects whose OID and fingerprint are the same as in
// prev are taken from prev (or, with plans, objects that own no changed
// row). Returns nullopt when an object of prev was renamed (its name may
// appear in other objects' descriptions, whose rows did not change): the
// caller reads everything again.
// With plans, the objects taken over are moved out of prev, which is left
// unusable.
std::optional<catalog> read_objects(connection& conn, catalog* prev, const std::string& global,
                                    std::size_t* fetched = nullptr,
                                    const std::map<std::string, category_plan>* plans = nullptr,
                                    std::size_t* listed = nullptr) {
  catalog out;
  if (fetched) *fetched = 0;
  if (listed) *listed = 0;
  out.global = global;
  for (const auto& cat : categories()) {
    auto& objects = out.objects[cat.name];
    const std::string full = "select " + cat.key + ", " + cat.oid + "::text, " + cat.fingerprint + ", (" +
                             cat.value + ")::text " + cat.from;
    std::map<std::string, catalog::object>* before = nullptr;
    std::map<std::string, catalog::object> none;
    if (prev) {
      auto it = prev->objects.find(cat.name);
      before = it == prev->objects.end() ? &none : &it->second;
    }
    if (!before) {
      result r = conn.exec_prepared(full);
      for (int i = 0; i < r.rows(); ++i)
        objects[r.value(i, 0)] = {r.value(i, 1), r.value(i, 2), r.value(i, 3)};
      if (fetched) *fetched += static_cast<std::size_t>(r.rows());
      continue;
    }
    // The list names no object: an unchanged OID and fingerprint mean an
    // unchanged name too (a renamed schema or type shows in its own
    // category first, and a renamed table changes its row).
    std::map<std::string, const std::pair<const std::string, catalog::object>*> by_oid;
    for (const auto& entry : *before) by_oid[entry.second.oid] = &entry;
    const category_plan* plan = nullptr;
    if (plans)
      if (auto it = plans->find(cat.name); it != plans->end()) plan = &it->second;
    std::vector<std::string> wanted;
    if (plan && plan->mode == category_plan::how::reuse) {
      objects = std::move(*before);
      continue;
    } else if (plan && plan->mode == category_plan::how::fetch) {
      std::set<std::string> gone;
      if (plan->check_gone) {
        std::vector<std::string> all;
        for (const auto& [oid, entry] : by_oid) all.push_back(oid);
        result r = conn.exec_prepared("select x::text from unnest($1::oid[]) x where not exists (select from " +
                                        std::string("pg_catalog.") +
                                        sources_by_category().at(cat.name).primary + " c where c.oid = x)",
                                    {oid_array(all)});
        for (int i = 0; i < r.rows(); ++i) gone.insert(r.value(i, 0));
      }
      for (auto& [name, o] : *before)
        // Moved: only candidates' entries are looked at below.
        if (!gone.count(o.oid) && !plan->candidates.count(o.oid)) objects.emplace(name, std::move(o));
      wanted.assign(plan->candidates.begin(), plan->candidates.end());
    } else {
      if (listed) ++*listed;
      result list = conn.exec_prepared("select " + cat.oid + "::text, " + cat.fingerprint + " " + cat.from);
      for (int i = 0; i < list.rows(); ++i) {
        const std::string oid = list.value(i, 0), fp = list.value(i, 1);
        auto it = by_oid.find(oid);
        if (it != by_oid.end() && it->second->second.fingerprint == fp)
          objects.insert(*it->second);
        else
          wanted.push_back(oid);
      }
    }
    // Only extensions move what other descriptions name without a rename.
    if (std::string(cat.name) == "extensions" && (!wanted.empty() || objects.size() != before->size()))
      return std::nullopt;
    if (wanted.empty()) continue;
    result r = conn.exec_prepared(full + " and " + cat.oid + " = any($1::oid[])", {oid_array(wanted)});
    if (fetched) *fetched += static_cast<std::size_t>(r.rows());
    for (int i = 0; i < r.rows(); ++i) {
      const std::string name = r.value(i, 0);
      catalog::object o{r.value(i, 1), r.value(i, 2), r.value(i, 3)};
      if (auto it = by_oid.find(o.oid); it != by_oid.end()) {
        // A renamed object is named in other descriptions whose rows did not change.
        if (it->second->first != name) return std::nullopt;
        // So is a renamed column, enum label or attribute: a name gone and
        // a new one in its place. A name only gone (a dropped column) or
        // only new (an added one) renames nothing.
        auto was = inner_names(cat.name, it->second->second.value), now = inner_names(cat.name, o.value);
        std::set<std::string> was_set(was.begin(), was.end()), now_set(now.begin(), now.end());
        const bool gone = std::any_of(was.begin(), was.end(), [&](const auto& c) { return !now_set.count(c); });
        const bool added = std::any_of(now.begin(), now.end(), [&](const auto& c) { return !was_set.count(c); });
        if (gone && added) return std::nullopt;
      }
      objects[name] = std::move(o);
    }
  }
  return out;
}

bool same_objects(const catalog& a, const catalog& b, std::string& where) {
  for (const auto& [cat, objects] : a.objects) {
    auto it = b.objects.find(cat);
    for (const auto& [name, o] : objects) {
      if (it == b.objects.end() || !it->second.count(name)) {
        where = cat + " " + name + " (only in the first)";
        return false;
      }
      if (it->second.at(name).value != o.value) {
        where = cat + " " + name + ": " + o.value + " against " + it->second.at(name).value;
        return false;
      }
    }
    if (it != b.objects.end() && it->second.size() != objects.size()) {
      where = cat + " (the second has more objects)";
      return false;
    }
  }
  return true;
}

}  // namespace

nlohmann::json catalog::snapshot() const {
  nlohmann::json snap = nlohmann::json::object();
  snap["format"] = snapshot_format;
  for (const auto& cat : categories()) {
    nlohmann::json objs = nlohmann::json::object();
    if (auto it = objects.find(cat.name); it != objects.end())
      for (const auto& [name, o] : it->second) objs[name] = nlohmann::json::parse(o.value);
    snap[cat.name] = std::move(objs);
  }
  return snap;
}

catalog read_catalog(connection& conn) {
  catalog out;
  in_read_transaction(conn, [&] {
    result g = conn.exec_prepared(global_fingerprint_sql);
    out = *read_objects(conn, nullptr, g.value(0, 0));
    out.horizon = g.value(0, 1);
  });
  return out;
}

nlohmann::json take_snapshot(connection& conn) { return read_catalog(conn).snapshot(); }

std::string snapshot_text(const nlohmann::json& snap) { return snap.dump(2) + "\n"; }

std::map<std::string, long long> row_counts(connection& conn) { return count_tables(conn, std::nullopt); }

catalog_reader::catalog_reader(connection& conn) : conn_(conn) {
  result has = conn_.exec("select to_regclass('pgmt.catalog_cache') is not null");
  if (has.value(0, 0) != "t") return;
  result r = conn_.exec("select kind, name, oid, fingerprint, value from pgmt.catalog_cache");
  catalog stored_catalog;
  std::map<std::string, table_rows> stored_rows;
  bool format_ok = false;
  for (int i = 0; i < r.rows(); ++i) {
    const std::string kind = r.value(i, 0), name = r.value(i, 1);
    if (kind == "format") {
      format_ok = r.value(i, 4) == format_tag();
    } else if (kind == "global") {
      stored_catalog.global = r.value(i, 4);
    } else if (kind == "horizon") {
      stored_catalog.horizon = r.value(i, 4);
    } else if (kind == "rows") {
      stored_rows[name] = {r.value(i, 2), r.value(i, 3), std::stoll(r.value(i, 4))};
    } else {
      stored_catalog.objects[kind][name] = {r.value(i, 2), r.value(i, 3), r.value(i, 4)};
    }
  }
  if (!format_ok) return;
  last_ = stored_catalog;
  stored_ = std::move(stored_catalog);
  rows_ = stored_rows;
  stored_rows_ = std::move(stored_rows);
}

const catalog& catalog_reader::read() {
  in_read_transaction(conn_, [&] {
    result g = conn_.exec_prepared(global_fingerprint_sql);
    const std::string global = g.value(0, 0);
    std::optional<catalog> now;
    // Roles and the like are shared with every other database of the server:
    // checked every time, even when no script here changed anything.
    const bool follow = trusted_ && changes_known_ && last_ && globals_compatible(last_->global, global);
    bool consumed = false;  // last_ was moved from
    if (follow && pending_changed_.empty()) {
      objects_read_ = 0;
      categories_listed_ = 0;
      if (verify_reads()) {
        catalog full = *read_objects(conn_, nullptr, global);
        std::string where;
        if (!same_objects(full, *last_, where) || !same_objects(*last_, full, where))
          throw std::logic_error("pgmt: a catalog taken as unchanged differs from a full read at " + where);
      }
      last_->horizon = g.value(0, 1);
      last_->global = global;
      return;
    } else if (follow) {
      if (auto plans = plan_read(conn_, *last_, pending_changed_, pending_deleted_)) {
        now = read_objects(conn_, &*last_, global, &objects_read_, &*plans, &categories_listed_);
        consumed = true;  // failing here (a rename), a listing would fail too: read everything
      }
    }
    if (!now && !consumed && last_ && globals_compatible(last_->global, global))
      now = read_objects(conn_, &*last_, global, &objects_read_, nullptr, &categories_listed_);
    const bool incremental = now.has_value();
    if (!now) {
      now = read_objects(conn_, nullptr, global, &objects_read_);
      categories_listed_ = categories().size();
    }
    if (incremental && verify_reads()) {
      catalog full = *read_objects(conn_, nullptr, global);
      std::string where;
      if (!same_objects(full, *now, where) || !same_objects(*now, full, where))
        throw std::logic_error("pgmt: a catalog read of changes only differs from a full read at " + where);
    }
    now->horizon = g.value(0, 1);
    last_ = std::move(now);
    changes_known_ = trusted_;
    pending_changed_.clear();
    pending_deleted_.clear();
  });
  return *last_;
}

void catalog_reader::trust_reports() {
  trusted_ = true;
  // What the state stored is its catalog: nothing ran on the clone yet.
  if (stored_ && last_ && !changes_known_) changes_known_ = true;
}

void catalog_reader::wrote(const run_stats& stats) {
  const bool known = changes_known_ && stats.catalogs.has_value();
  wrote(stats.written);
  changes_known_ = known;
  if (known) {
    pending_changed_.insert(stats.catalogs->changed.begin(), stats.catalogs->changed.end());
    pending_deleted_.insert(stats.catalogs->deleted.begin(), stats.catalogs->deleted.end());
  }
}

void catalog_reader::wrote(const std::optional<std::vector<std::string>>& tables) {
  changes_known_ = false;
  if (!tables) {
    all_dirty_ = true;
    return;
  }
  dirty_.insert(tables->begin(), tables->end());
}

std::map<std::string, long long> catalog_reader::counts() {
  std::map<std::string, table_rows> now;
  in_read_transaction(conn_, [&] {
    result list = conn_.exec_prepared(std::string(table_list_sql) + user_schema + " and " +
                             not_extension_member("pg_class", "c.oid"));
    std::vector<std::string> wanted;
    for (int i = 0; i < list.rows(); ++i) {
      const std::string name = list.value(i, 0);
      table_rows t{list.value(i, 1), list.value(i, 2), 0};
      auto it = rows_.find(name);
      if (!all_dirty_ && !dirty_.count(name) && it != rows_.end() && it->second.oid == t.oid &&
          it->second.fingerprint == t.fingerprint)
        t.rows = it->second.rows;
      else
        wanted.push_back(t.oid);
      now[name] = t;
    }
    if (!wanted.empty())
      for (const auto& [name, n] : count_tables(conn_, oid_array(wanted)))
        if (auto it = now.find(name); it != now.end()) it->second.rows = n;
    if (verify_reads()) {
      auto full = count_tables(conn_, std::nullopt);
      for (const auto& [name, t] : now)
        if (!full.count(name) || full[name] != t.rows)
          throw std::logic_error("pgmt: a row count of changes only differs from a full count for " + name);
    }
  });
  rows_ = std::move(now);
  dirty_.clear();
  all_dirty_ = false;
  std::map<std::string, long long> out;
  for (const auto& [name, t] : rows_) out[name] = t.rows;
  return out;
}

catalog_reader::position catalog_reader::mark() {
  read();
  counts();
  return {*last_, rows_};
}

void catalog_reader::restore(const position& p) {
  last_ = p.cat;
  rows_ = p.rows;
  dirty_.clear();
  all_dirty_ = false;
  changes_known_ = trusted_;
  pending_changed_.clear();
  pending_deleted_.clear();
}

void catalog_reader::store() {
  // Always read: last_ may be the catalog this reader started from, from before
  // the scripts that ran since (a state stores its own catalog, not its parent's).
  read();
  if (rows_.empty() || all_dirty_ || !dirty_.empty()) counts();
  // Only what changed since what is stored: a state is one migration away from the one it was cloned from.
  nlohmann::json drop = nlohmann::json::array(), put = nlohmann::json::array();
  auto stored_value = [&](const std::string& kind, const std::string& name) -> const catalog::object* {
    if (!stored_) return nullptr;
    auto c = stored_->objects.find(kind);
    if (c == stored_->objects.end()) return nullptr;
    auto o = c->second.find(name);
    return o == c->second.end() ? nullptr : &o->second;
  };
  if (stored_)
    for (const auto& [kind, objects] : stored_->objects)
      for (const auto& [name, o] : objects) {
        auto c = last_->objects.find(kind);
        if (c == last_->objects.end() || !c->second.count(name)) drop.push_back({kind, name});
      }
  for (const auto& [kind, objects] : last_->objects)
    for (const auto& [name, o] : objects) {
      const catalog::object* s = stored_value(kind, name);
      if (!s || s->oid != o.oid || s->fingerprint != o.fingerprint || s->value != o.value)
        put.push_back({kind, name, o.oid, o.fingerprint, o.value});
    }
  for (const auto& [name, t] : stored_rows_)
    if (!rows_.count(name)) drop.push_back({"rows", name});
  for (const auto& [name, t] : rows_) {
    auto s = stored_rows_.find(name);
    if (s == stored_rows_.end() || s->second.oid != t.oid || s->second.fingerprint != t.fingerprint ||
        s->second.rows != t.rows)
      put.push_back({"rows", name, t.oid, t.fingerprint, std::to_string(t.rows)});
  }
  if (!stored_) {
    put.push_back({"format", "", "0", "", format_tag()});
    put.push_back({"global", "", "0", "", last_->global});
  } else if (stored_->global != last_->global) {
    put.push_back({"global", "", "0", "", last_->global});
  }
  if (!stored_ || stored_->horizon != last_->horizon) put.push_back({"horizon", "", "0", "", last_->horizon});
  conn_.exec("begin");
  try {
    if (!stored_) {
      conn_.exec(
          "create table if not exists pgmt.catalog_cache (kind text, name text, oid oid, fingerprint text, "
          "value text, primary key (kind, name));"
          "truncate pgmt.catalog_cache");
    }
    if (!drop.empty())
      conn_.exec_params(
          "delete from pgmt.catalog_cache c using jsonb_array_elements($1::jsonb) d "
          "where c.kind = d->>0 and c.name = d->>1",
          {drop.dump()});
    if (!put.empty())
      conn_.exec_params(
          "insert into pgmt.catalog_cache select d->>0, d->>1, (d->>2)::oid, d->>3, d->>4 "
          "from jsonb_array_elements($1::jsonb) d on conflict (kind, name) do update set oid = excluded.oid, "
          "fingerprint = excluded.fingerprint, value = excluded.value",
          {put.dump()});
    conn_.exec("commit");
  } catch (...) {
    try {
      conn_.exec("rollback");
    } catch (...) {
    }
    throw;
  }
  stored_ = last_;
  stored_rows_ = rows_;
}

std::vector<difference> diff_catalogs(const catalog& expected, const catalog& actual,
                                      const diff_words& words) {
  // Only the objects whose text differs are parsed; the diff is that of the two snapshots.
  nlohmann::json a = nlohmann::json::object(), b = nlohmann::json::object();
  static const std::map<std::string, catalog::object> none;
  std::set<std::string> kinds;
  for (const auto& [k, v] : expected.objects) kinds.insert(k);
  for (const auto& [k, v] : actual.objects) kinds.insert(k);
  for (const auto& kind : kinds) {
    auto ei = expected.objects.find(kind);
    auto ai = actual.objects.find(kind);
    const auto& x = ei == expected.objects.end() ? none : ei->second;
    const auto& y = ai == actual.objects.end() ? none : ai->second;
    for (const auto& [name, o] : x) {
      auto it = y.find(name);
      if (it == y.end()) {
        a[kind][name] = nlohmann::json::parse(o.value);
      } else if (it->second.value != o.value) {
        a[kind][name] = nlohmann::json::parse(o.value);
        b[kind][name] = nlohmann::json::parse(it->second.value);
      }
    }
    for (const auto& [name, o] : y)
      if (!x.count(name)) b[kind][name] = nlohmann::json::parse(o.value);
  }
  return diff_snapshots(a, b, words);
}

// ---- diff ----

namespace {

// "indexes" -> "index" for lines.
std::string singular(const std::string& category) {
  static const std::map<std::string, std::string> names = {{"schemas", "schema"},
                                                           {"extensions", "extension"},
                                                           {"types", "type"},
                                                           {"tables", "table"},
                                                           {"constraints", "constraint"},
                                                           {"indexes", "index"},
                                                           {"views", "view"},
                                                           {"sequences", "sequence"},
                                                           {"functions", "function"},
                                                           {"triggers", "trigger"},
                                                           {"policies", "policy"},
                                                           {"rules", "rule"},
                                                           {"event_triggers", "event trigger"},
                                                           {"default_privileges", "default privileges for"},
                                                           {"collations", "collation"},
                                                           {"casts", "cast"},
                                                           {"operators", "operator"},
                                                           {"operator_families", "operator family"},
                                                           {"operator_classes", "operator class"},
                                                           {"languages", "language"},
                                                           {"text_search_configurations",
                                                            "text search configuration"},
                                                           {"text_search_dictionaries", "text search dictionary"},
                                                           {"statistics", "statistics object"},
                                                           {"publications", "publication"},
                                                           {"foreign_data_wrappers", "foreign data wrapper"},
                                                           {"foreign_servers", "server"}};
  auto it = names.find(category);
  return it == names.end() ? category : it->second;
}

// How a field is named in a line.
std::string field_label(const std::string& f) {
  static const std::map<std::string, std::string> labels = {
      {"using", "USING"},
      {"with_check", "WITH CHECK"},
      {"not_null", "NOT NULL"},
      {"rls_enabled", "row level security"},
      {"rls_forced", "FORCE ROW LEVEL SECURITY"},
      {"security_definer", "SECURITY DEFINER"},
      {"settings", "settings (SET ...)"},
      {"inherits", "INHERITS"},
      {"local", "defined locally"},
      {"inherited", "number of parents it is inherited from"},
      {"replica_identity", "REPLICA IDENTITY"},
      {"clustered_on", "CLUSTER ON"},
  };
  auto it = labels.find(f);
  return it == labels.end() ? f : it->second;
}

std::string show(const nlohmann::json& v) {
  if (v.is_null()) return "none";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array() && std::all_of(v.begin(), v.end(), [](const auto& e) { return e.is_string(); })) {
    std::string out = "[";
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + v[i].get<std::string>();
    return out + "]";
  }
  return v.dump();
}

// Privileges as "grantee: PRIVILEGE (by grantor)" strings, for set differences.
std::set<std::string> privilege_set(const nlohmann::json& v) {
  std::set<std::string> out;
  if (!v.is_array()) return out;
  for (const auto& p : v)
    out.insert(p.value("grantee", "?") + " " + p.value("privilege", "?") +
               (p.value("grantable", false) ? " WITH GRANT OPTION" : "") + " (granted by " +
               p.value("grantor", "?") + ")");
  return out;
}

void field_diffs(const std::string& kind, const std::string& name, const nlohmann::json& a,
                 const nlohmann::json& b, const diff_words& w, std::vector<difference>& out) {
  std::set<std::string> fields;
  for (const auto& [k, v] : a.items()) fields.insert(k);
  for (const auto& [k, v] : b.items()) fields.insert(k);
  const std::string head = kind + " " + name + ": ";
  for (const auto& f : fields) {
    const nlohmann::json& x = a.contains(f) ? a[f] : nlohmann::json();
    const nlohmann::json& y = b.contains(f) ? b[f] : nlohmann::json();
    if (x == y) continue;
    if (f == "columns") {
      // Columns by name, then their order.
      std::vector<std::string> xo, yo;
      std::map<std::string, nlohmann::json> xm, ym;
      for (const auto& c : x) xo.push_back(c["name"]), xm[c["name"]] = c;
      for (const auto& c : y) yo.push_back(c["name"]), ym[c["name"]] = c;
      for (const auto& n : xo)
        if (!ym.count(n))
          out.push_back({"column", name + "." + n, "column " + name + "." + n + ": " + w.missing, xm[n], {}});
      for (const auto& n : yo)
        if (!xm.count(n))
          out.push_back({"column", name + "." + n, "column " + name + "." + n + ": " + w.extra, {}, ym[n]});
      for (const auto& n : xo)
        if (ym.count(n) && xm[n] != ym[n]) field_diffs("column", name + "." + n, xm[n], ym[n], w, out);
      std::vector<std::string> xc, yc;
      for (const auto& n : xo)
        if (ym.count(n)) xc.push_back(n);
      for (const auto& n : yo)
        if (xm.count(n)) yc.push_back(n);
      if (xc != yc)
        out.push_back({"table", name,
                       head + "column order " + w.changed + " from " + show(nlohmann::json(xc)) + " to " +
                           show(nlohmann::json(yc)),
                       x, y});
    } else if (f == "privileges") {
      auto xs = privilege_set(x), ys = privilege_set(y);
      for (const auto& p : xs)
        if (!ys.count(p)) out.push_back({kind, name, head + "privilege " + p + " " + w.missing, x, y});
      for (const auto& p : ys)
        if (!xs.count(p)) out.push_back({kind, name, head + "privilege " + p + " " + w.extra, x, y});
    } else {
      std::string sx = show(x), sy = show(y);
      std::string line = head + field_label(f) + " " + w.changed;
      if (sx.size() + sy.size() <= 160 && sx.find('\n') == std::string::npos &&
          sy.find('\n') == std::string::npos)
        line += " from " + sx + " to " + sy;
      else
        line += " (both versions in the diff file)";
      out.push_back({kind, name, line, x, y});
    }
  }
}

}  // namespace

std::string snapshot_problem(const nlohmann::json& snap) {
  auto kind_of = [](const nlohmann::json& v) -> std::string {
    if (v.is_array()) return "an array";
    if (v.is_string()) return "a string";
    if (v.is_number()) return "a number";
    if (v.is_boolean()) return "a boolean";
    if (v.is_null()) return "null";
    return "an object";
  };
  if (!snap.is_object())
    return "expected a JSON object of object kinds (\"tables\": {...}), found " + kind_of(snap);
  for (const auto& [k, v] : snap.items()) {
    if (k == "format") {
      if (!v.is_string() || v.get<std::string>().rfind("pgmt-snapshot-", 0) != 0)
        return "\"format\" is " + (v.is_string() ? "\"" + v.get<std::string>() + "\"" : kind_of(v)) +
               ", not a pgmt snapshot format (\"" + snapshot_format + "\")";
      continue;
    }
    if (!v.is_object()) return "\"" + k + "\" is " + kind_of(v) + ", not an object of " + k + " by name";
    for (const auto& [name, o] : v.items())
      if (!o.is_object()) return "\"" + k + "\".\"" + name + "\" is " + kind_of(o) + ", not an object";
  }
  return "";
}

std::vector<difference> diff_snapshots(const nlohmann::json& expected, const nlohmann::json& actual,
                                       const diff_words& w) {
  std::vector<difference> out;
  std::set<std::string> cats;
  for (const auto& [k, v] : expected.items())
    if (v.is_object()) cats.insert(k);
  for (const auto& [k, v] : actual.items())
    if (v.is_object()) cats.insert(k);
  // Containers before what they contain, so the first line names the cause.
  static const std::vector<std::string> order = {"schemas",
                                                 "extensions",
                                                 "collations",
                                                 "types",
                                                 "casts",
                                                 "operators",
                                                 "operator_families",
                                                 "operator_classes",
                                                 "text_search_dictionaries",
                                                 "text_search_configurations",
                                                 "foreign_data_wrappers",
                                                 "foreign_servers",
                                                 "tables",
                                                 "columns",
                                                 "constraints",
                                                 "indexes",
                                                 "views",
                                                 "sequences",
                                                 "statistics",
                                                 "languages",
                                                 "functions",
                                                 "triggers",
                                                 "policies",
                                                 "rules",
                                                 "event_triggers",
                                                 "publications",
                                                 "default_privileges"};
  std::vector<std::string> ordered;
  for (const auto& c : order)
    if (cats.count(c)) ordered.push_back(c);
  for (const auto& c : cats)
    if (std::find(order.begin(), order.end(), c) == order.end()) ordered.push_back(c);

  static const nlohmann::json empty = nlohmann::json::object();
  for (const auto& cat : ordered) {
    const auto& a = expected.contains(cat) ? expected[cat] : empty;
    const auto& b = actual.contains(cat) ? actual[cat] : empty;
    const std::string kind = singular(cat);
    for (const auto& [name, obj] : a.items()) {
      if (!b.contains(name)) {
        out.push_back({kind, name, kind + " " + name + ": " + w.missing, obj, {}});
      } else if (b[name] != obj) {
        field_diffs(kind, name, obj, b[name], w, out);
      }
    }
    for (const auto& [name, obj] : b.items())
      if (!a.contains(name)) out.push_back({kind, name, kind + " " + name + ": " + w.extra, {}, obj});
  }
  return out;
}

fs::path write_diff_file(const fs::path& path, const std::string& title,
                         const std::vector<difference>& diffs) {
  std::error_code ec;
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
  std::ofstream out(path);
  out << title << "\n\n";
  for (const auto& d : diffs) {
    out << d.line << "\n";
    out << "  expected: " << (d.expected.is_null() ? "(none)" : d.expected.dump(2)) << "\n";
    out << "  actual:   " << (d.actual.is_null() ? "(none)" : d.actual.dump(2)) << "\n\n";
  }
  return path;
}

}  // namespace pgmt
