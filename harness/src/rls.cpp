#include "pgmt/rls.hpp"

#include "pgmt/pg.hpp"
#include "pgmt/text.hpp"

#include <pg_query.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <cctype>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace pgmt {

namespace {

// Line and column of a byte offset, for parse errors.
std::string line_col(const std::string& text, std::size_t byte) {
  int line = 1, col = 1;
  for (std::size_t i = 0; i < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return std::to_string(line) + ":" + std::to_string(col);
}

class file_error_builder {
 public:
  explicit file_error_builder(const fs::path& p) : path_(display_path(p)) {}
  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw input_error(path_ + ": " + (where.empty() ? "" : where + ": ") + what);
  }
  void known_keys(const nlohmann::json& obj, const std::string& where,
                  const std::set<std::string>& keys) const {
    for (const auto& [k, v] : obj.items()) {
      if (keys.count(k)) continue;
      std::string list;
      for (const auto& x : keys) list += (list.empty() ? "" : ", ") + x;
      fail(where.empty() ? k : where + "." + k, "unknown key; the keys here are " + list);
    }
  }

 private:
  std::string path_;
};

nlohmann::json parse_json_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw input_error("could not read \"" + display_path(path) + "\": " + std::strerror(errno));
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    std::string msg = e.what();
    if (auto p = msg.find("parse error"); p != std::string::npos) msg = msg.substr(p);
    throw input_error(display_path(path) + ":" + line_col(text, e.byte == 0 ? 0 : e.byte - 1) +
                      ": not valid JSON: " + msg);
  }
}

// A stable UUID for a user declared without a "sub" claim.
std::string uuid_for(const std::string& name) {
  std::string h = sha256_hex("pgmt-user:" + name).substr(0, 32);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" +
         h.substr(20, 12);
}

bool is_uuid(const std::string& s) {
  static const std::regex re("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");
  return std::regex_match(s, re);
}

rls_user parse_user(const file_error_builder& err, const std::string& name, const nlohmann::json& j,
                    const std::string& profile) {
  const std::string where = "users." + name;
  if (!j.is_object()) err.fail(where, "must be an object with a role");
  err.known_keys(j, where, {"role", "claims", "settings", "bypass"});
  rls_user u;
  u.name = name;
  if (!j.contains("role") || !j["role"].is_string() || j["role"].get<std::string>().empty())
    err.fail(where + ".role", "missing; say which role the user runs as (\"role\": \"authenticated\")");
  u.role = j["role"].get<std::string>();
  if (j.contains("claims")) {
    if (!j["claims"].is_object()) err.fail(where + ".claims", "must be an object of JWT claims");
    u.claims = j["claims"];
  }
  if (j.contains("settings")) {
    if (!j["settings"].is_object())
      err.fail(where + ".settings", "must be an object of settings (\"app.tenant_id\": \"1\")");
    for (const auto& [k, v] : j["settings"].items()) {
      if (k.find('.') == std::string::npos)
        err.fail(where + ".settings." + k,
                 "a custom setting needs a prefix with a dot (app." + k + "); pgmt sets it with set_config");
      if (v.is_string())
        u.settings[k] = v.get<std::string>();
      else if (v.is_number() || v.is_boolean())
        u.settings[k] = v.dump();
      else
        err.fail(where + ".settings." + k, "must be a string, a number or a boolean");
    }
  }
  if (j.contains("bypass")) {
    if (!j["bypass"].is_boolean()) err.fail(where + ".bypass", "must be true or false");
    u.bypass = j["bypass"].get<bool>();
  }
  if (profile == "supabase") {
    if (!u.claims) u.claims = nlohmann::json::object();
    if (!u.claims->contains("role")) (*u.claims)["role"] = u.role;
    if (u.role == "authenticated" && !u.claims->contains("sub")) (*u.claims)["sub"] = uuid_for(name);
  }
  if (u.claims && u.claims->contains("sub")) {
    const auto& sub = (*u.claims)["sub"];
    if (!sub.is_string() || !is_uuid(sub.get<std::string>()))
      err.fail(where + ".claims.sub", "must be a UUID (auth.uid() casts it to uuid)");
  }
  return u;
}

// The tables a statement names (as written) and its command, from its parse tree.
void walk_relations(const nlohmann::json& node, std::vector<std::string>& out) {
  if (node.is_object()) {
    for (const auto& [k, v] : node.items()) {
      // A RangeVar is wrapped in its type name where the tree holds any node,
      // and bare where it holds a RangeVar (INSERT, UPDATE and DELETE targets).
      if ((k == "RangeVar" || k == "relation") && v.is_object() && v.contains("relname")) {
        std::string name = v.value("schemaname", std::string());
        name += (name.empty() ? "" : ".") + v["relname"].get<std::string>();
        if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
      }
      walk_relations(v, out);
    }
  } else if (node.is_array()) {
    for (const auto& v : node) walk_relations(v, out);
  }
}

void analyse_sql(const file_error_builder& err, rls_expectation& e) {
  PgQuerySplitResult split = pg_query_split_with_scanner(e.sql.c_str());
  int n = split.n_stmts;
  bool split_failed = split.error != nullptr;
  pg_query_free_split_result(split);
  if (!split_failed && n > 1)
    err.fail(e.where + ".sql",
             std::to_string(n) + " statements; an expectation runs one (put the others in setup)");
  PgQueryParseResult parsed = pg_query_parse(e.sql.c_str());
  if (parsed.error) {
    std::string msg = parsed.error->message;
    pg_query_free_parse_result(parsed);
    err.fail(e.where + ".sql", "does not parse: " + msg);
  }
  nlohmann::json tree = nlohmann::json::parse(parsed.parse_tree, nullptr, false);
  pg_query_free_parse_result(parsed);
  if (!tree.is_object() || !tree.contains("stmts") || tree["stmts"].empty())
    err.fail(e.where + ".sql", "is empty; write the statement to run as " + e.as);
  const auto& stmt = tree["stmts"][0]["stmt"];
  e.command = "OTHER";
  if (stmt.contains("SelectStmt")) e.command = "SELECT";
  if (stmt.contains("InsertStmt")) e.command = "INSERT";
  if (stmt.contains("UpdateStmt")) e.command = "UPDATE";
  if (stmt.contains("DeleteStmt")) e.command = "DELETE";
  walk_relations(stmt, e.relations);
}

rls_expectation parse_expectation(const file_error_builder& err, std::size_t i, const nlohmann::json& j,
                                  const std::map<std::string, rls_user>& users) {
  rls_expectation e;
  e.where = "expect[" + std::to_string(i) + "]";
  if (!j.is_object()) err.fail(e.where, "must be an object with as, sql and what to expect");
  err.known_keys(j, e.where, {"as", "sql", "it", "rows", "ordered", "count", "affected", "error"});
  if (!j.contains("as") || !j["as"].is_string())
    err.fail(e.where + ".as", "missing; name the user it runs as");
  e.as = j["as"].get<std::string>();
  if (!users.count(e.as)) {
    std::string known;
    for (const auto& [n, u] : users) known += (known.empty() ? "" : ", ") + n;
    err.fail(e.where + ".as",
             "unknown user \"" + e.as + "\"" +
                 (known.empty() ? "; declare it under \"users\"" : "; the users are " + known));
  }
  if (!j.contains("sql") || !j["sql"].is_string() || j["sql"].get<std::string>().empty())
    err.fail(e.where + ".sql", "missing; write the statement to run as " + e.as);
  e.sql = j["sql"].get<std::string>();
  if (j.contains("it")) {
    if (!j["it"].is_string()) err.fail(e.where + ".it", "must be a string saying what the expectation shows");
    e.it = j["it"].get<std::string>();
  }
  int kinds = 0;
  for (const char* k : {"rows", "count", "affected", "error"}) kinds += j.contains(k) ? 1 : 0;
  if (kinds != 1)
    err.fail(e.where, kinds == 0 ? "says nothing to expect; give one of rows, count, affected or error"
                                 : "gives more than one of rows, count, affected and error; give one");
  if (j.contains("ordered") && !j.contains("rows")) err.fail(e.where + ".ordered", "only goes with rows");
  if (j.contains("rows")) {
    e.what = rls_expectation::kind::rows;
    if (!j["rows"].is_array()) err.fail(e.where + ".rows", "must be an array of rows ({\"column\": value})");
    for (std::size_t r = 0; r < j["rows"].size(); ++r)
      if (!j["rows"][r].is_object())
        err.fail(e.where + ".rows[" + std::to_string(r) + "]", "must be an object of column: value");
    e.rows = j["rows"];
    if (j.contains("ordered")) {
      if (!j["ordered"].is_boolean()) err.fail(e.where + ".ordered", "must be true or false");
      e.ordered = j["ordered"].get<bool>();
    }
  } else if (j.contains("count") || j.contains("affected")) {
    const char* k = j.contains("count") ? "count" : "affected";
    e.what = j.contains("count") ? rls_expectation::kind::count : rls_expectation::kind::affected;
    if (!j[k].is_number_integer() || j[k].get<long long>() < 0)
      err.fail(e.where + "." + k, "must be a whole number of rows, 0 or more");
    e.number = j[k].get<long long>();
  } else {
    e.what = rls_expectation::kind::error;
    if (!j["error"].is_string()) err.fail(e.where + ".error", "must be a SQLSTATE (\"23505\") or \"denied\"");
    std::string s = j["error"].get<std::string>();
    static const std::regex sqlstate("^[0-9A-Z]{5}$");
    if (s == "denied")
      s = "42501";
    else if (!std::regex_match(s, sqlstate))
      err.fail(e.where + ".error",
               "\"" + s + "\" is not a SQLSTATE (five characters, such as 42501) or \"denied\"");
    e.sqlstate = s;
  }
  analyse_sql(err, e);
  return e;
}

// A result row as JSON, values typed by their column types.
nlohmann::json row_json(const result& r, int row) {
  nlohmann::json o = nlohmann::json::object();
  for (int c = 0; c < r.columns(); ++c) {
    const std::string name = r.column_name(c);
    if (r.is_null(row, c)) {
      o[name] = nullptr;
      continue;
    }
    const std::string v = r.value(row, c);
    switch (r.column_type(c)) {
    case 16:  // bool
      o[name] = v == "t";
      break;
    case 20:
    case 21:
    case 23:
    case 26:
    case 700:
    case 701:
    case 1700:
    case 114:     // json
    case 3802: {  // jsonb
      auto parsed = nlohmann::json::parse(v, nullptr, false);
      o[name] = parsed.is_discarded() ? nlohmann::json(v) : parsed;
      break;
    }
    default: o[name] = v;
    }
  }
  return o;
}

// sql on one line, shortened, for messages.
std::string one_line(const std::string& sql) {
  std::string out;
  bool space = false;
  for (char ch : sql) {
    if (std::isspace(static_cast<unsigned char>(ch))) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += ch;
  }
  while (!out.empty() && out.back() == ';') out.pop_back();
  if (out.size() > 90) out = out.substr(0, 87) + "...";
  return out;
}

std::string rows_word(long long n) { return std::to_string(n) + (n == 1 ? " row" : " rows"); }

std::string sample(const std::vector<nlohmann::json>& rows) {
  std::string out;
  for (std::size_t i = 0; i < rows.size() && i < 3; ++i) out += (i ? ", " : "") + rows[i].dump();
  if (rows.size() > 3) out += ", ... (" + std::to_string(rows.size() - 3) + " more)";
  return out;
}

// The policies that decide what role may do with command on the tables.
std::string policies_for(connection& conn, const std::vector<std::string>& tables, const std::string& role,
                         const std::string& command) {
  if (tables.empty()) return "";
  nlohmann::json names = tables;
  result r = conn.exec_params(
      "select p.schemaname || '.' || p.tablename || '.' || p.policyname, p.cmd, p.permissive, "
      "coalesce(p.qual, ''), coalesce(p.with_check, '') from pg_policies p "
      "join pg_class c on c.relname = p.tablename join pg_namespace n on n.oid = c.relnamespace and "
      "n.nspname = p.schemaname "
      "where c.oid in (select to_regclass(t) from jsonb_array_elements_text($1::jsonb) t) "
      "and (p.cmd = $2 or p.cmd = 'ALL') and (p.roles && array[$3::name, 'public'::name]) order by 1",
      {names.dump(), command, role});
  if (r.rows() == 0) return "";
  std::string out = "policies that apply to " + role + " for " + command + ": ";
  for (int i = 0; i < r.rows(); ++i) {
    out += (i ? "; " : "") + r.value(i, 0) + " (" + r.value(i, 1) +
           (r.value(i, 2) == "PERMISSIVE" ? "" : ", restrictive") + ")";
    if (!r.value(i, 3).empty()) out += " USING " + r.value(i, 3);
    if (!r.value(i, 4).empty()) out += " WITH CHECK " + r.value(i, 4);
  }
  return out;
}

// Why asserting as u on e's tables would prove nothing; empty when it would not.
std::string bypass_reason(connection& conn, const rls_user& u, const rls_expectation& e) {
  result role = conn.exec_params("select rolsuper, rolbypassrls from pg_roles where rolname = $1", {u.role});
  if (role.rows() == 0) return "its role \"" + u.role + "\" does not exist";
  if (u.bypass) return "";
  if (role.value(0, 0) == "t")
    return "its role \"" + u.role +
           "\" is a superuser, which row level security never restricts, so the assertion would prove "
           "nothing; assert as a role without SUPERUSER, or declare the user with \"bypass\": true";
  if (role.value(0, 1) == "t")
    return "its role \"" + u.role +
           "\" has BYPASSRLS, which row level security never restricts, so the assertion would prove "
           "nothing; assert as a role without BYPASSRLS, or declare the user with \"bypass\": true";
  if (e.relations.empty()) return "";
  nlohmann::json names = e.relations;
  result owned = conn.exec_params(
      "select n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
      "where c.oid in (select to_regclass(t) from jsonb_array_elements_text($1::jsonb) t) "
      "and c.relkind in ('r', 'p') and c.relrowsecurity and not c.relforcerowsecurity "
      "and pg_has_role($2, c.relowner, 'USAGE') order by 1",
      {names.dump(), u.role});
  if (owned.rows() == 0) return "";
  return "its role \"" + u.role + "\" owns table " + owned.value(0, 0) +
         ", and an owner is not restricted by row level security without FORCE ROW LEVEL SECURITY, so the "
         "assertion would prove nothing; assert as a role that does not own the table, ALTER TABLE " +
         owned.value(0, 0) + " FORCE ROW LEVEL SECURITY, or declare the user with \"bypass\": true";
}

// Takes on u for the rest of the current (sub)transaction, as PostgREST does.
void become(connection& conn, const rls_user& u) {
  if (conn.exec_params("select pg_has_role($1, 'MEMBER')", {u.role}).value(0, 0) != "t")
    throw input_error("pgmt connects as \"" + conn.exec("select current_user").value(0, 0) +
                      "\", which cannot SET ROLE \"" + u.role + "\"; GRANT \"" + u.role + "\" TO \"" +
                      conn.exec("select current_user").value(0, 0) +
                      "\" on the server, or connect as a superuser");
  conn.exec("set local role " + conn.quote_ident(u.role));
  if (u.claims) {
    conn.exec_params("select set_config('request.jwt.claims', $1, true)", {u.claims->dump()});
    for (const auto& [k, v] : u.claims->items())
      conn.exec_params("select set_config('request.jwt.claim.' || $1, $2, true)",
                       {k, v.is_string() ? v.get<std::string>() : v.dump()});
  }
  for (const auto& [k, v] : u.settings) conn.exec_params("select set_config($1, $2, true)", {k, v});
}

// Expected rows not in actual, and actual rows not in expected (multisets).
void row_difference(const nlohmann::json& expected, const std::vector<nlohmann::json>& actual,
                    std::vector<nlohmann::json>& missing, std::vector<nlohmann::json>& extra) {
  std::vector<bool> used(actual.size(), false);
  for (const auto& want : expected) {
    bool found = false;
    for (std::size_t i = 0; i < actual.size() && !found; ++i)
      if (!used[i] && actual[i] == want) used[i] = found = true;
    if (!found) missing.push_back(want);
  }
  for (std::size_t i = 0; i < actual.size(); ++i)
    if (!used[i]) extra.push_back(actual[i]);
}

std::string check_expectation(connection& conn, const rls_user& u, const rls_expectation& e) {
  result r;
  try {
    r = conn.exec(e.sql);
  } catch (const sql_error& err) {
    const std::string got = err.sqlstate() + " (" + err.diagnostics().message + ")";
    if (e.what == rls_expectation::kind::error) {
      if (err.sqlstate() == e.sqlstate) return "";
      return "expected error " + e.sqlstate + (e.sqlstate == "42501" ? " (denied)" : "") + ", got " + got;
    }
    return "failed with " + got;
  }
  std::vector<nlohmann::json> rows;
  for (int i = 0; i < r.rows(); ++i) rows.push_back(row_json(r, i));
  const bool returns_rows = r.columns() > 0;
  auto leak_note = [&] {
    std::string p = policies_for(conn, e.relations, u.role, e.command);
    return p.empty() ? std::string() : "; " + p;
  };
  switch (e.what) {
  case rls_expectation::kind::error:
    return "expected error " + e.sqlstate + (e.sqlstate == "42501" ? " (denied)" : "") +
           ", but it succeeded" +
           (returns_rows ? " and returned " + rows_word(static_cast<long long>(rows.size()))
                         : " and affected " + rows_word(r.affected())) +
           (rows.empty() ? "" : ": " + sample(rows)) + leak_note();
  case rls_expectation::kind::affected:
    if (r.affected() == e.number) return "";
    return "expected to affect " + rows_word(e.number) + ", affected " + rows_word(r.affected()) +
           (r.affected() > e.number ? leak_note() : "");
  case rls_expectation::kind::count:
    if (static_cast<long long>(rows.size()) == e.number) return "";
    return "expected " + rows_word(e.number) + ", got " + std::to_string(rows.size()) +
           (rows.empty() ? "" : ": " + sample(rows)) +
           (static_cast<long long>(rows.size()) > e.number ? leak_note() : "");
  case rls_expectation::kind::rows: {
    std::vector<nlohmann::json> missing, extra;
    row_difference(e.rows, rows, missing, extra);
    if (missing.empty() && extra.empty()) {
      if (!e.ordered) return "";
      for (std::size_t i = 0; i < rows.size(); ++i)
        if (rows[i] != e.rows[i]) return "the rows came in another order: " + sample(rows);
      return "";
    }
    std::string out = "expected " + rows_word(static_cast<long long>(e.rows.size())) + ", got " +
                      std::to_string(rows.size());
    if (!extra.empty()) out += "; rows it should not see: " + sample(extra);
    if (!missing.empty()) out += "; rows it should see but does not: " + sample(missing);
    if (!extra.empty()) out += leak_note();
    return out;
  }
  }
  return "";
}

}  // namespace

rls_dir scan_rls_dir(const fs::path& dir, const migration_set& set) {
  rls_dir out;
  out.dir = dir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw input_error("RLS folder \"" + display_path(dir) + "\" is not a folder");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    const std::string name = f.filename().string();
    if (name == "users.json") {
      out.users_file = f;
      continue;
    }
    if (name == "final.json") {
      out.final_file = f;
      continue;
    }
    const std::string stem = f.stem().string();
    std::string matched;
    for (const auto& m : set.migrations)
      if (stem == m.version || stem.rfind(m.version + "_", 0) == 0) matched = m.version;
    if (matched.empty())
      throw input_error(display_path(f) +
                        ": matches no migration; name it after a migration version (<version>.json or "
                        "<version>_<name>.json), users.json or final.json");
    if (out.by_version.count(matched))
      throw input_error(display_path(f) + ": a second assertion file for migration " + matched + " (" +
                        display_path(out.by_version[matched]) + " is the first); merge them");
    out.by_version[matched] = f;
  }
  return out;
}

std::map<std::string, rls_user> suite_rls_users(const rls_dir& dir, const std::string& profile) {
  std::map<std::string, rls_user> users;
  if (profile == "supabase") {
    rls_user anon;
    anon.name = anon.role = "anon";
    anon.claims = nlohmann::json{{"role", "anon"}};
    users["anon"] = anon;
    rls_user service;
    service.name = service.role = "service_role";
    service.claims = nlohmann::json{{"role", "service_role"}};
    service.bypass = true;
    users["service_role"] = service;
  }
  if (dir.users_file) {
    file_error_builder err(*dir.users_file);
    nlohmann::json j = parse_json_file(*dir.users_file);
    if (!j.is_object()) err.fail("", "must be an object of users by name");
    nlohmann::json list = j.contains("users") ? j["users"] : j;
    if (j.contains("users")) err.known_keys(j, "", {"users"});
    if (!list.is_object()) err.fail("users", "must be an object of users by name");
    for (const auto& [name, u] : list.items()) users[name] = parse_user(err, name, u, profile);
  }
  return users;
}

rls_file load_rls_file(const fs::path& path, const std::string& version,
                       const std::map<std::string, rls_user>& suite_users, const std::string& profile) {
  file_error_builder err(path);
  nlohmann::json j = parse_json_file(path);
  if (!j.is_object()) err.fail("", "must be an object with users, setup and expect");
  err.known_keys(j, "", {"users", "setup", "expect"});
  rls_file f;
  f.path = path;
  f.version = version;
  f.users = suite_users;
  if (j.contains("users")) {
    if (!j["users"].is_object()) err.fail("users", "must be an object of users by name");
    for (const auto& [name, u] : j["users"].items()) f.users[name] = parse_user(err, name, u, profile);
  }
  if (j.contains("setup")) {
    if (j["setup"].is_string()) {
      f.setup = j["setup"].get<std::string>();
    } else if (j["setup"].is_array() && std::all_of(j["setup"].begin(), j["setup"].end(),
                                                    [](const auto& x) { return x.is_string(); })) {
      for (const auto& s : j["setup"]) f.setup += s.get<std::string>() + ";\n";
    } else {
      err.fail("setup", "must be SQL: a string, or an array of strings");
    }
  }
  if (!j.contains("expect") || !j["expect"].is_array() || j["expect"].empty())
    err.fail("expect",
             "missing or empty; list the expectations ([{\"as\": ..., \"sql\": ..., \"count\": 0}])");
  for (std::size_t i = 0; i < j["expect"].size(); ++i)
    f.expect.push_back(parse_expectation(err, i, j["expect"][i], f.users));
  return f;
}

std::vector<std::string> run_rls_file(connection& conn, const rls_file& f, const std::string& profile) {
  std::vector<std::string> findings;
  const std::string file = display_path(f.path);
  conn.exec("begin");
  try {
    if (profile == "supabase" &&
        conn.exec("select to_regclass('auth.users') is not null").value(0, 0) == "t") {
      // Foreign keys to auth.users hold for the declared users, as on Supabase.
      for (const auto& [name, u] : f.users) {
        if (!u.claims || !u.claims->contains("sub")) continue;
        const auto& c = *u.claims;
        conn.exec_params(
            "insert into auth.users (id, aud, role, email, raw_app_meta_data, raw_user_meta_data, "
            "created_at, "
            "updated_at, email_confirmed_at) values ($1::uuid, 'authenticated', $2, $3, $4::jsonb, "
            "$5::jsonb, "
            "now(), now(), now()) on conflict (id) do nothing",
            {c["sub"].get<std::string>(), u.role,
             c.contains("email") && c["email"].is_string() ? c["email"].get<std::string>()
                                                           : name + "@pgmt.test",
             c.contains("app_metadata") ? c["app_metadata"].dump() : std::string("{\"provider\": \"email\"}"),
             c.contains("user_metadata") ? c["user_metadata"].dump() : std::string("{}")});
      }
    }
    if (!f.setup.empty()) {
      try {
        conn.exec(f.setup);
      } catch (const sql_error& e) {
        findings.push_back(file + ": setup failed: " + e.diagnostics().message + " (SQLSTATE " +
                           e.sqlstate() + ")");
        conn.exec("rollback");
        return findings;
      }
    }
    for (const auto& e : f.expect) {
      const rls_user& u = f.users.at(e.as);
      const std::string head = file + ": " + e.where + (e.it.empty() ? "" : " (" + e.it + ")") + " as " +
                               e.as + ": " + one_line(e.sql) + ": ";
      conn.exec("savepoint pgmt_expect");
      std::string why = bypass_reason(conn, u, e);
      if (!why.empty()) {
        findings.push_back(head + "refused: " + why);
      } else {
        become(conn, u);
        std::string problem = check_expectation(conn, u, e);
        if (!problem.empty()) findings.push_back(head + problem);
      }
      conn.exec("rollback to savepoint pgmt_expect");
    }
    conn.exec("rollback");
  } catch (...) {
    try {
      conn.exec("rollback");
    } catch (...) {
    }
    throw;
  }
  return findings;
}

}  // namespace pgmt

namespace pgmt {

rls_coverage rls_coverage_of(connection& conn, const std::vector<rls_file>& files,
                             const std::vector<std::string>& api_roles) {
  rls_coverage out;
  nlohmann::json wanted = api_roles;
  result existing = conn.exec_params(
      "select rolname from pg_roles where rolname in (select jsonb_array_elements_text($1::jsonb)) order by "
      "1",
      {wanted.dump()});
  std::vector<std::string> roles;
  for (int i = 0; i < existing.rows(); ++i) roles.push_back(existing.value(i, 0));
  if (roles.empty()) {
    out.lines.push_back("no API roles to check: declare users (with their roles) in the RLS folder");
    return out;
  }
  std::string role_list;
  for (const auto& r : roles) role_list += (role_list.empty() ? "" : ", ") + r;

  // What the assertion files exercise: table -> role -> command -> users.
  std::map<std::string, std::map<std::string, std::map<std::string, std::set<std::string>>>> asserted;
  for (const auto& f : files)
    for (const auto& e : f.expect) {
      if (e.command == "OTHER" || e.relations.empty()) continue;
      const rls_user& u = f.users.at(e.as);
      nlohmann::json names = e.relations;
      result r = conn.exec_params(
          "select distinct n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = "
          "c.relnamespace where c.oid in (select to_regclass(t) from jsonb_array_elements_text($1::jsonb) t)",
          {names.dump()});
      for (int i = 0; i < r.rows(); ++i) asserted[r.value(i, 0)][u.role][e.command].insert(u.name);
    }

  result tables = conn.exec_params(
      "select n.nspname || '.' || c.relname, c.relrowsecurity, c.relforcerowsecurity, r.role, "
      "has_schema_privilege(r.role, n.oid, 'USAGE') and has_any_column_privilege(r.role, c.oid, 'SELECT'), "
      "has_schema_privilege(r.role, n.oid, 'USAGE') and has_any_column_privilege(r.role, c.oid, 'INSERT'), "
      "has_schema_privilege(r.role, n.oid, 'USAGE') and has_any_column_privilege(r.role, c.oid, 'UPDATE'), "
      "has_schema_privilege(r.role, n.oid, 'USAGE') and has_table_privilege(r.role, c.oid, 'DELETE') "
      "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
      "cross join (select jsonb_array_elements_text($1::jsonb) as role) r "
      "where c.relkind in ('r', 'p') and not c.relispartition and n.nspname not in ('pg_catalog', "
      "'information_schema', 'pgmt') and n.nspname not like 'pg\\_%' order by 1, 4",
      {nlohmann::json(roles).dump()});
  struct table_info {
    bool rls = false, forced = false;
    std::map<std::string, std::vector<std::string>> may;  // role -> commands
  };
  std::map<std::string, table_info> info;
  static const char* const commands[] = {"SELECT", "INSERT", "UPDATE", "DELETE"};
  for (int i = 0; i < tables.rows(); ++i) {
    auto& t = info[tables.value(i, 0)];
    t.rls = tables.value(i, 1) == "t";
    t.forced = tables.value(i, 2) == "t";
    for (int c = 0; c < 4; ++c)
      if (tables.value(i, 4 + c) == "t") t.may[tables.value(i, 3)].push_back(commands[c]);
  }
  result pol =
      conn.exec("select schemaname || '.' || tablename, policyname, cmd from pg_policies order by 1, 2");
  std::map<std::string, std::vector<std::string>> policies;
  for (int i = 0; i < pol.rows(); ++i)
    policies[pol.value(i, 0)].push_back(pol.value(i, 1) + " (" + pol.value(i, 2) + ")");

  std::size_t hidden = 0;
  for (const auto& [name, t] : info) {
    if (t.may.empty()) {
      ++hidden;
      continue;
    }
    ++out.exposed;
    std::string head = name + ": row level security " + (t.rls ? (t.forced ? "on (forced)" : "on") : "OFF");
    const auto& ps = policies[name];
    if (t.rls) {
      head +=
          ps.empty() ? "; no policies (nobody but the owner and bypassing roles sees a row)" : "; policies: ";
      for (std::size_t i = 0; i < ps.size(); ++i) head += (i ? ", " : "") + ps[i];
    }
    out.lines.push_back(head);
    bool any_assertion = asserted.count(name) > 0;
    std::string reach;
    for (const auto& [role, cmds] : t.may) {
      std::string line = "  " + role + " may";
      for (const auto& c : cmds) {
        line += " " + c;
        auto a = asserted.find(name);
        std::set<std::string> users;
        if (a != asserted.end()) {
          auto r = a->second.find(role);
          if (r != a->second.end()) {
            auto k = r->second.find(c);
            if (k != r->second.end()) users = k->second;
          }
        }
        if (users.empty()) {
          line += " (not asserted)";
        } else {
          std::string who;
          for (const auto& u : users) who += (who.empty() ? "" : ", ") + u;
          line += " (asserted as " + who + ")";
        }
        line += ",";
      }
      line.pop_back();
      out.lines.push_back(line);
      reach += (reach.empty() ? "" : ", ") + role;
    }
    if (!t.rls)
      out.failures.push_back(name + ": " + reach +
                             " can reach it, but row level security is off, so every row is open to them; "
                             "ALTER TABLE " +
                             name +
                             " ENABLE ROW LEVEL SECURITY and add policies, or revoke "
                             "the privileges");
    else if (!any_assertion)
      out.warnings.push_back("warning: " + name + ": " + reach +
                             " can reach it; row level security is on, but no assertion file exercises it");
  }
  out.lines.push_back(std::to_string(out.exposed) + (out.exposed == 1 ? " table" : " tables") +
                      " reachable by " + role_list + "; " + std::to_string(hidden) + " not");
  return out;
}

}  // namespace pgmt
