#include "pgmt/snapshot.hpp"

#include "pgmt/pg.hpp"

#include <algorithm>
#include <fstream>
#include <set>

namespace fs = std::filesystem;

namespace pgmt {

namespace {

// Schemas that are not the user's: the system's and pgmt's own.
const char* const user_schema =
    "n.nspname not in ('pg_catalog', 'information_schema', 'pgmt') and n.nspname not like 'pg\\_toast%' "
    "and n.nspname not like 'pg\\_temp\\_%'";

// Not a member of an extension (the extension itself is listed instead).
std::string not_extension_member(const std::string& catalog, const std::string& oid) {
  return "not exists (select 1 from pg_depend dep where dep.classid = '" + catalog +
         "'::regclass and dep.objid = " + oid + " and dep.deptype = 'e')";
}

// An ACL as a sorted JSON array; NULL (the built-in default) is spelled out
// with acldefault so that "granted then revoked" equals "never granted".
std::string acl(const std::string& expr, const std::string& default_kind = "",
                const std::string& owner = "") {
  std::string value = default_kind.empty()
                          ? expr
                          : "coalesce(" + expr + ", acldefault('" + default_kind + "', " + owner + "))";
  return "(select coalesce(jsonb_agg(jsonb_build_object("
         "'grantee', case when a.grantee = 0 then 'PUBLIC' else pg_get_userbyid(a.grantee) end, "
         "'privilege', a.privilege_type, 'grantable', a.is_grantable, 'grantor', pg_get_userbyid(a.grantor)) "
         "order by case when a.grantee = 0 then 'PUBLIC' else pg_get_userbyid(a.grantee) end, "
         "a.privilege_type, "
         "pg_get_userbyid(a.grantor)), '[]'::jsonb) from aclexplode(" +
         value + ") a)";
}

struct category {
  const char* name;
  std::string sql;  // returns (key text, value jsonb), one row per object
};

std::vector<category> categories() {
  const std::string us = user_schema;
  return {
      {"schemas",
       "select n.nspname, jsonb_build_object('owner', pg_get_userbyid(n.nspowner), 'comment', "
       "obj_description(n.oid, 'pg_namespace'), 'privileges', " +
           acl("n.nspacl", "n", "n.nspowner") + ") from pg_namespace n where " + us + " and " +
           not_extension_member("pg_namespace", "n.oid")},
      {"extensions",
       "select e.extname, jsonb_build_object('schema', n.nspname, 'version', e.extversion) "
       "from pg_extension e join pg_namespace n on n.oid = e.extnamespace"},
      {"types",
       "select n.nspname || '.' || t.typname, case t.typtype "
       "when 'e' then jsonb_build_object('kind', 'enum', 'labels', (select jsonb_agg(e.enumlabel order by "
       "e.enumsortorder) from pg_enum e where e.enumtypid = t.oid)) "
       "when 'd' then jsonb_build_object('kind', 'domain', 'base', format_type(t.typbasetype, t.typtypmod), "
       "'not_null', t.typnotnull, 'default', t.typdefault, 'checks', (select "
       "coalesce(jsonb_agg(jsonb_build_object("
       "'name', c.conname, 'definition', pg_get_constraintdef(c.oid)) order by c.conname), '[]'::jsonb) "
       "from pg_constraint c where c.contypid = t.oid)) "
       "when 'c' then jsonb_build_object('kind', 'composite', 'attributes', (select "
       "jsonb_agg(jsonb_build_object("
       "'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod)) order by a.attnum) from "
       "pg_attribute a "
       "where a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped)) "
       "when 'r' then jsonb_build_object('kind', 'range', 'subtype', (select format_type(r.rngsubtype, null) "
       "from pg_range r where r.rngtypid = t.oid)) end "
       "|| jsonb_build_object('owner', pg_get_userbyid(t.typowner), 'comment', obj_description(t.oid, "
       "'pg_type'), "
       "'privileges', " +
           acl("t.typacl", "T", "t.typowner") +
           ") from pg_type t join pg_namespace n on n.oid = t.typnamespace "
           "left join pg_class rc on rc.oid = t.typrelid "
           "where t.typtype in ('e', 'd', 'c', 'r') and (t.typtype <> 'c' or rc.relkind = 'c') and " +
           us + " and " + not_extension_member("pg_type", "t.oid")},
      {"tables",
       "select n.nspname || '.' || c.relname, jsonb_build_object("
       "'kind', case c.relkind when 'r' then 'table' when 'p' then 'partitioned table' else 'foreign table' "
       "end, "
       "'unlogged', c.relpersistence = 'u', "
       "'owner', pg_get_userbyid(c.relowner), "
       "'rls_enabled', c.relrowsecurity, 'rls_forced', c.relforcerowsecurity, "
       "'partition_of', (select pn.nspname || '.' || p.relname from pg_inherits i join pg_class p on p.oid = "
       "i.inhparent join pg_namespace pn on pn.oid = p.relnamespace where i.inhrelid = c.oid and "
       "c.relispartition), "
       "'partition_bound', pg_get_expr(c.relpartbound, c.oid), "
       "'options', to_jsonb(c.reloptions), "
       "'comment', obj_description(c.oid, 'pg_class'), "
       "'privileges', " +
           acl("c.relacl", "r", "c.relowner") +
           ", "
           "'columns', (select coalesce(jsonb_agg(jsonb_build_object("
           "'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'not_null', a.attnotnull, "
           "'default', case when a.attgenerated = '' then pg_get_expr(d.adbin, d.adrelid) end, "
           "'generated', case when a.attgenerated <> '' then pg_get_expr(d.adbin, d.adrelid) end, "
           "'identity', case a.attidentity when 'a' then 'always' when 'd' then 'by default' end, "
           "'collation', case when a.attcollation <> ty.typcollation then co.collname end, "
           "'comment', col_description(c.oid, a.attnum), "
           "'privileges', case when a.attacl is not null then " +
           acl("a.attacl") +
           " end) order by a.attnum), '[]'::jsonb) "
           "from pg_attribute a join pg_type ty on ty.oid = a.atttypid "
           "left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum "
           "left join pg_collation co on co.oid = a.attcollation "
           "where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped)) "
           "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
           "where c.relkind in ('r', 'p', 'f') and " +
           us + " and " + not_extension_member("pg_class", "c.oid")},
      {"constraints",
       "select n.nspname || '.' || c.relname || '.' || k.conname, jsonb_build_object("
       "'type', case k.contype when 'p' then 'primary key' when 'u' then 'unique' when 'f' then 'foreign "
       "key' "
       "when 'c' then 'check' when 'x' then 'exclusion' when 't' then 'trigger' else k.contype::text end, "
       "'definition', pg_get_constraintdef(k.oid), 'validated', k.convalidated, "
       "'comment', obj_description(k.oid, 'pg_constraint')) "
       "from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = "
       "c.relnamespace "
       "where k.contype <> 'n' and " +
           us + " and " + not_extension_member("pg_class", "c.oid")},
      {"indexes",
       "select n.nspname || '.' || ic.relname, jsonb_build_object("
       "'table', n.nspname || '.' || c.relname, 'definition', pg_get_indexdef(i.indexrelid), "
       "'valid', i.indisvalid, 'comment', obj_description(ic.oid, 'pg_class')) "
       "from pg_index i join pg_class ic on ic.oid = i.indexrelid join pg_class c on c.oid = i.indrelid "
       "join pg_namespace n on n.oid = ic.relnamespace "
       "where not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid and k.contype in "
       "('p', 'u', "
       "'x') and k.conrelid = i.indrelid) and c.relkind <> 't' and " +
           us + " and " + not_extension_member("pg_class", "c.oid")},
      {"views",
       "select n.nspname || '.' || c.relname, jsonb_build_object("
       "'kind', case c.relkind when 'v' then 'view' else 'materialized view' end, "
       "'definition', pg_get_viewdef(c.oid, true), 'options', to_jsonb(c.reloptions), "
       "'owner', pg_get_userbyid(c.relowner), 'comment', obj_description(c.oid, 'pg_class'), "
       "'privileges', " +
           acl("c.relacl", "r", "c.relowner") +
           ") from pg_class c join pg_namespace n on n.oid = c.relnamespace "
           "where c.relkind in ('v', 'm') and " +
           us + " and " + not_extension_member("pg_class", "c.oid")},
      {"sequences",
       "select n.nspname || '.' || c.relname, jsonb_build_object("
       "'type', format_type(s.seqtypid, null), 'start', s.seqstart, 'increment', s.seqincrement, "
       "'min', s.seqmin, 'max', s.seqmax, 'cache', s.seqcache, 'cycle', s.seqcycle, "
       "'owned_by', (select tn.nspname || '.' || t.relname || '.' || a.attname from pg_depend d "
       "join pg_class t on t.oid = d.refobjid join pg_namespace tn on tn.oid = t.relnamespace "
       "join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid "
       "where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.refclassid = 'pg_class'::regclass "
       "and d.deptype in ('a', 'i') limit 1), "
       "'owner', pg_get_userbyid(c.relowner), 'comment', obj_description(c.oid, 'pg_class'), "
       "'privileges', " +
           acl("c.relacl", "s", "c.relowner") +
           ") from pg_class c join pg_sequence s on s.seqrelid = c.oid "
           "join pg_namespace n on n.oid = c.relnamespace where " +
           us + " and " + not_extension_member("pg_class", "c.oid")},
      {"functions",
       "select n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', "
       "jsonb_build_object("
       "'kind', case p.prokind when 'f' then 'function' when 'p' then 'procedure' when 'a' then 'aggregate' "
       "else 'window function' end, "
       "'arguments', pg_get_function_arguments(p.oid), 'returns', pg_get_function_result(p.oid), "
       "'language', l.lanname, 'body', case when p.prokind <> 'a' then p.prosrc end, "
       "'aggregate', (select jsonb_build_object('sfunc', ag.aggtransfn::regproc::text, 'stype', "
       "format_type(ag.aggtranstype, null), 'finalfunc', nullif(ag.aggfinalfn::regproc::text, '-'), "
       "'initcond', ag.agginitval) from pg_aggregate ag where ag.aggfnoid = p.oid), "
       "'security_definer', p.prosecdef, "
       "'volatility', case p.provolatile when 'i' then 'immutable' when 's' then 'stable' else 'volatile' "
       "end, "
       "'strict', p.proisstrict, "
       "'parallel', case p.proparallel when 's' then 'safe' when 'r' then 'restricted' else 'unsafe' end, "
       "'leakproof', p.proleakproof, "
       "'settings', (select coalesce(jsonb_agg(s order by s), '[]'::jsonb) from unnest(p.proconfig) s), "
       "'owner', pg_get_userbyid(p.proowner), 'comment', obj_description(p.oid, 'pg_proc'), "
       "'privileges', " +
           acl("p.proacl", "f", "p.proowner") +
           ") from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
           "join pg_language l on l.oid = p.prolang where " +
           us + " and " + not_extension_member("pg_proc", "p.oid")},
      {"triggers",
       "select n.nspname || '.' || c.relname || '.' || t.tgname, jsonb_build_object("
       "'definition', pg_get_triggerdef(t.oid), "
       "'enabled', case t.tgenabled when 'O' then 'origin' when 'D' then 'disabled' when 'R' then 'replica' "
       "else 'always' end, 'comment', obj_description(t.oid, 'pg_trigger')) "
       "from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace "
       "where not t.tgisinternal and " +
           us + " and " + not_extension_member("pg_class", "c.oid")},
      {"policies",
       "select n.nspname || '.' || c.relname || '.' || p.polname, jsonb_build_object("
       "'command', case p.polcmd when 'r' then 'SELECT' when 'a' then 'INSERT' when 'w' then 'UPDATE' "
       "when 'd' then 'DELETE' else 'ALL' end, "
       "'permissive', p.polpermissive, "
       "'roles', (select jsonb_agg(case when r = 0 then 'PUBLIC' else pg_get_userbyid(r) end order by case "
       "when "
       "r = 0 then 'PUBLIC' else pg_get_userbyid(r) end) from unnest(p.polroles) r), "
       "'using', pg_get_expr(p.polqual, p.polrelid), 'with_check', pg_get_expr(p.polwithcheck, p.polrelid)) "
       "from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace "
       "where " +
           us},
      {"rules",
       "select n.nspname || '.' || c.relname || '.' || r.rulename, jsonb_build_object('definition', "
       "pg_get_ruledef(r.oid, true)) from pg_rewrite r join pg_class c on c.oid = r.ev_class "
       "join pg_namespace n on n.oid = c.relnamespace where r.rulename <> '_RETURN' and " +
           us},
      {"event_triggers",
       "select e.evtname, jsonb_build_object('event', e.evtevent, 'function', e.evtfoid::regproc::text, "
       "'enabled', e.evtenabled, 'tags', to_jsonb(e.evttags), 'owner', pg_get_userbyid(e.evtowner)) "
       "from pg_event_trigger e where " +
           not_extension_member("pg_event_trigger", "e.oid")},
      {"default_privileges",
       "select pg_get_userbyid(d.defaclrole) || coalesce(' in ' || n.nspname, '') || ' on ' || "
       "case d.defaclobjtype when 'r' then 'tables' when 'S' then 'sequences' when 'f' then 'functions' "
       "when 'T' then 'types' when 'n' then 'schemas' end, jsonb_build_object('privileges', " +
           acl("d.defaclacl") +
           ") from pg_default_acl d left join pg_namespace n on n.oid = d.defaclnamespace"},
  };
}

}  // namespace

nlohmann::json take_snapshot(connection& conn) {
  nlohmann::json snap = nlohmann::json::object();
  snap["format"] = "pgmt-snapshot-1";
  // An empty search_path makes pg_get_*def qualify every name, so the text
  // does not depend on the session.
  conn.exec("begin isolation level repeatable read read only");
  try {
    conn.exec("set local search_path = ''");
    for (const auto& cat : categories()) {
      nlohmann::json objects = nlohmann::json::object();
      result r = conn.exec(cat.sql);
      for (int i = 0; i < r.rows(); ++i) objects[r.value(i, 0)] = nlohmann::json::parse(r.value(i, 1));
      snap[cat.name] = std::move(objects);
    }
    conn.exec("commit");
  } catch (...) {
    try {
      conn.exec("rollback");
    } catch (...) {
    }
    throw;
  }
  return snap;
}

std::string snapshot_text(const nlohmann::json& snap) { return snap.dump(2) + "\n"; }

std::map<std::string, long long> row_counts(connection& conn) {
  // One statement; each table is counted by a small query of its own through
  // query_to_xml, which plans far faster than one UNION ALL of every table.
  result r = conn.exec(
      std::string("select n.nspname || '.' || c.relname, (xpath('/row/n/text()', query_to_xml(format("
                  "'select count(*) as n from only %I.%I', n.nspname, c.relname), false, true, '')))[1]::text "
                  "from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relkind = 'r' and ") +
      user_schema + " and " + not_extension_member("pg_class", "c.oid"));
  std::map<std::string, long long> out;
  for (int i = 0; i < r.rows(); ++i) out[r.value(i, 0)] = std::stoll(r.value(i, 1));
  return out;
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
                                                           {"default_privileges", "default privileges for"}};
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

std::vector<difference> diff_snapshots(const nlohmann::json& expected, const nlohmann::json& actual,
                                       const diff_words& w) {
  std::vector<difference> out;
  std::set<std::string> cats;
  for (const auto& [k, v] : expected.items())
    if (v.is_object()) cats.insert(k);
  for (const auto& [k, v] : actual.items())
    if (v.is_object()) cats.insert(k);
  // Containers before what they contain, so the first line names the cause.
  static const std::vector<std::string> order = {
      "schemas",     "extensions", "types", "tables",         "columns",
      "constraints", "indexes",    "views", "sequences",      "functions",
      "triggers",    "policies",   "rules", "event_triggers", "default_privileges"};
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
