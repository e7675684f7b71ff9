#include "pgmt/script.hpp"

#include "pgmt/pg.hpp"
#include "pgmt/server.hpp"
#include "pgmt/text.hpp"

#include <nlohmann/json.hpp>
#include <pg_query.h>

#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <algorithm>
#include <set>
#include <thread>

namespace pgmt {

namespace {

bool ident_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' ||
         (static_cast<unsigned char>(c) & 0x80);
}

// Length of a dollar-quote tag ($tag$ or $$) starting at i, or 0.
std::size_t dollar_tag_length(std::string_view t, std::size_t i) {
  if (t[i] != '$') return 0;
  if (i > 0 && ident_char(t[i - 1])) return 0;  // part of an identifier such as a$b
  std::size_t j = i + 1;
  if (j < t.size() && std::isdigit(static_cast<unsigned char>(t[j]))) return 0;  // $1 parameter
  while (j < t.size() && t[j] != '$') {
    unsigned char c = static_cast<unsigned char>(t[j]);
    if (!(std::isalnum(c) || c == '_' || (c & 0x80))) return 0;
    ++j;
  }
  if (j >= t.size()) return 0;
  return j - i + 1;
}

// Offset just past the block comment that opens at i (they nest in SQL).
std::size_t after_block_comment(std::string_view t, std::size_t i) {
  const std::size_t n = t.size();
  int depth = 1;
  i += 2;
  while (i < n && depth > 0) {
    if (t[i] == '/' && i + 1 < n && t[i + 1] == '*') {
      ++depth;
      i += 2;
    } else if (t[i] == '*' && i + 1 < n && t[i + 1] == '/') {
      --depth;
      i += 2;
    } else {
      ++i;
    }
  }
  return i;
}

// Walks SQL text the way psql's lexer does for quotes and comments. Calls
// on_backslash for each backslash outside of them and stops when it returns true.
template <typename F> std::optional<std::size_t> walk(std::string_view t, F&& on_backslash) {
  std::size_t i = 0;
  const std::size_t n = t.size();
  while (i < n) {
    char c = t[i];
    if (c == '-' && i + 1 < n && t[i + 1] == '-') {
      while (i < n && t[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < n && t[i + 1] == '*') {
      i = after_block_comment(t, i);
    } else if (c == '\'') {
      bool escapes = i > 0 && (t[i - 1] == 'E' || t[i - 1] == 'e') && (i < 2 || !ident_char(t[i - 2]));
      ++i;
      while (i < n) {
        if (escapes && t[i] == '\\') {
          i += 2;
        } else if (t[i] == '\'') {
          if (i + 1 < n && t[i + 1] == '\'') {
            i += 2;
          } else {
            ++i;
            break;
          }
        } else {
          ++i;
        }
      }
    } else if (c == '"') {
      ++i;
      while (i < n) {
        if (t[i] == '"') {
          if (i + 1 < n && t[i + 1] == '"') {
            i += 2;
          } else {
            ++i;
            break;
          }
        } else {
          ++i;
        }
      }
    } else if (c == '$' && dollar_tag_length(t, i) > 0) {
      std::size_t len = dollar_tag_length(t, i);
      std::string_view tag = t.substr(i, len);
      auto end = t.find(tag, i + len);
      i = end == std::string_view::npos ? n : end + len;
    } else if (c == '\\') {
      if (on_backslash(i)) return i;
      ++i;
    } else {
      ++i;
    }
  }
  return std::nullopt;
}

std::string node_kind(const nlohmann::json& stmt) {
  if (!stmt.is_object() || stmt.empty()) return {};
  return stmt.begin().key();
}

// Why a statement cannot run inside a transaction block, or "".
std::string no_transaction_reason(const std::string& kind, const nlohmann::json& node) {
  auto flag = [&](const char* k) { return node.contains(k) && node[k].is_boolean() && node[k].get<bool>(); };
  if (kind == "IndexStmt" && flag("concurrent")) return "CREATE INDEX CONCURRENTLY";
  if (kind == "DropStmt" && flag("concurrent")) return "DROP INDEX CONCURRENTLY";
  if (kind == "ReindexStmt") {
    if (node.contains("params"))
      for (const auto& p : node["params"])
        if (p.contains("DefElem") && p["DefElem"].value("defname", "") == "concurrently")
          return "REINDEX CONCURRENTLY";
    std::string k = node.value("kind", "");
    if (k == "REINDEX_OBJECT_SYSTEM" || k == "REINDEX_OBJECT_DATABASE") return "REINDEX DATABASE/SYSTEM";
  }
  if (kind == "VacuumStmt" && flag("is_vacuumcmd")) return "VACUUM";
  if (kind == "CreatedbStmt") return "CREATE DATABASE";
  if (kind == "DropdbStmt") return "DROP DATABASE";
  if (kind == "AlterSystemStmt") return "ALTER SYSTEM";
  if (kind == "CreateTableSpaceStmt") return "CREATE TABLESPACE";
  if (kind == "DropTableSpaceStmt") return "DROP TABLESPACE";
  if (kind == "CreateSubscriptionStmt") return "CREATE SUBSCRIPTION";
  if (kind == "DropSubscriptionStmt") return "DROP SUBSCRIPTION";
  if (kind == "ClusterStmt" && !node.contains("relation")) return "CLUSTER without a table";
  if (kind == "DiscardStmt" && node.value("target", "") == "DISCARD_ALL") return "DISCARD ALL";
  return {};
}

bool is_transaction_control(const std::string& kind, const nlohmann::json& node) {
  if (kind != "TransactionStmt") return false;
  std::string k = node.value("kind", "");
  return k == "TRANS_STMT_BEGIN" || k == "TRANS_STMT_START" || k == "TRANS_STMT_COMMIT" ||
         k == "TRANS_STMT_ROLLBACK" || k == "TRANS_STMT_PREPARE" || k == "TRANS_STMT_COMMIT_PREPARED" ||
         k == "TRANS_STMT_ROLLBACK_PREPARED";
}

// Offset of the first whole-word, case-insensitive occurrence of name (or of
// its last dotted part) in text at or after from, outside line comments.
std::optional<std::size_t> find_name(std::string_view text, std::size_t from, const std::string& name) {
  auto lower = [](std::string_view s) {
    std::string o(s);
    for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return o;
  };
  const std::string hay = lower(text);
  std::vector<std::string> needles = {lower(name)};
  if (auto dot = name.rfind('.'); dot != std::string::npos) needles.push_back(lower(name.substr(dot + 1)));
  for (const auto& needle : needles) {
    for (std::size_t p = hay.find(needle, from); p != std::string::npos; p = hay.find(needle, p + 1)) {
      bool left = p == 0 || !(ident_char(hay[p - 1]) || hay[p - 1] == '.');
      std::size_t e = p + needle.size();
      bool right = e >= hay.size() || !ident_char(hay[e]);
      if (!left || !right) continue;
      // Skip hits in a line comment.
      auto line_start = text.rfind('\n', p);
      line_start = line_start == std::string_view::npos ? 0 : line_start + 1;
      bool inside = text.substr(line_start, p - line_start).find("--") != std::string_view::npos;
      if (!inside) return p;
    }
  }
  return std::nullopt;
}

// A message may quote the rest of the file ("unterminated quoted string at or
// near ..."): cut it, as the source line is cut around the column.
std::string cut_message(const std::string& message) {
  if (message.size() <= 300) return message;
  std::size_t cut = 240;
  while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) --cut;
  return message.substr(0, cut) + "... (" + std::to_string(message.size()) + " bytes in all)";
}

diagnostic at(const sql_source& src, std::size_t offset, std::string message) {
  diagnostic d;
  d.path = src.path;
  auto pos = position_of(src.text, offset);
  d.line = src.first_line + pos.line - 1;
  d.column = pos.column;
  d.source_line = std::string(line_text(src.text, pos.line));
  d.message = std::move(message);
  return d;
}

// The name a role spec stands for in messages: "alice", CURRENT_USER ...
std::string role_spec_name(const nlohmann::json& spec) {
  const std::string type = spec.value("roletype", "");
  if (type == "ROLESPEC_CSTRING") return "\"" + spec.value("rolename", "") + "\"";
  if (type == "ROLESPEC_CURRENT_USER") return "CURRENT_USER";
  if (type == "ROLESPEC_SESSION_USER") return "SESSION_USER";
  if (type == "ROLESPEC_CURRENT_ROLE") return "CURRENT_ROLE";
  return "PUBLIC";
}

// The role an ALTER ROLE, DROP ROLE or ALTER ROLE ... RENAME names when it is
// the one the migrations run as (CURRENT_USER and the like, or pgmt's own).
std::optional<std::string> alters_own_role(const std::string& kind, const nlohmann::json& node) {
  auto own = [](const nlohmann::json& spec0) -> std::optional<std::string> {
    const nlohmann::json& spec = spec0.contains("RoleSpec") ? spec0["RoleSpec"] : spec0;
    const std::string type = spec.value("roletype", "");
    if (type == "ROLESPEC_CURRENT_USER" || type == "ROLESPEC_SESSION_USER" || type == "ROLESPEC_CURRENT_ROLE" ||
        (type == "ROLESPEC_CSTRING" && spec.value("rolename", "") == own_role))
      return role_spec_name(spec);
    return std::nullopt;
  };
  if (kind == "AlterRoleStmt" && node.contains("role")) return own(node["role"]);
  if (kind == "DropRoleStmt")
    for (const auto& r : node.value("roles", nlohmann::json::array()))
      if (auto w = own(r)) return w;
  if (kind == "RenameStmt" && node.value("renameType", "") == "OBJECT_ROLE" &&
      node.value("subname", "") == own_role)
    return "\"" + std::string(own_role) + "\"";
  return std::nullopt;
}

// The databases pgmt cannot do without: dropped, every later check fails.
bool pgmt_needs_database(const std::string& name) {
  return name == "postgres" || name == "template0" || name == "template1" || name.rfind("pgmt_", 0) == 0;
}

// What a statement does past the database it runs in, from its parse tree;
// nullopt for the rest. The effect's start is left to the caller.
std::optional<server_effect> effect_of(const std::string& kind, const nlohmann::json& node,
                                       const std::string& dumped) {
  server_effect e;
  auto setting = [&node]() -> std::string {
    const auto& set = node.contains("setstmt") ? node["setstmt"] : nlohmann::json::object();
    return set.value("name", "");
  };
  if (kind == "AlterSystemStmt") {
    const std::string name = setting();
    e.what = "ALTER SYSTEM changes the configuration of the whole server (postgresql.auto.conf), not of this "
             "database: every database and session gets " +
             (name.empty() ? std::string("it") : "\"" + name + "\"") + " once the server reloads";
    e.instead = "give the server its settings in its configuration, outside the migrations";
    e.refused_on_shared = true;
    e.changes_settings = true;
  } else if (kind == "AlterRoleSetStmt") {
    const std::string role = node.contains("role") ? "ROLE " + role_spec_name(node["role"]) : "ROLE ALL";
    e.what = "ALTER " + role + " SET " + setting() +
             " changes what every new session of the role starts with, in every database of the server: the "
             "sessions later migrations and checks run in start with it";
    e.instead = "set it where it is needed (SET LOCAL in the migration, ALTER FUNCTION ... SET); if a later "
                "migration fails on it, this is where it comes from";
    e.changes_settings = true;
    e.refused_on_shared = true;
  } else if (kind == "AlterDatabaseSetStmt") {
    e.what = "ALTER DATABASE \"" + node.value("dbname", "") + "\" SET " + setting() +
             " changes what every new session of that database starts with; it is another database than the "
             "one the migration runs in (pgmt runs each migration in databases of its own)";
    e.instead = "set it where it is needed (SET LOCAL in the migration, ALTER FUNCTION ... SET)";
    e.refused_on_shared = true;
    e.changes_settings = true;
  } else if (kind == "CreatedbStmt") {
    e.what = "CREATE DATABASE creates the database \"" + node.value("dbname", "") +
             "\" beside this one, on the whole server: it outlives the database the migration runs in";
    e.created_database = node.value("dbname", "");
    e.instead = "create databases outside the migrations; on its own server pgmt drops it before each run of "
                "this migration, so that every run starts as on a new server";
    e.refused_on_shared = true;
  } else if (kind == "DropdbStmt") {
    e.what = "DROP DATABASE removes the database \"" + node.value("dbname", "") + "\" of the whole server";
    e.instead = "drop databases outside the migrations";
    e.refused_on_shared = true;
  } else if (kind == "CreateTableSpaceStmt" || kind == "DropTableSpaceStmt" ||
             kind == "AlterTableSpaceOptionsStmt") {
    e.what = std::string(kind == "CreateTableSpaceStmt" ? "CREATE" : kind == "DropTableSpaceStmt" ? "DROP" : "ALTER") +
             " TABLESPACE changes the server's tablespaces: a tablespace is a folder on the server's machine, "
             "shared by every database";
    e.instead = "create tablespaces with the server, outside the migrations";
    e.refused_on_shared = true;
    if (kind == "CreateTableSpaceStmt") e.created_tablespace = node.value("tablespacename", "");
  } else if (dumped.find(R"("sval":"pg_terminate_backend")") != std::string::npos ||
             dumped.find(R"("sval":"pg_cancel_backend")") != std::string::npos) {
    e.what = "pg_terminate_backend (or pg_cancel_backend) reaches other sessions of the whole server: on a "
             "shared server, those of other applications";
    e.instead = "leave other sessions alone in migrations, or limit it to this database's "
                "(where datname = current_database() and pid <> pg_backend_pid())";
    e.refused_on_shared = true;
  } else {
    return std::nullopt;
  }
  return e;
}

}  // namespace

diagnostic diagnostic_at(const sql_source& src, std::size_t offset, std::string message) {
  return at(src, offset, std::move(message));
}

std::optional<std::size_t> find_identifier(std::string_view text, std::size_t from, const std::string& name) {
  return find_name(text, from, name);
}

std::optional<std::size_t> dollar_body_start(std::string_view text, std::size_t from, std::size_t to) {
  for (std::size_t i = from; i < to && i < text.size(); ++i)
    if (std::size_t len = dollar_tag_length(text, i); len > 0) return i + len;
  return std::nullopt;
}

// ---- diagnostic ----

std::string diagnostic::headline() const {
  std::string out = path.empty() ? std::string() : display_path(path);
  if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  if (!out.empty()) out += ": ";
  out += message;
  if (!sqlstate.empty()) out += " (SQLSTATE " + sqlstate + ")";
  return out;
}

std::string diagnostic::format() const {
  std::string out = headline() + "\n";
  if (line > 0 && !source_line.empty()) {
    // A long line (generated SQL, one INSERT of a whole table) is shown
    // around the column only: at most `around` characters each side.
    constexpr int around = 100;
    std::vector<std::size_t> starts;  // byte offset of each character
    for (std::size_t i = 0; i < source_line.size(); ++i)
      if ((static_cast<unsigned char>(source_line[i]) & 0xC0) != 0x80) starts.push_back(i);
    const int chars = static_cast<int>(starts.size());
    const int at = std::clamp(column, 1, std::max(1, chars)) - 1;  // 0-based character of the caret
    const int from = std::max(0, at - around), to = std::min(chars, at + around);
    const std::size_t b0 = from < chars ? starts[static_cast<std::size_t>(from)] : source_line.size();
    const std::size_t b1 = to < chars ? starts[static_cast<std::size_t>(to)] : source_line.size();
    const std::string before = from > 0 ? "..." : "", after = to < chars ? "..." : "";
    const std::string shown = source_line.substr(b0, b1 - b0);
    std::string num = std::to_string(line);
    out += "  " + num + " | " + before + shown + after + "\n";
    out += "  " + std::string(num.size(), ' ') + " | " + std::string(before.size(), ' ');
    // Keep tabs so the caret lines up under the same character.
    int col = from + 1;
    for (std::size_t i = 0; i < shown.size() && col < column; ++i) {
      unsigned char c = static_cast<unsigned char>(shown[i]);
      if ((c & 0xC0) == 0x80) continue;
      out += (c == '\t') ? '\t' : ' ';
      ++col;
    }
    out += "^\n";
  }
  if (!detail.empty()) out += "  detail: " + detail + "\n";
  if (!hint.empty()) out += "  hint: " + hint + "\n";
  if (!context.empty()) {
    std::string ctx = context;
    for (std::size_t p = 0; (p = ctx.find('\n', p)) != std::string::npos; p += 2)
      ctx.replace(p, 1, "\n           ");
    out += "  context: " + ctx + "\n";
  }
  for (const auto& n : notes) out += "  note: " + n + "\n";
  return out;
}

script_error::script_error(diagnostic d) : std::runtime_error(d.headline()), diag_(std::move(d)) {}

// ---- lexing and planning ----

std::optional<std::size_t> find_meta_command(std::string_view text) {
  return walk(text, [](std::size_t) { return true; });
}

std::size_t skip_blanks_and_comments(std::string_view t, std::size_t i) {
  const std::size_t n = t.size();
  while (i < n) {
    if (std::isspace(static_cast<unsigned char>(t[i]))) {
      ++i;
    } else if (t[i] == '-' && i + 1 < n && t[i + 1] == '-') {
      while (i < n && t[i] != '\n') ++i;
    } else if (t[i] == '/' && i + 1 < n && t[i + 1] == '*') {
      i = after_block_comment(t, i);
    } else {
      break;
    }
  }
  return i;
}

namespace {

// Where the statement before offset starts when it is COPY ... FROM STDIN
// (psql reads the rows that follow it, up to "\."), or nullopt.
std::optional<std::size_t> copy_from_stdin_before(const std::string& text, std::size_t offset) {
  const std::string prefix = text.substr(0, offset);
  PgQuerySplitResult split = pg_query_split_with_scanner(prefix.c_str());
  std::optional<std::size_t> found;
  if (!split.error && split.n_stmts > 0) {
    // The last statement that ends with ";" before the rows.
    for (int i = split.n_stmts - 1; i >= 0 && !found; --i) {
      const auto loc = static_cast<std::size_t>(split.stmts[i]->stmt_location);
      const auto len = static_cast<std::size_t>(split.stmts[i]->stmt_len);
      const std::string stmt = prefix.substr(loc, len == 0 ? std::string::npos : len);
      PgQueryParseResult parsed = pg_query_parse(stmt.c_str());
      if (!parsed.error && parsed.parse_tree) {
        try {
          auto tree = nlohmann::json::parse(parsed.parse_tree);
          const auto& stmts = tree.at("stmts");
          if (!stmts.empty() && stmts[0].contains("stmt") && stmts[0]["stmt"].contains("CopyStmt")) {
            const auto& copy = stmts[0]["stmt"]["CopyStmt"];
            if (copy.value("is_from", false) && !copy.contains("filename") && !copy.value("is_program", false))
              found = skip_blanks_and_comments(text, loc);
          }
        } catch (const nlohmann::json::exception&) {
        }
      }
      pg_query_free_parse_result(parsed);
      if (len != 0) break;  // only the statement right before the rows
    }
  }
  pg_query_free_split_result(split);
  return found;
}

// Functions a SELECT in a migration calls that take no lock on a table.
bool lock_free_function(const nlohmann::json& call) {
  static const std::set<std::string> known = {
      "set_config", "current_setting", "nextval", "setval", "currval", "pg_advisory_lock",
      "pg_advisory_xact_lock", "pg_advisory_unlock", "pg_try_advisory_lock", "pg_try_advisory_xact_lock",
      "pg_sleep", "now", "version", "current_user", "generate_series", "count", "format", "concat"};
  const auto& names = call.value("funcname", nlohmann::json::array());
  if (names.empty()) return false;
  const auto& last = names.back();
  return last.contains("String") && known.count(last["String"].value("sval", "")) != 0;
}

// The tables a parse tree names, and whether it calls a function that may lock.
void range_vars(const nlohmann::json& node, std::vector<std::string>& out, bool& calls) {
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      if ((key == "RangeVar" || key == "relation" || key == "pktable") && value.is_object() &&
          value.contains("relname")) {
        const std::string schema = value.value("schemaname", "");
        out.push_back(schema.empty() ? value.value("relname", "") : schema + "." + value.value("relname", ""));
      }
      if (key == "FuncCall" && !lock_free_function(value)) calls = true;
      range_vars(value, out, calls);
    }
  } else if (node.is_array()) {
    for (const auto& v : node) range_vars(v, out, calls);
  }
}

// Whether an ALTER TABLE subcommand is known to neither rewrite nor scan the
// table: those that change the catalog only, and ADD COLUMN of a type of
// pg_catalog with at most a constant default (NOT NULL only beside one).
bool rewrites_nothing(const nlohmann::json& cmd) {
  static const std::set<std::string> catalog_only = {
      "AT_DropColumn",        "AT_ColumnDefault",      "AT_DropNotNull",         "AT_DropConstraint",
      "AT_SetStatistics",     "AT_SetStorage",         "AT_ClusterOn",           "AT_DropCluster",
      "AT_EnableRowSecurity", "AT_DisableRowSecurity", "AT_ForceRowSecurity",    "AT_NoForceRowSecurity",
      "AT_EnableTrig",        "AT_DisableTrig",        "AT_EnableTrigAll",       "AT_DisableTrigAll",
      "AT_EnableTrigUser",    "AT_DisableTrigUser",    "AT_EnableAlwaysTrig",    "AT_EnableReplicaTrig",
      "AT_ChangeOwner",       "AT_ReplicaIdentity",    "AT_SetRelOptions",       "AT_ResetRelOptions",
      "AT_SetOptions",        "AT_ResetOptions",       "AT_DropIdentity",        "AT_SetIdentity",
      "AT_GenericOptions"};
  const std::string subtype = cmd.value("subtype", "");
  if (catalog_only.count(subtype) != 0) return true;
  if (subtype != "AT_AddColumn") return false;
  const auto& col = cmd.value("def", nlohmann::json::object()).value("ColumnDef", nlohmann::json::object());
  // The type: one of pg_catalog's (a domain may carry a default or a check).
  static const std::set<std::string> builtin = {
      "text",   "varchar", "bpchar", "int2",   "int4",  "int8",     "bool",   "uuid",  "timestamptz",
      "timestamp", "date", "time",   "timetz", "numeric", "float4", "float8", "jsonb", "json",
      "bytea",  "inet",    "cidr",   "interval", "money", "xml",     "tsvector", "oid"};
  std::vector<std::string> type_names;
  for (const auto& n : col.value("typeName", nlohmann::json::object()).value("names", nlohmann::json::array()))
    type_names.push_back(n.value("String", nlohmann::json::object()).value("sval", ""));
  if (type_names.empty() || builtin.count(type_names.back()) == 0 ||
      (type_names.size() == 2 && type_names.front() != "pg_catalog") || type_names.size() > 2)
    return false;
  bool not_null = false, constant_default = false;
  for (const auto& k : col.value("constraints", nlohmann::json::array())) {
    const auto& con = k.value("Constraint", nlohmann::json::object());
    const std::string type = con.value("contype", "");
    if (type == "CONSTR_NULL") continue;
    if (type == "CONSTR_NOTNULL") {
      not_null = true;
      continue;
    }
    if (type != "CONSTR_DEFAULT") return false;  // CHECK, REFERENCES, UNIQUE, GENERATED, IDENTITY
    // A constant, or a constant cast: 'x', 0, 'x'::text (not NULL: then NOT NULL scans).
    nlohmann::json e = con.value("raw_expr", nlohmann::json::object());
    if (e.contains("TypeCast")) e = e["TypeCast"].value("arg", nlohmann::json::object());
    if (!e.contains("A_Const") || e["A_Const"].value("isnull", false)) return false;
    constant_default = true;
  }
  return !not_null || constant_default;
}

// What lock tracing needs to know of st (node: its parse tree) before it
// runs; created: the tables the source created before it.
void trace_facts(statement& st, const nlohmann::json& node, std::set<std::string>& created) {
  static const std::set<std::string> blocking_kinds = {
      "AlterTableStmt", "IndexStmt",   "CreateTrigStmt", "CreatePolicyStmt", "AlterPolicyStmt",
      "VacuumStmt",     "ClusterStmt", "TruncateStmt",   "LockStmt",         "RefreshMatViewStmt",
      "CreateStmt",     "RuleStmt",    "ReindexStmt",    "AlterObjectSchemaStmt"};
  const std::string& kind = st.kind;
  std::vector<std::string> names;
  bool calls = false;
  range_vars(node, names, calls);
  st.runs_code = kind == "DoStmt" || kind == "CallStmt" || kind == "DropStmt" || kind == "RenameStmt" ||
                 kind == "ExecuteStmt" || (kind == "SelectStmt" && calls);
  st.may_block = blocking_kinds.count(kind) != 0;
  if (kind == "CreateStmt") {
    // Only a partition, a child or a foreign key locks a table that exists.
    const std::string dumped = node.dump();
    st.may_block = node.contains("partbound") || node.contains("inhRelations") ||
                   dumped.find("\"CONSTR_FOREIGN\"") != std::string::npos;
  } else if (kind == "AlterTableStmt") {
    // Subcommands that take no lock stronger than SHARE UPDATE EXCLUSIVE on the table.
    static const std::set<std::string> weak = {"AT_ValidateConstraint", "AT_SetStatistics", "AT_AttachPartition",
                                               "AT_DetachPartitionFinalize", "AT_ClusterOn", "AT_DropCluster"};
    bool any = false;
    for (const auto& c : node.value("cmds", nlohmann::json::array()))
      if (c.contains("AlterTableCmd") && weak.count(c["AlterTableCmd"].value("subtype", "")) == 0) any = true;
    st.may_block = any;
    st.may_rewrite = false;
    for (const auto& c : node.value("cmds", nlohmann::json::array()))
      st.may_rewrite = st.may_rewrite || !c.contains("AlterTableCmd") || !rewrites_nothing(c["AlterTableCmd"]);
  }
  // The table a CREATE TABLE makes is new; a PARTITION OF or INHERITS parent is not.
  std::string made;
  if (kind == "CreateStmt" || kind == "CreateTableAsStmt") {
    const auto& rel = kind == "CreateStmt"
                          ? node.value("relation", nlohmann::json::object())
                          : node.value("into", nlohmann::json::object()).value("rel", nlohmann::json::object());
    const std::string schema = rel.value("schemaname", "");
    made = schema.empty() ? rel.value("relname", "") : schema + "." + rel.value("relname", "");
  }
  auto bare = [](const std::string& n) { return n.substr(n.find('.') == std::string::npos ? 0 : n.find('.') + 1); };
  for (const auto& n : names) {
    if (n == made || created.count(n) != 0 || created.count(bare(n)) != 0) continue;
    if (std::find(st.tables.begin(), st.tables.end(), n) == st.tables.end()) st.tables.push_back(n);
  }
  if (!made.empty()) {
    created.insert(made);
    created.insert(bare(made));
  }
}

}  // namespace

script_plan plan_script(const sql_source& src) {
  if (auto meta = find_meta_command(src.text)) {
    if (auto copy = copy_from_stdin_before(src.text, *meta)) {
      auto d = at(src, *copy,
                  "COPY ... FROM STDIN with its rows in the file; migrations must be plain SQL, and it is psql "
                  "that sends such rows");
      d.hint = "write the rows as INSERT statements (pg_dump --inserts gives them), or load them in a seed file "
               "the same way";
      throw script_error(d);
    }
    auto d = at(src, *meta, "");
    std::size_t end = *meta + 1;
    while (end < src.text.size() && std::isalpha(static_cast<unsigned char>(src.text[end]))) ++end;
    std::string cmd = src.text.substr(*meta, end - *meta);
    d.message = "psql meta-command \"" + cmd + "\" in a migration; migrations must be plain SQL";
    d.hint = "pgmt sends SQL to the server as written, without psql; replace \"" + cmd +
             "\" with SQL (include files by splitting them into migrations, set values with SQL)";
    throw script_error(d);
  }

  script_plan plan;
  PgQuerySplitResult split = pg_query_split_with_scanner(src.text.c_str());
  if (split.error) {
    int cursor = split.error->cursorpos;
    std::string msg = split.error->message ? split.error->message : "could not split statements";
    pg_query_free_split_result(split);
    auto d = at(src, byte_offset_of_char(src.text, cursor), cut_message(msg));
    d.sqlstate = "42601";
    throw script_error(d);
  }
  for (int i = 0; i < split.n_stmts; ++i) {
    statement st;
    st.offset = static_cast<std::size_t>(split.stmts[i]->stmt_location);
    st.length = static_cast<std::size_t>(split.stmts[i]->stmt_len);
    if (st.length == 0) st.length = src.text.size() - st.offset;
    st.start = skip_blanks_and_comments(src.text, st.offset);
    if (st.start >= st.offset + st.length) continue;  // only comments
    plan.statements.push_back(st);
  }
  pg_query_free_split_result(split);
  // The splitter leaves out text it cannot read as a statement (a word that is
  // no SQL keyword, everything after an unclosed parenthesis): such text is
  // sent to the server too, which says what is wrong with it, and where.
  {
    auto skip_noise = [&src](std::size_t from) {
      for (;;) {
        from = skip_blanks_and_comments(src.text, from);
        if (from < src.text.size() && src.text[from] == ';') {
          ++from;
          continue;
        }
        return from;
      }
    };
    std::vector<statement> all;
    std::size_t cursor = 0;
    auto add_gap = [&](std::size_t until) {
      const std::size_t from = skip_noise(cursor);
      if (from >= until) return;
      std::size_t end = until;
      while (end > from && (std::isspace(static_cast<unsigned char>(src.text[end - 1])) || src.text[end - 1] == ';'))
        --end;
      statement gap;
      gap.offset = from;
      gap.start = from;
      gap.length = end - from;
      all.push_back(gap);
    };
    for (const auto& st : plan.statements) {
      add_gap(st.offset);
      all.push_back(st);
      cursor = std::max(cursor, st.offset + st.length);
    }
    add_gap(src.text.size());
    plan.statements = std::move(all);
  }

  std::string first_no_tx;
  std::set<std::string> created_tables;  // by the source before a statement, for lock tracing
  // A SET ROLE (or SESSION AUTHORIZATION) not undone by the end of the file.
  std::optional<std::size_t> role_left;
  std::string role_what;
  for (auto& st : plan.statements) {
    std::string text = src.text.substr(st.offset, st.length);
    PgQueryParseResult parsed = pg_query_parse(text.c_str());
    if (!parsed.error && parsed.parse_tree) {
      try {
        auto tree = nlohmann::json::parse(parsed.parse_tree);
        const auto& stmts = tree.at("stmts");
        if (!stmts.empty() && stmts[0].contains("stmt")) {
          const auto& stmt = stmts[0]["stmt"];
          st.kind = node_kind(stmt);
          const auto& node = stmt[st.kind];
          st.transaction_control = is_transaction_control(st.kind, node);
          st.no_transaction_reason = no_transaction_reason(st.kind, node);
          if (st.kind == "CreateExtensionStmt") st.creates_extension = node.value("extname", "");
          if (st.kind == "DropdbStmt" && pgmt_needs_database(node.value("dbname", ""))) {
            const std::string db = node.value("dbname", "");
            pg_query_free_parse_result(parsed);
            auto d = at(src, st.start,
                        "the statement drops the database \"" + db + "\", which " +
                            (db.rfind("pgmt_", 0) == 0 ? std::string("pgmt made for its own work")
                                                       : "pgmt and most tools connect to") +
                            "; no check could run after it");
            d.hint = "drop databases outside the migrations";
            throw script_error(d);
          }
          if (auto who = alters_own_role(st.kind, node)) {
            pg_query_free_parse_result(parsed);
            auto d = at(src, st.start,
                        "the statement " + std::string(st.kind == "DropRoleStmt" ? "drops" : "alters") + " " +
                            *who +
                            ", the role the migrations run as (pgmt's own superuser \"" + own_role +
                            "\" on the servers it starts, the URL's role on an external server): every "
                            "later migration and check would run without what it takes away");
            d.hint = "alter roles by their own name; on pgmt's servers \"postgres\" is an ordinary superuser "
                     "that migrations may alter, demote or drop";
            throw script_error(d);
          }
          if (auto e = effect_of(st.kind, node, node.dump())) {
            e->start = st.start;
            plan.effects.push_back(*e);
          }
          trace_facts(st, node, created_tables);
          if (st.kind == "VariableSetStmt" &&
              (node.value("name", "") == "role" || node.value("name", "") == "session_authorization")) {
            plan.sets_role = true;
            const bool to_none = node.value("kind", "") != "VAR_SET_VALUE" ||
                                 node.dump().find(R"("sval":{"sval":"none"})") != std::string::npos;
            if (node.value("is_local", false)) {
            } else if (to_none) {
              role_left.reset();
            } else if (!role_left) {
              role_left = st.start;
              role_what = node.value("name", "") == "role" ? "SET ROLE" : "SET SESSION AUTHORIZATION";
            }
          } else if (st.kind == "DiscardStmt") {
            role_left.reset();
          }
          // pgmt's own schema: its tracking table, left out of every snapshot.
          // A script that puts objects there, or drops it, would go unseen.
          const std::string dumped = node.dump();
          const bool drops_it = (st.kind == "DropStmt" && node.value("removeType", "") == "OBJECT_SCHEMA" &&
                                 dumped.find(R"({"String":{"sval":"pgmt"}})") != std::string::npos) ||
                                (st.kind == "RenameStmt" && node.value("renameType", "") == "OBJECT_SCHEMA" &&
                                 node.value("subname", "") == "pgmt");
          if (st.kind == "VariableSetStmt" && node.value("name", "") == "search_path" &&
              dumped.find(R"("sval":"pgmt")") != std::string::npos) {
            pg_query_free_parse_result(parsed);
            auto d = at(src, st.start,
                        "the statement puts the schema \"pgmt\" on the search_path: what is created after it "
                        "lands in the schema pgmt keeps for itself (its tracking table, pgmt.migrations), which "
                        "every snapshot leaves out");
            d.hint = "give the schema another name";
            throw script_error(d);
          }
          if (st.kind != "SelectStmt" && (dumped.find(R"("schemaname":"pgmt")") != std::string::npos || drops_it)) {
            pg_query_free_parse_result(parsed);
            auto d = at(src, st.start,
                        std::string(!drops_it            ? "the statement uses"
                                    : st.kind == "RenameStmt" ? "the statement renames"
                                                              : "the statement drops") +
                            " the schema \"pgmt\", which pgmt keeps for itself (its tracking table, "
                            "pgmt.migrations) and leaves out of every snapshot");
            d.hint = drops_it ? "leave the schema pgmt alone; pgmt creates and drops it"
                              : "give the schema another name";
            throw script_error(d);
          }
        }
      } catch (const nlohmann::json::exception&) {
        // Leave it unclassified: the server judges it.
      }
    }
    pg_query_free_parse_result(parsed);
    if (first_no_tx.empty() && !st.no_transaction_reason.empty()) {
      auto pos = position_of(src.text, st.start);
      first_no_tx = st.no_transaction_reason + " at line " + std::to_string(src.first_line + pos.line - 1);
    }
  }

  if (role_left) {
    server_effect e;
    e.start = *role_left;
    e.what = role_what +
             " stays in force after the migration: a tool that runs the next migration, or its own "
             "bookkeeping, on the same session runs it as that role";
    e.instead = "end the migration with RESET ROLE (RESET SESSION AUTHORIZATION), or use SET LOCAL ROLE inside "
                "its transaction; pgmt resets the session after each migration";
    plan.effects.push_back(e);
    std::stable_sort(plan.effects.begin(), plan.effects.end(),
                     [](const server_effect& a, const server_effect& b) { return a.start < b.start; });
  }

  static const std::set<std::string> server_kinds = {
      "CreateTableSpaceStmt", "DropTableSpaceStmt",     "AlterTableSpaceOptionsStmt", "CreatedbStmt",
      "DropdbStmt",           "AlterDatabaseStmt",      "AlterDatabaseSetStmt",       "AlterDatabaseRefreshCollStmt",
      "AlterSystemStmt",      "ReassignOwnedStmt",      "DropOwnedStmt",              "CreateSubscriptionStmt",
      "AlterSubscriptionStmt", "DropSubscriptionStmt", "CheckPointStmt"};
  for (const auto& st : plan.statements) {
    // Lower case, each run of blanks one space.
    std::string text;
    for (char ch : src.text.substr(st.offset, st.length)) {
      const bool blank = std::isspace(static_cast<unsigned char>(ch)) != 0;
      if (blank && (text.empty() || text.back() == ' ')) continue;
      text += blank ? ' ' : static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    auto mentions = [&text](std::initializer_list<const char*> words) {
      return std::any_of(words.begin(), words.end(),
                         [&text](const char* w) { return text.find(w) != std::string::npos; });
    };
    if (st.kind == "CreateRoleStmt" || st.kind == "AlterRoleStmt" || st.kind == "AlterRoleSetStmt" ||
        st.kind == "DropRoleStmt" || st.kind == "GrantRoleStmt") {
      plan.touches_roles = true;
    } else if (st.kind == "DoStmt") {
      if (mentions({"role"})) plan.touches_roles = true;
    }
    if ((st.kind == "DoStmt" || st.kind == "CreateFunctionStmt") &&
        mentions({"set role", "set local role", "session authorization"}))
      plan.sets_role = true;
    if (mentions({"set_config('role'", "set_config( 'role'", "set_config('session_authorization'"}))
      plan.sets_role = true;
    // Code (a DO block, a function a later statement calls) may do anything
    // its text names: a role granted (GRANT without ON), created or altered;
    // so may a statement that reaches other sessions.
    const bool code = st.kind == "DoStmt" || st.kind == "CreateFunctionStmt" || st.kind.empty();
    bool grants_role = false;
    if (code)
      for (std::size_t at = text.find("grant "); at != std::string::npos && !grants_role;
           at = text.find("grant ", at + 1)) {
        const std::string clause = text.substr(at, text.find_first_of(";'", at) - at);
        grants_role = clause.find(" to ") != std::string::npos && clause.find(" on ") == std::string::npos;
      }
    if (plan.touches_roles || server_kinds.count(st.kind) || grants_role ||
        mentions({"_backend(", "dblink", "pg_reload_conf"}) ||
        (code && mentions({"create role", "alter role", "drop role", "create user ", "alter user ", "drop user ",
                           "create group", "alter group", "drop group", "create database", "alter database",
                           "drop database", "create tablespace", "alter tablespace", "drop tablespace",
                           "alter system", "subscription", "reassign owned", "drop owned"})))
      plan.shares_server = true;
  }

  bool has_tx_control = false;
  for (const auto& st : plan.statements) has_tx_control = has_tx_control || st.transaction_control;
  if (has_tx_control) {
    plan.mode = tx_mode::self_managed;
    plan.mode_reason = "the file manages its own transactions";
  } else if (src.no_transaction) {
    plan.mode = tx_mode::per_statement;
    plan.mode_reason = src.no_transaction_why.empty() ? "-- pgmt:no-transaction" : src.no_transaction_why;
  } else if (!first_no_tx.empty()) {
    plan.mode = tx_mode::per_statement;
    plan.mode_reason = first_no_tx + " cannot run inside a transaction";
  }
  return plan;
}

// ---- running ----

namespace {

// What each thread's run_script is running (running_statements).
struct running_entry {
  std::string where;
  std::chrono::steady_clock::time_point since;
};
std::mutex running_mu;
std::map<std::thread::id, running_entry>& running() {
  static std::map<std::thread::id, running_entry> m;
  return m;
}

// Marks a statement as running for as long as it lives.
class running_statement {
 public:
  running_statement(const sql_source& src, const statement& st, const std::string& label) {
    const int line = src.first_line + position_of(src.text, st.start).line - 1;
    std::lock_guard<std::mutex> lock(running_mu);
    running()[std::this_thread::get_id()] = {
        display_path(src.path) + ":" + std::to_string(line) + (label.empty() ? "" : " (" + label + ")"),
        std::chrono::steady_clock::now()};
  }
  ~running_statement() {
    std::lock_guard<std::mutex> lock(running_mu);
    running().erase(std::this_thread::get_id());
  }
  running_statement(const running_statement&) = delete;
  running_statement& operator=(const running_statement&) = delete;
};

}  // namespace

std::vector<std::string> running_statements() {
  std::vector<std::string> out;
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(running_mu);
  for (const auto& [id, e] : running())
    out.push_back(e.where + ", running for " +
                  std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now - e.since).count()) + " s");
  return out;
}

std::string format_server_version(int v) {
  if (v >= 100000) return std::to_string(v / 10000) + "." + std::to_string(v % 10000);
  return std::to_string(v / 10000) + "." + std::to_string((v / 100) % 100) + "." + std::to_string(v % 100);
}

std::string format_duration(std::chrono::milliseconds ms) {
  auto n = ms.count();
  if (n % 3600000 == 0 && n > 0) return std::to_string(n / 3600000) + "h";
  if (n % 60000 == 0 && n > 0) return std::to_string(n / 60000) + "min";
  if (n % 1000 == 0 && n > 0) return std::to_string(n / 1000) + "s";
  return std::to_string(n) + "ms";
}

std::chrono::milliseconds parse_duration(std::string_view text) {
  static const std::regex re(R"(^\s*([0-9]+)\s*(ms|s|min|h)?\s*$)");
  std::string s(text);
  std::smatch m;
  if (!std::regex_match(s, m, re))
    throw input_error("\"" + s +
                      "\" is not a duration; write a number with ms, s, min or h (for example 30s)");
  long long n = std::stoll(m[1]);
  std::string unit = m[2];
  if (unit == "s") n *= 1000;
  if (unit == "min") n *= 60000;
  if (unit == "h") n *= 3600000;
  return std::chrono::milliseconds(n);
}

// The extension a failed CREATE EXTENSION could not find on the server.
std::optional<std::string> missing_extension(const server_diagnostics& sd) {
  static const std::regex not_available("extension \"([^\"]+)\" is not available");
  static const std::regex no_control("could not open extension control file \"[^\"]*/([^/\"]+)\\.control\"");
  std::smatch m;
  if (std::regex_search(sd.message, m, not_available)) return m[1].str();
  if (std::regex_search(sd.message, m, no_control)) return m[1].str();
  return std::nullopt;
}

// What to install for an extension the server lacks.
std::string extension_advice(const std::string& ext, int server_version_num) {
  const std::string major = std::to_string(server_version_num / 10000);
  static const std::map<std::string, std::string> debian = {{"vector", "pgvector"},
                                                            {"postgis", "postgis-3"},
                                                            {"postgis_topology", "postgis-3"},
                                                            {"pg_cron", "cron"},
                                                            {"http", "http"},
                                                            {"pgtap", "pgtap"},
                                                            {"pg_partman", "partman"},
                                                            {"pg_repack", "repack"},
                                                            {"hypopg", "hypopg"},
                                                            {"pg_hint_plan", "pg-hint-plan"},
                                                            {"plv8", "plv8"},
                                                            {"pgrouting", "pgrouting"},
                                                            {"rum", "rum"},
                                                            {"pg_hashids", "hashids"},
                                                            {"orafce", "orafce"},
                                                            {"pgaudit", "pgaudit"}};
  static const std::set<std::string> supabase_only = {
      "pg_net",          "pgsodium", "supabase_vault", "pg_graphql",    "pg_jsonschema", "wrappers",
      "pg_stat_monitor", "pg_tle",   "pgjwt",          "index_advisor", "pg_later",      "timescaledb"};
  std::string advice = "the server (PostgreSQL " + format_server_version(server_version_num) +
                       ") has no extension \"" + ext + "\"; install it where the server runs";
  // Debian's own archive lacks some of them for older servers (Debian 12 has
  // no pgvector, http or plv8 for PostgreSQL 15); the PostgreSQL apt
  // repository has them for every supported major.
  static const std::set<std::string> pgdg_only = {"vector", "http", "plv8", "pg_hashids"};
  if (auto it = debian.find(ext); it != debian.end()) {
    if (pgdg_only.count(ext))
      return advice + ": on Debian or Ubuntu, apt-get install postgresql-" + major + "-" + it->second +
             " from the PostgreSQL apt repository (apt.postgresql.org; Debian 12's own archive does not have it "
             "for PostgreSQL 15)";
    return advice + ": on Debian or Ubuntu, apt-get install postgresql-" + major + "-" + it->second;
  }
  if (supabase_only.count(ext))
    return advice +
           " (Debian has no package for it; build it from its project), or keep the migration "
           "that needs it out of the tests";
  return advice + " (on Debian or Ubuntu its package is usually postgresql-" + major + "-" + ext + ")";
}

// Errors that say a Supabase object is missing.
bool looks_like_supabase(const std::string& message) {
  static const std::regex pattern(
      "(schema \"(auth|storage|extensions)\" does not exist|relation \"(auth|storage)\\.[a-z_]+\" does "
      "not exist|function (auth|storage)\\.[a-z_]+\\(|role \"(anon|authenticated|service_role|"
      "supabase_admin|authenticator)\" does not exist|publication \"supabase_realtime\" does not exist)");
  return std::regex_search(message, pattern);
}

diagnostic diagnose(const sql_source& src, const statement& st, const sql_error& e, int server_version_num,
                    const run_options& opts) {
  const auto& sd = e.diagnostics();
  std::string stmt_text = src.text.substr(st.offset, st.length);
  std::size_t offset = st.start;
  static const std::regex missing_object(
      R"re(^(?:relation|type|schema|function|column|table) "([^"]+)" does not exist)re");
  std::smatch missing;
  if (sd.position > 0) {
    offset = st.offset + byte_offset_of_char(stmt_text, sd.position);
  } else if (std::regex_search(sd.message, missing, missing_object)) {
    // The server gives no position for names it resolves late (a REFERENCES
    // target, a function in a default): point at the name in the statement.
    if (auto found = find_name(stmt_text, st.start - st.offset, missing[1].str()))
      offset = st.offset + *found;
  } else {
    // A PL/pgSQL error in a DO block: "PL/pgSQL function inline_code_block
    // line N", innermost first; a DO block written inside another one is
    // followed into, frame by frame from the outermost.
    static const std::regex inline_line(R"(inline_code_block line ([0-9]+))");
    std::vector<int> frames;
    for (auto it = std::sregex_iterator(sd.context.begin(), sd.context.end(), inline_line);
         it != std::sregex_iterator(); ++it)
      frames.push_back(std::stoi((*it)[1]));
    if (st.kind == "DoStmt" && !frames.empty()) {
      const std::size_t end = st.offset + st.length;
      std::size_t from = st.offset;
      for (auto frame = frames.rbegin(); frame != frames.rend(); ++frame) {
        std::optional<std::size_t> line_start;
        std::string_view t(src.text);
        for (std::size_t i = from; i < end; ++i) {
          if (std::size_t len = dollar_tag_length(t, i); len > 0) {
            std::size_t at_line = i + len;
            for (int l = 1; l < *frame && at_line < end; ++l) {
              auto nl = src.text.find('\n', at_line);
              if (nl == std::string::npos || nl >= end) break;
              at_line = nl + 1;
            }
            line_start = at_line;
            break;
          }
        }
        if (!line_start) break;
        offset = skip_blanks_and_comments(src.text, *line_start);
        if (offset > end) offset = *line_start;
        // The next frame is a DO block written at this line.
        const bool nested_do = offset + 2 < end && (src.text[offset] == 'd' || src.text[offset] == 'D') &&
                               (src.text[offset + 1] == 'o' || src.text[offset + 1] == 'O') &&
                               !std::isalnum(static_cast<unsigned char>(src.text[offset + 2])) &&
                               src.text[offset + 2] != '_';
        if (!nested_do) break;
        from = offset + 2;
      }
    }
  }
  diagnostic d = at(src, offset, cut_message(sd.message));
  d.sqlstate = sd.sqlstate;
  d.detail = sd.detail;
  d.hint = sd.hint;
  d.context = sd.context;
  const std::string what = opts.label.empty() ? std::string("the script") : opts.label;
  if (sd.sqlstate == "57014" && opts.statement_timeout.count() > 0 &&
      sd.message.find("statement timeout") != std::string::npos) {
    d.message = what + " exceeded statement_timeout (" + format_duration(opts.statement_timeout) + ")";
    d.notes.push_back(
        "raise STATEMENT_TIMEOUT (CMake) or --statement-timeout if the statement is meant to take this long");
  } else if (sd.sqlstate == "55P03" && opts.lock_timeout.count() > 0) {
    d.message = what + " waited longer than lock_timeout (" + format_duration(opts.lock_timeout) +
                ") for a lock: " + sd.message;
    d.notes.push_back(
        "another session holds a conflicting lock; raise LOCK_TIMEOUT (CMake) or --lock-timeout to wait "
        "longer");
  }
  if (sd.sqlstate == "42710" && sd.message.rfind("role \"", 0) == 0)
    d.notes.push_back(
        "roles belong to the whole server, and pgmt runs each migration in several databases of one "
        "server; create roles only when missing (a DO block with IF NOT EXISTS)" +
            std::string(opts.label.rfind("migration", 0) == 0 ? ", or create them in a fixture" : ""));
  if (sd.sqlstate == "42501" && (sd.message.find("to create role") != std::string::npos ||
                                 sd.message.find("superuser to create") != std::string::npos ||
                                 sd.message.find("to alter role") != std::string::npos))
    d.notes.push_back(
        "the role pgmt connects as cannot create or change this role; connect as a superuser (or a role with "
        "CREATEROLE), or create the roles on the server beforehand: scripts that create roles only when "
        "missing then leave them alone");
  if (sd.sqlstate == "42501" && opts.shared_server)
    d.notes.push_back("on this server the migrations run as the role of PGMT_DATABASE_URL: what that role may "
                      "not do, they may not do here; pgmt's own server (PGMT_SERVER=temp or container) runs them "
                      "as a superuser");
  // An extension that must be preloaded (pg_cron, pg_stat_statements, ...):
  // its settings are unknown, or it says so itself.
  bool preload_note = false;
  {
    static const std::regex unknown_setting(R"re(unrecognized configuration parameter "([a-z_0-9]+)\.[a-z_0-9.]+")re");
    static const std::regex must_preload(R"re(([a-z_0-9]+) must be loaded via "?shared_preload_libraries)re");
    std::smatch m;
    static const std::set<std::string> preloaded = {
        "cron",           "pg_stat_statements", "auto_explain",    "pg_net",        "timescaledb",
        "pgaudit",        "pg_partman_bgw",     "pg_hint_plan",    "pgsodium",      "pg_stat_monitor",
        "citus",          "pg_prewarm",         "pg_qualstats",    "pg_wait_sampling", "pg_squeeze",
        "pglogical",      "pg_cron",            "supautils",       "plpgsql_check"};
    if ((std::regex_search(sd.message, m, unknown_setting) && preloaded.count(m[1].str())) ||
        std::regex_search(sd.message, m, must_preload)) {
      const std::string lib = m[1].str() == "cron" ? "pg_cron" : m[1].str();
      d.notes.push_back("\"" + lib +
                        "\" must be loaded when the server starts; give the servers pgmt starts "
                        "SERVER_SETTINGS shared_preload_libraries=" +
                        lib + " (CMake) or --server-setting shared_preload_libraries=" + lib);
      preload_note = true;
    }
  }
  if (sd.message.rfind("can only create extension in database ", 0) == 0)
    d.notes.push_back(
        opts.shared_server
            ? "pgmt runs each migration in a database of its own, and lends it the name cron.database_name gives "
              "only on its own server: test migrations that create pg_cron on pgmt's server (PGMT_SERVER=temp or "
              "container) with SERVER_SETTINGS shared_preload_libraries=pg_cron"
            : "pgmt lends the migration's database the name cron.database_name gives while a CREATE EXTENSION "
              "pg_cron statement of the migration runs, not one run by a DO block or a function: make it a "
              "statement of its own");
  if (sd.sqlstate == "2D000")
    d.notes.push_back(
        "COMMIT or ROLLBACK inside a DO block or procedure cannot run inside the transaction pgmt runs " +
        what + " in; put -- pgmt:no-transaction in its first lines to run it outside one");
  if (sd.sqlstate == "42601") {
    // A psql variable (:name, :'name', :"name") where the server saw a syntax error.
    const std::string_view text = src.text;
    const std::size_t p = offset;
    if (p + 1 < text.size() && text[p] == ':' && (p == 0 || text[p - 1] != ':') && text[p + 1] != ':') {
      const char next = text[p + 1];
      const bool quoted = next == '\'' || next == '"';
      if (quoted || std::isalpha(static_cast<unsigned char>(next)) || next == '_') {
        std::size_t e = p + 2;
        while (e < text.size() && (quoted ? text[e] != next
                                          : std::isalnum(static_cast<unsigned char>(text[e])) || text[e] == '_'))
          ++e;
        if (quoted && e < text.size()) ++e;
        d.notes.push_back("\"" + std::string(text.substr(p, e - p)) +
                          "\" is a psql variable; pgmt sends SQL without psql, so nothing replaces it: write "
                          "the value itself");
      }
    }
  }
  // What a newer server's syntax or catalog can cause (PostgreSQL 18's named
  // NOT NULL constraints, a function or a column added since): the version.
  static const std::set<std::string> newer_server_states = {"42601", "42704", "42883", "42703", "0A000", "22023"};
  const auto ext = missing_extension(sd);
  if (newer_server_states.count(sd.sqlstate) && !ext && !preload_note)
    d.notes.push_back("the server is PostgreSQL " + format_server_version(server_version_num) +
                      "; syntax or objects of a newer version fail here");
  if (ext) d.notes.push_back(extension_advice(*ext, server_version_num));
  if (looks_like_supabase(sd.message))
    d.notes.push_back(
        "Supabase migrations expect what Supabase provides (auth, storage, extensions, the anon, "
        "authenticated and service_role roles): use the supabase profile (PROFILE supabase in CMake, "
        "--profile supabase for pgmt)");
  return d;
}

void catalog_changes::merge(const catalog_changes& other) {
  changed.insert(other.changed.begin(), other.changed.end());
  deleted.insert(other.deleted.begin(), other.deleted.end());
}

namespace {
run_stats run_script_as_planned(connection& conn, const sql_source& src, const run_options& opts);
}  // namespace

run_stats run_script(connection& conn, const sql_source& src, const run_options& opts) {
  try {
    return run_script_as_planned(conn, src, opts);
  } catch (const connection_error& e) {
    // Lost after its statements ran (the statement that ended the session
    // returned first): blame the statement that ends sessions, else the last.
    const script_plan plan = plan_script(src);
    std::size_t at_offset = plan.statements.empty() ? 0 : plan.statements.back().start;
    for (const auto& eff : plan.effects)
      if (eff.what.find("pg_terminate_backend") != std::string::npos) at_offset = eff.start;
    diagnostic d = at(src, at_offset,
                      (opts.label.empty() ? std::string("the script") : opts.label) +
                          " lost its session once its statements had run: " + e.what());
    d.hint = "a statement that ends its own session (pg_terminate_backend of every other session, pgmt's "
             "included), or a server that stops, ends the migration here";
    throw script_error(d);
  }
}

namespace {

// Watches, from a second session, the locks a statement of conn holds while
// it runs: every few milliseconds until stop(), the rows of locks_sql for
// conn's backend (the second session is opened on first use and kept).
class lock_watch {
 public:
  lock_watch(connection& conn, std::optional<std::pair<connection, std::string>>& watcher,
             const std::string& locks_sql) {
    try {
      if (!watcher) {
        const std::string pid = conn.exec("select pg_catalog.pg_backend_pid()").value(0, 0);
        watcher.emplace(connection(conn.conninfo()), pid);
      }
    } catch (...) {
      return;  // no second session: the statement is not watched
    }
    connection* second = &watcher->first;
    std::string sql = locks_sql;
    const std::string own = "l.pid = pg_catalog.pg_backend_pid()";
    sql.replace(sql.find(own), own.size(), "l.pid = " + watcher->second);
    thread_ = std::thread([this, second, sql] {
      while (!stop_.load()) {
        try {
          result r = second->exec(sql);
          std::lock_guard<std::mutex> lock(mu_);
          for (int i = 0; i < r.rows(); ++i) rows_.push_back({r.value(i, 0), r.value(i, 1), r.value(i, 2), ""});
        } catch (...) {
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    });
  }
  lock_watch(const lock_watch&) = delete;
  lock_watch& operator=(const lock_watch&) = delete;
  ~lock_watch() { (void)stop(); }
  std::vector<std::array<std::string, 4>> stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    std::lock_guard<std::mutex> lock(mu_);
    return rows_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::array<std::string, 4>> rows_;
  std::thread thread_;
};

// The first n characters of statement st, in lower case (its first keyword).
std::string head_of(const sql_source& src, const statement& st, std::size_t n) {
  std::string head = src.text.substr(st.start, std::min(n, st.offset + st.length - st.start));
  for (auto& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return head;
}

run_stats run_script_as_planned(connection& conn, const sql_source& src, const run_options& opts) {
  script_plan plan = plan_script(src);
  run_stats stats;
  stats.mode = plan.mode;
  const auto t0 = std::chrono::steady_clock::now();
  const bool wrap = plan.mode == tx_mode::single_transaction;
  const bool nested = opts.nested;
  if (nested && !wrap)
    throw nesting_error(
        "\"" + display_path(src.path) + "\" runs " +
        (plan.mode == tx_mode::self_managed ? "its own transactions" : "without a transaction") +
        " and cannot run inside another");
  const std::string scope = wrap ? "set local " : "set ";

  // What reaches past the database: refused on a server that is not pgmt's,
  // warned about on its own.
  for (const auto& e : plan.effects) {
    if (!e.refused_on_shared || !opts.shared_server) continue;
    diagnostic d = at(src, e.start,
                      e.what + "; pgmt does not run it on a server it does not own (PGMT_SERVER=external)");
    d.hint = "test this migration on pgmt's own server (PGMT_SERVER=temp or container), where pgmt runs it; or " +
             e.instead;
    throw script_error(d);
  }
  if (!opts.shared_server && opts.drop_created_databases && !nested &&
      conn.transaction_status() == tx_status::idle)
    for (const auto& e : plan.effects)
      if (!e.created_database.empty() && e.created_database.rfind("pgmt_", 0) != 0)
        conn.exec("drop database if exists " + conn.quote_ident(e.created_database) + " with (force)");

  // Whatever a script SETs (search_path, role) stays with the session after
  // commit; the next script on this connection must start as on a new one.
  auto reset_session = [&conn, nested] {
    if (conn.transaction_status() != (nested ? tx_status::in_transaction : tx_status::idle)) return;
    try {
      conn.exec("reset role; reset session authorization; reset all");
    } catch (...) {
    }
  };
  auto rollback_quietly = [&conn, &reset_session, nested] {
    if (conn.transaction_status() == tx_status::in_transaction ||
        conn.transaction_status() == tx_status::in_error) {
      try {
        conn.exec(nested ? "rollback to savepoint pgmt_script; release savepoint pgmt_script" : "rollback");
      } catch (...) {
      }
    }
    reset_session();
  };

  // The statistics of the session's catalog writes as the transaction starts:
  // they still hold what earlier transactions did until the server collects
  // them (never inside a transaction), so what this one did is the difference.
  // (The pg_stat_xact_* views join every relation of the database; the
  // functions they are made of are cheap.)
  const char* const catalog_stats_sql =
      "select relname, ins + upd + del, del from (select c.relname, "
      "pg_catalog.pg_stat_get_xact_tuples_inserted(c.oid) as ins, "
      "pg_catalog.pg_stat_get_xact_tuples_updated(c.oid) as upd, "
      "pg_catalog.pg_stat_get_xact_tuples_deleted(c.oid) as del from pg_catalog.pg_class c "
      "where c.relnamespace = 'pg_catalog'::regnamespace and c.relkind = 'r') s where ins + upd + del > 0";
  std::map<std::string, std::pair<long long, long long>> catalog_stats_before;
  bool track_counts = false;
  // The limits, in the round trip that opens the transaction.
  const std::string limits = scope + "statement_timeout = " + std::to_string(opts.statement_timeout.count()) +
                             "; " + scope + "lock_timeout = " + std::to_string(opts.lock_timeout.count());
  const std::string open = wrap ? std::string(nested ? "savepoint pgmt_script; " : "begin; ") + limits : limits;
  conn.exec(open);
  if (wrap && opts.count_writes) {
    // Whether the server counts (track_counts), in the same round trip: the
    // row with an empty name. (A prepared statement of its own: planning it
    // anew in the round trip that opens the transaction costs more.)
    result r = conn.exec_prepared(
        "select ''::text, case when pg_catalog.current_setting('track_counts') = 'on' then 1 else 0 "
        "end::bigint, 0::bigint union all select relname::text, n, d from (" +
        std::string(catalog_stats_sql) + ") t(relname, n, d)");
    for (int i = 0; i < r.rows(); ++i) {
      if (r.value(i, 0).empty())
        track_counts = r.value(i, 1) == "1";
      else
        catalog_stats_before[r.value(i, 0)] = {std::stoll(r.value(i, 1)), std::stoll(r.value(i, 2))};
    }
    if (!track_counts) catalog_stats_before.clear();
  }
  if (wrap && plan.touches_roles) {
    // Held to the end of the transaction, so that two migrations on one
    // server never change roles at once (checks run without an engine, side
    // by side), under the migration's lock_timeout like its own locks. (A
    // role that may not lock it, on an external server, goes without.)
    const auto first_role = std::find_if(plan.statements.begin(), plan.statements.end(), [](const statement& st) {
      return st.kind.find("Role") != std::string::npos || st.kind == "DoStmt";
    });
    try {
      if (conn.exec("select pg_catalog.has_table_privilege('pg_catalog.pg_authid', 'UPDATE')").value(0, 0) == "t")
        conn.exec("lock table pg_catalog.pg_authid in share row exclusive mode");
    } catch (const sql_error& e) {
      rollback_quietly();
      if (e.sqlstate() != "55P03") throw;
      diagnostic d = at(src, first_role == plan.statements.end() ? 0 : first_role->start,
                        (opts.label.empty() ? std::string("the script") : opts.label) +
                            " waited lock_timeout (" + format_duration(opts.lock_timeout) +
                            ") for pgmt's lock on roles: another migration that changes roles ran on this "
                            "server all that time");
      d.hint = "run such checks one at a time, or raise LOCK_TIMEOUT";
      throw script_error(d);
    }
  }
  // The limit from the client too: a script that lifts statement_timeout
  // (SET, set_config, a function with its own SET) is still stopped, a grace
  // after the limit.
  std::optional<watchdog> dog;
  if (opts.statement_timeout.count() > 0) dog.emplace(conn);
  const auto dog_limit = opts.statement_timeout + std::chrono::milliseconds(1000) + opts.statement_timeout / 10;
  // A tablespace an earlier run of this migration made on pgmt's own server
  // is there still (it outlives the databases): kept, as a new server would
  // have it after the statement. (Not in the run that repeats the migration
  // to test it is idempotent: that one meets it as a real second run would.)
  std::set<std::size_t> tablespaces_there;
  if (!opts.shared_server && opts.drop_created_databases && !nested)
    for (const auto& e : plan.effects)
      if (!e.created_tablespace.empty() &&
          conn.exec_params("select 1 from pg_catalog.pg_tablespace where spcname = $1", {e.created_tablespace})
                  .rows() > 0)
        tablespaces_there.insert(e.start);
  // Lock tracing. The tables of the state before that the script may lock are
  // read as it starts: those it names, or all of them when a statement runs
  // code (DO, CALL, a function). A statement that runs code is sent with a
  // query of the session's blocking locks and their tables' files; one that
  // may rewrite a table it names, with a query of those tables' files; the
  // locks of the statements that only name tables are read once, at the end,
  // and each is put on the first statement that names its table and may take
  // such a lock (pg_locks reads the whole lock table: once, not per statement).
  // A file run statement by statement (-- pgmt:no-transaction, CONCURRENTLY)
  // commits each: a statement that can run in a transaction is sent with the
  // query of the locks, in the implicit transaction of one round trip; one
  // that cannot (CREATE INDEX CONCURRENTLY, VACUUM) is watched from a second
  // session. A file with its own BEGIN and COMMIT is traced statement by
  // statement: inside its transactions each statement is sent with the query
  // of the session's locks, which hold to the file's COMMIT; outside them as
  // in a file run statement by statement.
  const bool each = plan.mode == tx_mode::per_statement;
  const bool self = plan.mode == tx_mode::self_managed;
  const bool tracing = opts.trace && (wrap || each || self) && !nested && !opts.on_result;
  // Self-managed: the locks recorded inside the file's open transaction, and
  // the statements they were taken by (index), until its COMMIT or ROLLBACK.
  std::vector<std::pair<std::size_t, std::size_t>> open_locks;  // (lock index, statement index)
  std::optional<std::pair<connection, std::string>> watcher;  // the second session and the watched pid
  struct table_before {
    std::string name;
    std::string filenode;
  };
  std::map<std::string, table_before> tables_before;   // by oid
  std::map<std::string, std::string> oid_of;           // schema.name and name -> oid
  std::map<std::string, std::string> locks_seen;       // oid -> strongest blocking mode so far
  std::map<std::string, long long> scans_seen;         // oid -> scans counted so far
  std::vector<std::chrono::steady_clock::time_point> started(plan.statements.size());
  enum class trace_by { none, locks, files, end, watch };
  std::vector<trace_by> trace_how(plan.statements.size(), trace_by::none);
  static const std::map<std::string, std::pair<int, const char*>> lock_modes = {
      {"ShareLock", {1, "SHARE"}},
      {"ShareRowExclusiveLock", {2, "SHARE ROW EXCLUSIVE"}},
      {"ExclusiveLock", {3, "EXCLUSIVE"}},
      {"AccessExclusiveLock", {4, "ACCESS EXCLUSIVE"}}};
  const std::string locks_sql =
      "select l.relation::text, l.mode, c.relfilenode::text from pg_catalog.pg_locks l join "
      "pg_catalog.pg_class c on c.oid = l.relation where l.pid = pg_catalog.pg_backend_pid() and l.locktype = "
      "'relation' and l.granted and c.relkind in ('r', 'p', 'm') and l.mode in ('AccessExclusiveLock', "
      "'ExclusiveLock', 'ShareRowExclusiveLock', 'ShareLock')";
  if (tracing) {
    stats.trace.emplace();
    const bool code = std::any_of(plan.statements.begin(), plan.statements.end(),
                                  [](const statement& st) { return st.runs_code; });
    const bool named = std::any_of(plan.statements.begin(), plan.statements.end(),
                                   [](const statement& st) { return !st.tables.empty(); });
    if (code || named) {
      try {
        // The scans counted so far: statistics not yet sent hold those of
        // earlier transactions too, so a statement's scans are the difference.
        const std::string columns =
            "select c.oid::text, pg_catalog.concat(n.nspname, '.', c.relname), c.relfilenode::text, "
            "pg_catalog.pg_stat_get_xact_numscans(c.oid)::text from "
            "pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace where c.relkind in "
            "('r', 'p', 'm') and n.nspname not in ('pg_catalog', 'information_schema', 'pgmt') and n.nspname !~ "
            "'^pg_toast'";
        result r;
        if (code) {
          r = conn.exec_prepared(columns);
        } else {
          std::string listed;  // one name a line, quoted for to_regclass
          for (const auto& st : plan.statements)
            for (const auto& name : st.tables) {
              const auto dot = name.find('.');
              listed += (listed.empty() ? "" : "\n") +
                        (dot == std::string::npos ? conn.quote_ident(name)
                                                  : conn.quote_ident(name.substr(0, dot)) + "." +
                                                        conn.quote_ident(name.substr(dot + 1)));
            }
          r = conn.exec_prepared(columns + " and c.oid in (select pg_catalog.to_regclass(x) from "
                                           "pg_catalog.unnest(pg_catalog.string_to_array($1, E'\\n')) x)",
                                 {listed});
        }
        for (int i = 0; i < r.rows(); ++i) {
          tables_before[r.value(i, 0)] = {r.value(i, 1), r.value(i, 2)};
          scans_seen[r.value(i, 0)] = std::stoll(r.value(i, 3));
          oid_of[r.value(i, 1)] = r.value(i, 0);
          oid_of.emplace(r.value(i, 1).substr(r.value(i, 1).find('.') + 1), r.value(i, 0));
        }
      } catch (...) {
        rollback_quietly();
        throw;
      }
      static const std::set<std::string> rewriting = {"AlterTableStmt", "VacuumStmt", "ClusterStmt",
                                                      "TruncateStmt", "RefreshMatViewStmt"};
      for (std::size_t i = 0; i < plan.statements.size(); ++i) {
        const statement& st = plan.statements[i];
        const bool names_one = std::any_of(st.tables.begin(), st.tables.end(),
                                           [&](const std::string& n) { return oid_of.count(n) != 0; });
        if (st.transaction_control)
          trace_how[i] = trace_by::none;
        else if (each || self)
          // Code that may commit (DO, CALL) cannot share the implicit
          // transaction of one round trip with the query either: watched.
          trace_how[i] = !(st.runs_code || names_one) ? trace_by::none
                         : !st.no_transaction_reason.empty() || st.kind == "DoStmt" || st.kind == "CallStmt"
                             ? trace_by::watch
                             : trace_by::locks;
        else
          trace_how[i] = st.runs_code                                  ? trace_by::locks
                         : names_one && rewriting.count(st.kind) != 0 && st.may_rewrite ? trace_by::files
                         : names_one                                  ? trace_by::end
                                                                      : trace_by::none;
      }
    }
  }
  // The query sent after statement i (a newline first: it may end in a -- comment).
  auto trace_query = [&](std::size_t i, trace_by how) -> std::string {
    if (how == trace_by::locks) return "\n;" + locks_sql;
    std::string oids;
    for (const auto& n : plan.statements[i].tables)
      if (auto o = oid_of.find(n); o != oid_of.end()) oids += (oids.empty() ? "" : ", ") + o->second;
    return "\n;select c.oid::text, ''::text, c.relfilenode::text, "
           "pg_catalog.pg_stat_get_xact_numscans(c.oid)::text from pg_catalog.pg_class c where c.oid in (" +
           oids + ")";
  };
  // Rows (oid, lock mode or '', file) after statement st.
  // (oid, lock mode or '', file, sequential scans in the transaction or '').
  using trace_row = std::array<std::string, 4>;
  auto rows_of = [](const result& r) {
    std::vector<trace_row> rows;
    for (int i = 0; i < r.rows(); ++i)
      rows.push_back({r.value(i, 0), r.value(i, 1), r.value(i, 2), r.columns() > 3 ? r.value(i, 3) : ""});
    return rows;
  };
  auto record_trace = [&](const statement& st, const std::vector<trace_row>& rows) {
    stats.trace->traced.insert(st.start);
    if (each) locks_seen.clear();  // the statement before committed
    std::map<std::string, traced_lock> now;  // by oid
    for (const auto& row : rows) {
      auto before = tables_before.find(row[0]);
      if (before == tables_before.end()) continue;
      traced_lock& t = now[row[0]];
      t.start = st.start;
      t.table = before->second.name;
      if (row[2] != before->second.filenode) {
        t.rewritten = true;
        before->second.filenode = row[2];  // a later rewrite is that statement's
      }
      if (!row[3].empty()) {
        stats.trace->scans_known.insert(st.start);
        const long long n = std::stoll(row[3]);
        if (n > scans_seen[row[0]]) t.scanned = true;
        scans_seen[row[0]] = n;
      }
      auto mode = lock_modes.find(row[1]);
      if (mode == lock_modes.end()) continue;
      stats.trace->holding.insert(st.start);
      std::string& seen = locks_seen[row[0]];
      const int had = seen.empty() ? 0 : lock_modes.at(seen).first;
      if (mode->second.first > had && mode->second.first > (t.mode.empty() ? 0 : lock_modes.at(t.mode).first))
        t.mode = row[1];
    }
    for (auto& [oid, t] : now) {
      if (!t.mode.empty()) locks_seen[oid] = t.mode;
      if (t.mode.empty() && !t.rewritten && !t.scanned) continue;
      if (!t.mode.empty()) t.mode = lock_modes.at(t.mode).second;
      // A lock first seen here may have been taken by an earlier statement
      // whose locks are read at the end (it names the table and may take one).
      if (!t.mode.empty() && wrap) {
        for (std::size_t i = 0; i < plan.statements.size() && plan.statements[i].start < st.start; ++i) {
          const statement& earlier = plan.statements[i];
          if ((trace_how[i] != trace_by::end && trace_how[i] != trace_by::files) || !earlier.may_block) continue;
          const bool names = std::any_of(earlier.tables.begin(), earlier.tables.end(), [&](const std::string& n) {
            auto o = oid_of.find(n);
            return o != oid_of.end() && o->second == oid;
          });
          if (!names) continue;
          traced_lock moved;
          moved.start = earlier.start;
          moved.table = t.table;
          moved.mode = t.mode;
          auto same = std::find_if(stats.trace->locks.begin(), stats.trace->locks.end(), [&](const traced_lock& x) {
            return x.start == moved.start && x.table == moved.table;
          });
          if (same != stats.trace->locks.end())
            same->mode = moved.mode;
          else
            stats.trace->locks.push_back(moved);
          t.mode.clear();
          break;
        }
        if (t.mode.empty() && !t.rewritten && !t.scanned) continue;
      }
      stats.trace->locks.push_back(t);
    }
  };
  // The locks of the statements that only name their tables, read once.
  auto trace_at_end = [&] {
    if (std::none_of(trace_how.begin(), trace_how.end(), [](trace_by b) { return b == trace_by::end || b == trace_by::files; }))
      return;
    result r = conn.exec_prepared(locks_sql);
    for (int row = 0; row < r.rows(); ++row) {
      const std::string oid = r.value(row, 0);
      auto before = tables_before.find(oid);
      auto mode = lock_modes.find(r.value(row, 1));
      if (before == tables_before.end() || mode == lock_modes.end()) continue;
      const std::string& seen = locks_seen[oid];
      if (!seen.empty() && lock_modes.at(seen).first >= mode->second.first) continue;  // a traced statement's
      // The first statement that names the table and may take such a lock (else the first that names it).
      const std::string& name = before->second.name;
      auto names_it = [&](const statement& st) {
        return std::any_of(st.tables.begin(), st.tables.end(), [&](const std::string& n) {
          auto o = oid_of.find(n);
          return o != oid_of.end() && o->second == oid;
        });
      };
      std::optional<std::size_t> at;
      for (std::size_t i = 0; i < plan.statements.size() && !at; ++i)
        if ((trace_how[i] == trace_by::end || trace_how[i] == trace_by::files) && plan.statements[i].may_block &&
            names_it(plan.statements[i]))
          at = i;
      for (std::size_t i = 0; i < plan.statements.size() && !at; ++i)
        if ((trace_how[i] == trace_by::end || trace_how[i] == trace_by::files) && names_it(plan.statements[i]))
          at = i;
      if (!at) continue;
      const std::size_t start = plan.statements[*at].start;
      auto same = std::find_if(stats.trace->locks.begin(), stats.trace->locks.end(),
                               [&](const traced_lock& t) { return t.start == start && t.table == name; });
      if (same == stats.trace->locks.end()) {
        traced_lock t;
        t.start = start;
        t.table = name;
        stats.trace->locks.push_back(t);
        same = std::prev(stats.trace->locks.end());
      }
      same->mode = mode->second.second;
      for (std::size_t i = *at; i < plan.statements.size(); ++i)
        if (trace_how[i] != trace_by::none) stats.trace->holding.insert(plan.statements[i].start);
    }
    std::stable_sort(stats.trace->locks.begin(), stats.trace->locks.end(),
                     [](const traced_lock& a, const traced_lock& b) { return a.start < b.start; });
  };
  // Extensions created only in the database a setting names.
  static const std::map<std::string, std::string> lends_name = {{"pg_cron", "cron.database_name"}};
  for (std::size_t si = 0; si < plan.statements.size(); ++si) {
    const statement& st = plan.statements[si];
    try {
      const std::string_view text = std::string_view(src.text).substr(st.offset, st.length);
      if (tablespaces_there.count(st.start) != 0) {
        ++stats.statements;
        continue;
      }
      if (!opts.skip_statement || !opts.skip_statement(text)) {
        const running_statement now_running(src, st, opts.label);
        // Self-managed: outside the file's transactions each statement
        // commits on its own, as in a file run statement by statement.
        const bool alone = each || (self && conn.transaction_status() == tx_status::idle);
        if (tracing && self && alone) locks_seen.clear();
        // Inside the file's own transaction code cannot commit: sent with the query.
        const trace_by how = tracing && self && !alone && trace_how[si] == trace_by::watch &&
                                     st.no_transaction_reason.empty()
                                 ? trace_by::locks
                                 : trace_how[si];
        if (dog) dog->arm(dog_limit);
        if (tracing) started[si] = std::chrono::steady_clock::now();
        if (tracing && trace_how[si] == trace_by::end) stats.trace->traced.insert(st.start);
        if (tracing && how == trace_by::watch) {
          // It cannot share a transaction with a query: a second session
          // watches its locks while it runs (a lock held for less than the
          // watch's interval can be missed).
          std::vector<trace_row> seen_rows;
          {
            lock_watch watch(conn, watcher, locks_sql);
            result r = conn.exec(text);
            if (dog) dog->disarm();
            seen_rows = watch.stop();
          }
          // Its rewrites, once it has committed: while it runs, the second
          // session sees the files the tables had before.
          std::string oids;
          for (const auto& [oid, before] : tables_before)
            if (st.runs_code || std::any_of(st.tables.begin(), st.tables.end(), [&, o = oid](const std::string& n) {
                  auto named = oid_of.find(n);
                  return named != oid_of.end() && named->second == o;
                }))
              oids += (oids.empty() ? "" : ", ") + oid;
          if (!oids.empty()) {
            const std::vector<trace_row> files = rows_of(conn.exec(
                "select c.oid::text, ''::text, c.relfilenode::text from pg_catalog.pg_class c where c.oid in (" +
                oids + ")"));
            seen_rows.insert(seen_rows.end(), files.begin(), files.end());
          }
          const std::size_t recorded = stats.trace->locks.size();
          record_trace(st, seen_rows);
          // The watch can miss a short lock: what it saw is evidence, what
          // it did not see disproves nothing.
          if (stats.trace->holding.count(st.start) == 0) stats.trace->traced.erase(st.start);
          for (std::size_t k = recorded; k < stats.trace->locks.size(); ++k)
            stats.trace->locks[k].held = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - started[si]);
        } else if (tracing && (how == trace_by::locks || how == trace_by::files)) {
          result r = conn.exec(std::string(text) + trace_query(si, how));
          if (dog) dog->disarm();
          const std::size_t recorded = stats.trace->locks.size();
          record_trace(st, rows_of(r));
          if (alone)  // held while it ran, to its own commit
            for (std::size_t k = recorded; k < stats.trace->locks.size(); ++k)
              stats.trace->locks[k].held = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - started[si]);
          else if (self)  // held to the file's COMMIT
            for (std::size_t k = recorded; k < stats.trace->locks.size(); ++k) open_locks.emplace_back(k, si);
        } else if (!opts.shared_server && lends_name.count(st.creates_extension) != 0) {
          // An extension that may only be created in the database a server
          // setting names (pg_cron: cron.database_name): on pgmt's own server
          // the migration's database takes that name for the statement, in
          // its transaction, and gives it back; the database that has the
          // name lends it meanwhile. Nothing of it commits, and a migration
          // doing the same elsewhere waits until this one ends.
          // As pgmt's own role: the setting is a superuser's to read, the
          // renames are pgmt's; the statement runs as the role the migration
          // set (SET ROLE), if it set one.
          result who = conn.exec("select current_user::text, session_user::text");
          const bool other_role = who.value(0, 0) != who.value(0, 1);
          const std::string as_pgmt = other_role ? "set role none;\n" : "";
          const std::string as_migration = other_role ? "set role " + conn.quote_ident(who.value(0, 0)) + ";\n" : "";
          const std::string setting = conn.quote_literal(lends_name.at(st.creates_extension));
          result r = conn.exec(as_pgmt + "select pg_catalog.current_setting(" + setting +
                               ", true), pg_catalog.current_database(), (select oid::text from "
                               "pg_catalog.pg_database where datname = pg_catalog.current_setting(" +
                               setting + ", true))");
          const std::string named = r.value(0, 0), own = r.value(0, 1);
          if (r.is_null(0, 0) || named.empty() || named == own) {
            conn.exec(as_migration + std::string(text));
          } else {
            const std::string set = "update pg_catalog.pg_database set datname = ";
            const std::string lent = r.is_null(0, 2) ? "" : conn.quote_literal("pgmt_lent_" + r.value(0, 2));
            // Lenders one at a time, before either row is touched: two that
            // update the same rows in turn can deadlock on them. The row of
            // template0, which nothing changes, is their lock.
            conn.exec("select 1 from pg_catalog.pg_database where datname = 'template0' for update;\n" +
                      (lent.empty() ? "" : set + lent + " where datname = " + conn.quote_literal(named) + ";\n") +
                      set + conn.quote_literal(named) + " where datname = " + conn.quote_literal(own) + ";\n" +
                      as_migration + std::string(text) + "\n;" + as_pgmt + set + conn.quote_literal(own) +
                      " where datname = " + conn.quote_literal(named) +
                      (lent.empty() ? "" : ";\n" + set + conn.quote_literal(named) + " where datname = " + lent) +
                      (other_role ? ";\n" + as_migration : std::string()));
          }
          if (dog) dog->disarm();
        } else {
          const bool in_block = tracing && self && conn.transaction_status() != tx_status::idle;
          result r = conn.exec(text);
          if (dog) dog->disarm();
          if (opts.on_result) opts.on_result(r);
          // COMMIT AND CHAIN ends the transaction and opens the next at once.
          const std::string head = head_of(src, st, 8);
          const bool ends = st.transaction_control && head.rfind("begin", 0) != 0 && head.rfind("start", 0) != 0;
          const bool rolls_back = head.rfind("rollback", 0) == 0 || head.rfind("abort", 0) == 0;
          // The file's locks end with its transaction; those taken after a
          // savepoint, with ROLLBACK TO it.
          auto release = [&](const std::set<std::string>& still_held, const std::string& until) {
            const auto now = std::chrono::steady_clock::now();
            std::vector<std::pair<std::size_t, std::size_t>> kept;
            for (const auto& [k, taken_by] : open_locks) {
              traced_lock& t = stats.trace->locks[k];
              auto o = oid_of.find(t.table);
              if (o != oid_of.end() && still_held.count(o->second) != 0) {
                kept.emplace_back(k, taken_by);
                continue;
              }
              t.statements_after = si - taken_by - 1;
              t.held = std::chrono::duration_cast<std::chrono::milliseconds>(now - started[taken_by]);
              t.until = until;
            }
            open_locks = std::move(kept);
          };
          if (in_block && (conn.transaction_status() == tx_status::idle || ends)) {
            release({}, rolls_back ? "the rollback" : "");
            locks_seen.clear();  // the next transaction's are new
          } else if (in_block && rolls_back && !st.transaction_control && !open_locks.empty()) {
            // ROLLBACK TO SAVEPOINT: what the session holds still.
            result held = conn.exec_prepared(locks_sql);
            std::set<std::string> still;
            locks_seen.clear();
            for (int i = 0; i < held.rows(); ++i) {
              still.insert(held.value(i, 0));
              const std::string& mode = held.value(i, 1);
              std::string& seen = locks_seen[held.value(i, 0)];
              if (lock_modes.count(mode) != 0 &&
                  (seen.empty() || lock_modes.at(mode).first > lock_modes.at(seen).first))
                seen = mode;
            }
            release(still, "the ROLLBACK TO at line " +
                               std::to_string(src.first_line + position_of(src.text, st.start).line - 1));
          }
        }
      } else {
        std::string_view first =
            std::string_view(src.text).substr(st.start, st.offset + st.length - st.start);
        stats.skipped.emplace_back(first.substr(0, first.find('\n')));
      }
      ++stats.statements;
    } catch (const connection_error& e) {
      // The session ended under the statement: it ended it itself
      // (pg_terminate_backend(pg_backend_pid())), or the server stopped.
      if (dog) dog->disarm();
      diagnostic d = at(src, st.start,
                        (opts.label.empty() ? std::string("the script") : opts.label) +
                            " lost its session while this statement ran: " + e.what());
      d.hint = "a statement that ends its own session, or a server that stops, ends the migration here";
      throw script_error(d);
    } catch (const sql_error& e) {
      const bool cancelled = dog && dog->disarm();
      rollback_quietly();
      diagnostic d = diagnose(src, st, e, conn.server_version(), opts);
      if (cancelled) {
        d.message = (opts.label.empty() ? std::string("the script") : opts.label) + " ran past its statement_timeout (" +
                    format_duration(opts.statement_timeout) + ") and pgmt cancelled it";
        d.hint.clear();
        d.notes.clear();
        // Where the script lifted the limit, if it says so.
        for (const auto& other : plan.statements) {
          std::string t = src.text.substr(other.offset, other.length);
          for (auto& ch : t) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          if (t.find("statement_timeout") == std::string::npos) continue;
          d.notes.push_back("the script changes statement_timeout itself at line " +
                            std::to_string(src.first_line + position_of(src.text, other.start).line - 1) +
                            "; pgmt's limit holds whatever a migration sets");
          break;
        }
        d.notes.push_back(
            "raise STATEMENT_TIMEOUT (CMake) or --statement-timeout if the statement is meant to take this long");
      }
      if (plan.mode == tx_mode::per_statement)
        d.notes.push_back("ran without a transaction (" + plan.mode_reason +
                          "): the statements before this one stay applied");
      throw script_error(d);
    }
  }
  if (plan.mode == tx_mode::self_managed && conn.transaction_status() != tx_status::idle) {
    rollback_quietly();
    std::size_t last_begin = plan.statements.empty() ? 0 : plan.statements.back().start;
    for (const auto& st : plan.statements)
      if (st.transaction_control && (st.kind == "TransactionStmt")) {
        const std::string head = head_of(src, st, 5);
        if (head.rfind("begin", 0) == 0 || head.rfind("start", 0) == 0) last_begin = st.start;
      }
    diagnostic d = at(src, last_begin,
                      (opts.label.empty() ? std::string("the script") : opts.label) +
                          " leaves a transaction open; it was rolled back");
    d.hint = "end the transaction with COMMIT, or remove BEGIN and let pgmt run the file in one transaction";
    throw script_error(d);
  }
  // Where the script commits; and the session as new, in the same round
  // trip (see reset_session).
  const std::string commit_sql =
      nested
          // What COMMIT would check, in a savepoint of its own so that the
          // constraints stay deferred for whatever runs next in the transaction.
          ? "savepoint pgmt_commit; set constraints all immediate; rollback to savepoint pgmt_commit; "
            "release savepoint pgmt_commit; release savepoint pgmt_script; reset role; reset session authorization; "
            "reset all"
          : "commit; reset role; reset session authorization; reset all";
  auto commit_failed = [&](const sql_error& e) {
    // Deferred constraints are checked at commit.
    rollback_quietly();
    const statement& last = plan.statements.empty() ? statement{} : plan.statements.back();
    diagnostic d = diagnose(src, last, e, conn.server_version(), opts);
    d.notes.push_back("raised at COMMIT (a deferred constraint or trigger)");
    throw script_error(d);
  };
  // pgmt's own statements run as the session's user, whatever role the
  // script left (its bookkeeping is no business of that role).
  if (plan.sets_role) {
    try {
      if (wrap)
        conn.exec("reset role; reset session authorization");
      else
        reset_session();
    } catch (...) {
      rollback_quietly();
      throw;
    }
  }
  if (wrap && track_counts) {
    // Row counts are compared around scripts; knowing what a script wrote
    // spares counting every other table again. The tables it wrote (tag w)
    // and the system catalogs (tag c), in one round trip.
    const std::string after_sql =
        std::string("select 'w', pg_catalog.concat(n.nspname, '.', c.relname), 0::bigint, 0::bigint from "
                    "pg_catalog.pg_class c join "
                    "pg_catalog.pg_namespace n on n.oid = c.relnamespace where c.relkind in ('r', 'm', 'p') and "
                    "n.nspname "
                    "not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_toast' and "
                    "(pg_catalog.pg_stat_get_xact_tuples_inserted(c.oid) > 0 or "
                    "pg_catalog.pg_stat_get_xact_tuples_deleted(c.oid) > 0) union all select 'c', "
                    "relname::text, n, d from (") +
        catalog_stats_sql + ") t(relname, n, d)";
    result all;
    try {
      all = conn.exec_prepared(after_sql);
    } catch (...) {
      rollback_quietly();
      throw;
    }
    stats.written.emplace();
    stats.catalogs.emplace();
    for (int i = 0; i < all.rows(); ++i) {
      if (all.value(i, 0) == "w") {
        stats.written->push_back(all.value(i, 1));
        continue;
      }
      const std::string name = all.value(i, 1);
      auto was = catalog_stats_before.find(name);
      const std::pair<long long, long long> before =
          was == catalog_stats_before.end() ? std::pair<long long, long long>{0, 0} : was->second;
      if (std::stoll(all.value(i, 2)) > before.first) stats.catalogs->changed.insert(name);
      if (std::stoll(all.value(i, 3)) > before.second) stats.catalogs->deleted.insert(name);
    }
  }
  if (tracing && wrap) {
    try {
      trace_at_end();
      // Locks last to the commit: every traced statement from the first
      // that took one on a table of the state before holds it.
      std::optional<std::size_t> first;
      for (const auto& t : stats.trace->locks)
        if (!t.mode.empty() && (!first || t.start < *first)) first = t.start;
      if (first)
        for (std::size_t i = 0; i < plan.statements.size(); ++i)
          if (plan.statements[i].start >= *first && trace_how[i] != trace_by::none)
            stats.trace->holding.insert(plan.statements[i].start);
      std::stable_sort(stats.trace->locks.begin(), stats.trace->locks.end(),
                       [](const traced_lock& a, const traced_lock& b) { return a.start < b.start; });
    } catch (...) {
      rollback_quietly();
      throw;
    }
  }
  if (opts.before_commit) {
    try {
      opts.before_commit(conn);
    } catch (const sql_error& e) {
      rollback_quietly();
      // pgmt's record of the migration could not be written because its
      // schema is gone: dropped or renamed by SQL the parser cannot see
      // (EXECUTE in a DO block, a function, DROP OWNED).
      const std::string& state = e.diagnostics().sqlstate;
      if (state != "42P01" && state != "3F000") throw;
      auto culprit = std::find_if(plan.statements.begin(), plan.statements.end(),
                                  [](const statement& st) { return st.kind == "DoStmt"; });
      if (culprit == plan.statements.end()) culprit = plan.statements.begin();
      diagnostic d = at(src, culprit == plan.statements.end() ? 0 : culprit->start,
                        "after this " + (opts.label.empty() ? std::string("script") : opts.label) +
                            " pgmt's own schema \"pgmt\" is gone: a statement dropped or renamed it (" +
                            cut_message(e.diagnostics().message) + ")");
      d.hint = "leave the schema pgmt alone: it holds pgmt's record of the applied migrations (pgmt.migrations); "
               "a DROP SCHEMA or DROP OWNED run as dynamic SQL (EXECUTE, a function) is only seen once it has run";
      throw script_error(d);
    } catch (...) {
      rollback_quietly();
      throw;
    }
  }
  if (wrap) {
    try {
      conn.exec(commit_sql);
    } catch (const sql_error& e) {
      commit_failed(e);
    }
    if (tracing) {
      // Held from each statement to the commit.
      const auto committed = std::chrono::steady_clock::now();
      std::map<std::size_t, std::size_t> index_of;  // statement start -> index
      std::size_t k = 0;
      for (const auto& st : plan.statements) index_of[st.start] = k++;
      for (auto& t : stats.trace->locks) {
        const std::size_t i = index_of.at(t.start);
        t.statements_after = k - i - 1;
        t.held = std::chrono::duration_cast<std::chrono::milliseconds>(committed - started.at(i));
      }
    }
  } else {
    reset_session();
  }
  stats.elapsed = std::chrono::steady_clock::now() - t0;
  for (const auto& e : plan.effects) {
    diagnostic d = at(src, e.start, "warning: " + e.what);
    d.hint = e.instead;
    if (e.refused_on_shared)
      d.notes.push_back("pgmt runs it because the server is its own; on an external server it refuses it");
    if (tablespaces_there.count(e.start) != 0)
      d.notes.push_back("the tablespace \"" + e.created_tablespace +
                        "\" was there from an earlier run of this migration on pgmt's server: pgmt kept it and "
                        "went on, as a new server would have it after this statement");
    if (e.changes_settings)
      d.notes.push_back("pgmt puts the server's settings back as they were before it builds from nothing (reset, "
                        "pgTAP), so that each build starts as on a new server");
    stats.warnings.push_back(std::move(d));
  }
  return stats;
}

}  // namespace

}  // namespace pgmt
