#include "pgmt/lint.hpp"

#include "pgmt/suite.hpp"
#include "pgmt/text.hpp"

#include <nlohmann/json.hpp>
#include <pg_query.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace pgmt {

using nlohmann::json;

const std::vector<lint_rule>& lint_rules() {
  // Lock hazards warn by default: on a small table they cost nothing, and
  // only the team knows its tables (LINT_ERRORS makes them fail). What fails
  // for certain, or opens a hole, is an error.
  static const std::vector<lint_rule> rules = {
      {"adding-field-with-default", false,
       "ADD COLUMN with a volatile default (or a stored generated column) rewrites the whole table under an "
       "ACCESS EXCLUSIVE lock",
       "add the column without the default (or with a constant one), then fill it in batches", ""},
      {"adding-not-nullable-field", false,
       "SET NOT NULL on an existing column scans the whole table under an ACCESS EXCLUSIVE lock",
       "add CHECK (column IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT it, then SET NOT NULL (it uses the check)",
       ""},
      {"adding-required-field", false,
       "ADD COLUMN ... NOT NULL without a default fails on a table that has rows",
       "add the column nullable (or with a default), fill it, then SET NOT NULL", ""},
      {"adding-foreign-key-constraint", false,
       "a FOREIGN KEY added without NOT VALID checks every row while it blocks writes to both tables",
       "add it NOT VALID, then VALIDATE CONSTRAINT in a later statement (that takes a weaker lock)", ""},
      {"constraint-missing-not-valid", false,
       "a CHECK constraint added without NOT VALID scans the whole table under an ACCESS EXCLUSIVE lock",
       "add it NOT VALID, then VALIDATE CONSTRAINT in a later statement (that takes a weaker lock)", ""},
      {"disallowed-unique-constraint", false,
       "ADD UNIQUE builds its index under an ACCESS EXCLUSIVE lock: no reads or writes until it is built",
       "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... UNIQUE USING INDEX", ""},
      {"adding-serial-primary-key-field", false,
       "ADD PRIMARY KEY builds its index under an ACCESS EXCLUSIVE lock: no reads or writes until it is built",
       "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... PRIMARY KEY USING INDEX", ""},
      {"require-concurrent-index-creation", false,
       "CREATE INDEX without CONCURRENTLY blocks every write to the table while the index builds",
       "CREATE INDEX CONCURRENTLY (pgmt runs such a file without a transaction); on a partitioned table, CREATE "
       "INDEX ON ONLY the parent, CONCURRENTLY on each partition, then ALTER INDEX ... ATTACH PARTITION",
       ""},
      {"require-concurrent-index-deletion", false,
       "DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the index's table",
       "DROP INDEX CONCURRENTLY (pgmt runs such a file without a transaction)", ""},
      {"changing-column-type", false,
       "ALTER COLUMN ... TYPE rewrites the table and its indexes under an ACCESS EXCLUSIVE lock for most changes",
       "add a new column, fill it in batches, switch the application, then drop the old one", ""},
      {"ban-drop-table", false, "DROP TABLE breaks every running instance of the application that still uses it",
       "stop using the table in the application first, release, then drop it in a later migration", ""},
      {"ban-drop-column", false,
       "DROP COLUMN breaks every running instance of the application that still reads or writes it",
       "stop using the column in the application first, release, then drop it in a later migration", ""},
      {"renaming-column", false, "renaming a column breaks every running instance of the application that uses the old name",
       "add the new column, write both, switch the readers, then drop the old one", ""},
      {"renaming-table", false, "renaming a table breaks every running instance of the application that uses the old name",
       "create the new name as a view of the old table (or the reverse) while the application moves", ""},
      {"ban-truncate-cascade", false,
       "TRUNCATE ... CASCADE also empties every table that references it, however far the references go",
       "name each table to empty, without CASCADE", ""},
      {"prefer-repack", false, "VACUUM FULL and CLUSTER rewrite the table under an ACCESS EXCLUSIVE lock",
       "leave them out of migrations; use pg_repack (or REPACK CONCURRENTLY where the server has it)", ""},
      {"require-enum-value-ordering", false,
       "ADD VALUE without BEFORE or AFTER puts the label last, which changes what comparisons of the enum mean",
       "say where it goes: ADD VALUE 'x' BEFORE 'y' (or AFTER)", ""},
      {"enum-value-used-in-transaction", true,
       "a label added with ADD VALUE cannot be used in the transaction that adds it (\"unsafe use of new value\")",
       "add the label in a migration of its own, or run this one without a transaction (-- pgmt:no-transaction)",
       ""},
      {"ban-uncommitted-transaction", true,
       "BEGIN without a COMMIT leaves the migration's work in a transaction that never commits",
       "end the transaction with COMMIT, or leave BEGIN out (pgmt runs each migration in a transaction)", ""},
      {"transaction-commit-in-do", true,
       "COMMIT or ROLLBACK inside a DO block fails when the block runs inside a transaction (\"invalid "
       "transaction termination\"), as migration tools run it",
       "leave transaction control out of the block, or run the file without a transaction "
       "(-- pgmt:no-transaction)",
       ""},
      {"ban-concurrent-index-creation-in-transaction", true,
       "CREATE or DROP INDEX CONCURRENTLY cannot run inside a transaction block",
       "leave BEGIN and COMMIT out of the file: pgmt runs a CONCURRENTLY file statement by statement", ""},
      {"ban-non-transactional-in-transaction", true,
       "VACUUM, REINDEX CONCURRENTLY, CREATE DATABASE, ALTER SYSTEM and the like cannot run inside a "
       "transaction block",
       "leave BEGIN and COMMIT out of the file: pgmt runs such a file statement by statement", ""},
      {"non-transactional-with-others", false,
       "a statement that cannot run in a transaction, in a migration with other statements: tools that run a "
       "migration in one transaction or one multi-statement query (Supabase CLI, golang-migrate, diesel, "
       "dbmate) fail with \"cannot run inside a transaction block\", and a failure part way leaves the "
       "statements before it applied",
       "give it a migration of its own, or mark the file -- pgmt:no-transaction once the tool that deploys it "
       "runs it statement by statement",
       ""},
      {"require-lock-timeout", false,
       "a statement that takes a blocking lock on an existing table waits behind any long transaction, and "
       "every query on the table waits behind it",
       "SET lock_timeout (for example SET LOCAL lock_timeout = '2s') before it, and retry the migration when "
       "it times out",
       ""},
      {"blocking-lock-on-existing-table", false,
       "the statement takes a lock that blocks the application's queries on a table that exists before the "
       "migration (seen while it ran; no rule foresaw it from the SQL)",
       "take the lock for as short a time as possible: SET lock_timeout, one change per transaction, or the "
       "CONCURRENTLY / NOT VALID form of the change",
       "traced under ctest or pgmt test"},
      {"identifier-too-long", false,
       "PostgreSQL cuts identifiers to 63 bytes: the object gets another name than the one written",
       "shorten the name to 63 bytes at most", ""},
      {"prefer-identity", false, "serial columns leave a sequence with its own owner, grants and dump order",
       "use GENERATED BY DEFAULT AS IDENTITY (or ALWAYS)", ""},
      {"prefer-timestamptz", false,
       "timestamp without time zone stores a wall-clock time with no zone: values change meaning with the "
       "session's TimeZone",
       "use timestamptz", ""},
      {"prefer-text-field", false,
       "varchar(n) needs an ACCESS EXCLUSIVE lock (and may rewrite) to change its length later",
       "use text with a CHECK (length(column) <= n) constraint", ""},
      {"ban-char-field", false, "char(n) pads with blanks, and comparisons and lengths ignore them",
       "use text (with a CHECK constraint for the length)", ""},
      {"prefer-jsonb", false,
       "json keeps the text as written: no equality, no GIN index, each access parses it again",
       "use jsonb", ""},
      {"security-definer-search-path", true,
       "a SECURITY DEFINER function without SET search_path resolves names through the caller's search_path: "
       "a caller who can create objects runs code with the owner's rights",
       "add SET search_path = '' (and qualify names) or SET search_path = pg_catalog, <schema>", ""},
      {"rls-disabled-in-public", true,
       "a table in a schema the API roles (anon, authenticated) reach, without row level security, is readable "
       "and writable by anyone with the project's public key",
       "ALTER TABLE ... ENABLE ROW LEVEL SECURITY in the same migration, with the policies it needs",
       "profile supabase"},
      {"prefer-robust-stmts", false,
       "a statement without IF NOT EXISTS (or IF EXISTS) fails when the migration runs a second time",
       "add IF NOT EXISTS / IF EXISTS, CREATE OR REPLACE, or mark the migration -- pgmt:not-idempotent <reason>",
       "migrations run twice (idempotency on)"},
      {"manifest-unlisted-table", true, "the table is not in the project's manifest of tables",
       "add it to the manifest (tables) in the same change, or use a table it lists", "LINT_MANIFEST"},
      {"manifest-unlisted-enum", true, "the enum is not in the project's manifest of enums",
       "add it to the manifest (enums) in the same change, or use an enum it lists", "LINT_MANIFEST"},
      {"manifest-unlisted-column", true, "the column is not in the manifest's columns of its table",
       "add it to the manifest (columns) in the same change", "LINT_MANIFEST with columns"},
      {"manifest-deprecated", true, "the manifest marks this table or enum deprecated",
       "use what replaces it; the manifest's deprecated list says which names are on their way out",
       "LINT_MANIFEST"},
      {"lint-ignore-invalid", true, "a -- pgmt:lint-ignore comment names no known rule or gives no reason",
       "write -- pgmt:lint-ignore <rule ID> <reason> on the line before the statement", ""},
  };
  return rules;
}

const lint_rule* find_lint_rule(std::string_view id) {
  for (const auto& r : lint_rules())
    if (id == r.id) return &r;
  return nullptr;
}

std::string lint_rules_markdown() {
  std::string out = "| rule | severity | why | fix |\n|---|---|---|---|\n";
  for (const auto& r : lint_rules()) {
    std::string id = std::string("`") + r.id + "`";
    if (*r.scope) id += std::string(" (") + r.scope + ")";
    out += "| " + id + " | " + (r.error ? "error" : "warning") + " | " + r.why + " | " + r.fix + " |\n";
  }
  return out;
}

namespace {

// "schema.name", or "public.name" for an unqualified name: the default
// search_path's first schema that exists.
std::string qualify(const std::string& name) {
  return name.find('.') == std::string::npos ? "public." + name : name;
}

}  // namespace

lint_manifest read_lint_manifest(const std::filesystem::path& file) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec))
    throw input_error("could not read lint manifest \"" + display_path(file) + "\": it is a folder; name the JSON file");
  std::ifstream in(file);
  if (!in)
    throw input_error("could not read lint manifest \"" + display_path(file) + "\": " + std::strerror(errno));
  json j;
  try {
    j = json::parse(in);
  } catch (const json::parse_error& e) {
    throw input_error(display_path(file) + ": the lint manifest is not valid JSON: " + e.what());
  }
  if (!j.is_object())
    throw input_error(display_path(file) + ": the lint manifest must be a JSON object with \"tables\", \"enums\", "
                                           "\"deprecated\" and optionally \"columns\"");
  lint_manifest m;
  m.path = file;
  auto names = [&](const char* key, std::set<std::string>& into) {
    if (!j.contains(key)) return;
    if (!j[key].is_array())
      throw input_error(display_path(file) + ": \"" + key + "\" must be an array of names");
    for (const auto& v : j[key]) {
      if (!v.is_string() || v.get<std::string>().empty())
        throw input_error(display_path(file) + ": \"" + key + "\" holds " + v.dump() + ", not a name");
      into.insert(qualify(v.get<std::string>()));
    }
  };
  for (const auto& [key, value] : j.items())
    if (key != "tables" && key != "enums" && key != "deprecated" && key != "columns")
      throw input_error(display_path(file) + ": unknown key \"" + key +
                        "\" in the lint manifest; known keys: tables, enums, deprecated, columns");
  names("tables", m.tables);
  names("enums", m.enums);
  names("deprecated", m.deprecated);
  if (j.contains("columns")) {
    if (!j["columns"].is_object())
      throw input_error(display_path(file) + ": \"columns\" must map each table to an array of its columns");
    for (const auto& [table, cols] : j["columns"].items()) {
      if (!cols.is_array())
        throw input_error(display_path(file) + ": \"columns\".\"" + table + "\" must be an array of column names");
      auto& into = m.columns[qualify(table)];
      for (const auto& c : cols) {
        if (!c.is_string()) throw input_error(display_path(file) + ": \"columns\".\"" + table + "\" holds " + c.dump());
        into.insert(c.get<std::string>());
      }
    }
  }
  return m;
}

namespace {

const json& empty_json() {
  static const json e = json::object();
  return e;
}

// The node inside a wrapper ({"RangeVar": {...}} -> {...}).
const json& inner(const json& node, const char* kind) {
  if (node.is_object() && node.contains(kind)) return node[kind];
  return empty_json();
}

std::string str(const json& node, const char* key) {
  if (node.is_object() && node.contains(key) && node[key].is_string()) return node[key].get<std::string>();
  return {};
}

bool flag(const json& node, const char* key) {
  return node.is_object() && node.contains(key) && node[key].is_boolean() && node[key].get<bool>();
}

int location(const json& node) {
  if (node.is_object() && node.contains("location") && node["location"].is_number_integer())
    return node["location"].get<int>();
  return -1;
}

// "schema.name" or "name" of a RangeVar.
std::string range_var_name(const json& rv) {
  const std::string schema = str(rv, "schemaname");
  return schema.empty() ? str(rv, "relname") : schema + "." + str(rv, "relname");
}

// The strings of a list of {"String": {"sval": ...}} nodes, joined by ".".
std::string dotted(const json& list) {
  std::string out;
  if (!list.is_array()) return out;
  for (const auto& item : list) {
    const std::string s = str(inner(item, "String"), "sval");
    if (s.empty()) continue;
    out += (out.empty() ? "" : ".") + s;
  }
  return out;
}

// The type's name without pg_catalog.
std::string type_name(const json& type) {
  std::string name = dotted(type.value("names", json::array()));
  if (name.rfind("pg_catalog.", 0) == 0) name = name.substr(11);
  return name;
}

// Every FuncCall's name in an expression tree.
void function_calls(const json& node, std::vector<std::string>& out) {
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      if (key == "FuncCall") out.push_back(dotted(value.value("funcname", json::array())));
      function_calls(value, out);
    }
  } else if (node.is_array()) {
    for (const auto& v : node) function_calls(v, out);
  }
}

// Every string constant of a tree.
void string_constants(const json& node, std::set<std::string>& out) {
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      if (key == "A_Const" && value.contains("sval")) out.insert(str(value["sval"], "sval"));
      string_constants(value, out);
    }
  } else if (node.is_array()) {
    for (const auto& v : node) string_constants(v, out);
  }
}

// Identifiers of a tree (names the parser cut to 63 bytes are exactly 63).
void long_names(const json& node, std::vector<std::string>& out) {
  static const std::set<std::string> name_keys = {"relname", "colname", "idxname", "conname", "schemaname",
                                                  "newname", "subname", "name",    "policy_name", "trigname",
                                                  "sval"};
  if (node.is_object()) {
    // Constants and function bodies are text, not names.
    if (node.contains("defname") && node["defname"] == "as") return;
    for (const auto& [key, value] : node.items()) {
      if (key == "A_Const") continue;
      // Cut at a character's start: 60 to 63 bytes.
      if (value.is_string() && name_keys.count(key) != 0 && value.get<std::string>().size() >= 60 &&
          value.get<std::string>().size() <= 63)
        out.push_back(value.get<std::string>());
      else
        long_names(value, out);
    }
  } else if (node.is_array()) {
    for (const auto& v : node) long_names(v, out);
  }
}

// Functions known not to be volatile that defaults commonly call: a default
// calling any other function may rewrite the table.
bool known_not_volatile(const std::string& fn) {
  static const std::set<std::string> stable = {
      "now", "pg_catalog.now", "current_timestamp", "statement_timestamp", "transaction_timestamp",
      "current_date", "localtimestamp", "lower", "upper", "coalesce", "nullif", "to_jsonb", "jsonb_build_object",
      "json_build_object", "jsonb_build_array", "array_fill", "make_interval", "interval", "date_trunc",
      "timezone", "concat", "length", "abs", "greatest", "least", "round", "trunc", "to_timestamp"};
  return stable.count(fn) != 0;
}

// The `-- pgmt:lint-ignore` comments before statement st: where each is, and its words.
std::vector<std::pair<std::size_t, std::vector<std::string>>> ignore_comments(const sql_source& src,
                                                                             const statement& st) {
  std::vector<std::pair<std::size_t, std::vector<std::string>>> out;
  std::string_view lead(src.text.data() + st.offset, st.start - st.offset);
  std::size_t p = 0;
  while (p < lead.size()) {
    std::size_t e = lead.find('\n', p);
    if (e == std::string_view::npos) e = lead.size();
    std::string_view line = lead.substr(p, e - p);
    const std::size_t at = st.offset + p;
    p = e + 1;
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front()))) line.remove_prefix(1);
    if (line.rfind("--", 0) != 0) continue;
    line.remove_prefix(2);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front()))) line.remove_prefix(1);
    if (line.rfind("pgmt:lint-ignore", 0) != 0) continue;
    line.remove_prefix(16);
    std::vector<std::string> words;
    std::string w;
    for (char c : line) {
      if (std::isspace(static_cast<unsigned char>(c))) {
        if (!w.empty()) words.push_back(std::move(w));
        w.clear();
      } else {
        w += c;
      }
    }
    if (!w.empty()) words.push_back(std::move(w));
    out.emplace_back(at, std::move(words));
  }
  return out;
}

struct linter {
  linter(const sql_source& s, const lint_options& o) : src(s), opts(o) {}
  const sql_source& src;
  const lint_options& opts;
  std::vector<lint_finding> out;
  // What this migration made before the statement at hand.
  std::set<std::string> created_tables, created_indexes, created_types;
  // Labels ADD VALUE added, to the statement that added them.
  std::map<std::string, std::size_t> added_labels;
  std::set<std::string> do_constants;  // of the last DO block
  bool lock_timeout_set = false;
  bool lock_timeout_local = false;  // by SET LOCAL inside the file's own transaction: ends with it
  bool lock_timeout_reported = false;
  int explicit_depth = 0;                  // inside BEGIN ... COMMIT written in the file
  std::optional<std::size_t> open_begin;   // the BEGIN not yet committed
  std::set<std::string> rls_enabled;       // tables ENABLE ROW LEVEL SECURITY named
  // CHECK (column IS NOT NULL) constraints added in the file: name -> table.column, and those valid.
  std::map<std::string, std::string> not_null_checks;
  std::set<std::string> valid_not_null;    // table.column
  // SECURITY DEFINER functions without a search_path yet: name -> where, and
  // those an ALTER FUNCTION ... SET search_path gave one.
  std::map<std::string, std::size_t> definers;
  std::vector<std::pair<std::string, std::size_t>> rls_tables;  // tables created where the API roles reach
  // The rules lint-ignore comments lift for the statement at hand.
  std::set<std::string> lifted;
  std::size_t statement_start = 0;  // of the statement at hand
  bool single_transaction = true;

  bool made_here(const std::set<std::string>& made, const std::string& name) const {
    if (made.count(name) != 0) return true;
    // "x" and "public.x" name the same object in the default search_path.
    const std::string q = qualify(name);
    for (const auto& m : made)
      if (qualify(m) == q) return true;
    return false;
  }

  void add(const char* rule, std::size_t offset, std::string message, std::string evidence = {}) {
    if (opts.ignore.count(rule) != 0 || lifted.count(rule) != 0) return;
    const lint_rule* r = find_lint_rule(rule);
    lint_finding f;
    f.rule = rule;
    f.error = opts.errors ? opts.errors->count(rule) != 0 || opts.errors->count("all") != 0 : r->error;
    if (std::string(rule) == "lint-ignore-invalid") f.error = true;
    f.where = diagnostic_at(src, offset, std::string(rule) + ": " + message);
    f.statement = statement_start;
    f.where.hint = r->fix;
    f.where.notes.push_back(std::string(f.error ? "error" : "warning") + ": " + r->why);
    if (!evidence.empty()) f.where.notes.push_back(evidence);
    out.push_back(std::move(f));
  }

  // A table that existed before this migration, named at offset, takes a
  // blocking lock: lock_timeout must be set before.
  void blocking_lock(const std::string& table, std::size_t offset) {
    if (lock_timeout_set || lock_timeout_reported) return;
    lock_timeout_reported = true;
    add("require-lock-timeout", offset,
        "this statement takes a blocking lock on \"" + table +
            "\", a table that exists before this migration, and no lock_timeout is set before it");
  }

  // -- pgmt:lint-ignore <rule> <reason> in the comments before a statement.
  void read_ignores(const statement& st) {
    lifted.clear();
    for (const auto& [at, words] : ignore_comments(src, st)) {
      if (words.empty() || !find_lint_rule(words[0])) {
        std::string known;
        for (const auto& r : lint_rules()) known += (known.empty() ? "" : ", ") + std::string(r.id);
        add("lint-ignore-invalid", at,
            words.empty() ? std::string("pgmt:lint-ignore names no rule")
                          : "pgmt:lint-ignore names \"" + words[0] + "\", which is no rule of pgmt lint; known rules: " +
                                known);
      } else if (words.size() < 2) {
        add("lint-ignore-invalid", at, "pgmt:lint-ignore " + words[0] + " gives no reason; say why the rule does "
                                       "not apply here");
      } else {
        lifted.insert(words[0]);
      }
    }
  }

  void column_types(const json& column_def, std::size_t base, const std::string& column = {}) {
    const json& type = column_def.value("typeName", json::object());
    const std::string name = type_name(type);
    const int loc = location(type);
    const std::size_t at = base + static_cast<std::size_t>(loc < 0 ? 0 : loc);
    const std::string col = column.empty() ? str(column_def, "colname") : column;
    const bool has_mods = type.contains("typmods");
    if (name == "serial" || name == "serial4" || name == "bigserial" || name == "serial8" ||
        name == "smallserial" || name == "serial2")
      add("prefer-identity", at, "column \"" + col + "\" is " + name);
    else if (name == "timestamp")
      add("prefer-timestamptz", at, "column \"" + col + "\" is timestamp without time zone");
    else if (name == "varchar" && has_mods)
      add("prefer-text-field", at, "column \"" + col + "\" is varchar(n)");
    else if (name == "bpchar")
      add("ban-char-field", at, "column \"" + col + "\" is char(n)");
    else if (name == "json")
      add("prefer-jsonb", at, "column \"" + col + "\" is json");
  }

  // A table or enum the manifest does not list, or marks deprecated.
  void manifest_object(const std::string& name, std::size_t at, bool creates, bool is_enum) {
    if (!opts.manifest) return;
    const std::string q = qualify(name);
    const std::string what = std::string(creates ? "creates" : "alters") + (is_enum ? " the enum \"" : " \"") + q +
                             "\", which " + display_path(opts.manifest->path);
    if (opts.manifest->deprecated.count(q) != 0)
      add("manifest-deprecated", at, what + " marks deprecated");
    else if ((is_enum ? opts.manifest->enums : opts.manifest->tables).count(q) == 0)
      add(is_enum ? "manifest-unlisted-enum" : "manifest-unlisted-table", at,
          what + " does not list in \"" + (is_enum ? "enums" : "tables") + "\"");
  }
  void manifest_table(const std::string& table, std::size_t at, bool creates) {
    manifest_object(table, at, creates, false);
  }
  void manifest_enum(const std::string& type, std::size_t at, bool creates) { manifest_object(type, at, creates, true); }

  void manifest_column(const std::string& table, const std::string& column, std::size_t at) {
    if (!opts.manifest) return;
    auto it = opts.manifest->columns.find(qualify(table));
    if (it == opts.manifest->columns.end() || it->second.count(column) != 0) return;
    add("manifest-unlisted-column", at,
        "column \"" + column + "\" of \"" + qualify(table) + "\" is not in " + display_path(opts.manifest->path) +
            "'s \"columns\" of the table");
  }

  void alter_table(const json& node, const statement& st, std::size_t base) {
    const json& rv = node.value("relation", json::object());
    const std::string table = range_var_name(rv);
    const std::size_t table_at = base + static_cast<std::size_t>(std::max(0, location(rv)));
    if (str(node, "objtype") != "OBJECT_TABLE" && !str(node, "objtype").empty()) return;
    const bool existing = !made_here(created_tables, table);
    manifest_table(table, table_at, false);
    bool blocking = false;
    // Subcommands have no position of their own: the column each names, in order.
    const std::string_view stmt_text = std::string_view(src.text).substr(st.offset, st.length);
    std::size_t cursor = table_at - st.offset;
    for (const auto& c : node.value("cmds", json::array())) {
      const json& cmd = inner(c, "AlterTableCmd");
      const std::string sub = str(cmd, "subtype");
      const json& def = cmd.value("def", json::object());
      std::size_t at = table_at;
      if (!str(cmd, "name").empty())
        if (auto p = find_identifier(stmt_text, cursor, str(cmd, "name"))) {
          at = st.offset + *p;
          cursor = *p + 1;
        }
      if (sub == "AT_AddColumn") {
        const json& col = inner(def, "ColumnDef");
        if (location(col) >= 0) at = base + static_cast<std::size_t>(location(col));
        column_types(col, base);
        manifest_column(table, str(col, "colname"), at);
        blocking = true;
        if (!existing) continue;
        {
          const std::string t = type_name(col.value("typeName", json::object()));
          if (t == "serial" || t == "serial4" || t == "bigserial" || t == "serial8" || t == "smallserial" ||
              t == "serial2")
            add("adding-field-with-default", at,
                "adds the " + t + " column \"" + str(col, "colname") + "\" to \"" + table +
                    "\", which exists before this migration: its nextval() default rewrites the table");
          bool not_null = false, has_default = false;
          for (const auto& k : col.value("constraints", json::array())) {
            const std::string type = str(inner(k, "Constraint"), "contype");
            not_null = not_null || type == "CONSTR_NOTNULL" || type == "CONSTR_PRIMARY";
            has_default = has_default || type == "CONSTR_DEFAULT" || type == "CONSTR_GENERATED" ||
                          type == "CONSTR_IDENTITY";
          }
          if (not_null && !has_default && t.find("serial") == std::string::npos)
            add("adding-required-field", at,
                "adds \"" + str(col, "colname") + "\" NOT NULL without a default to \"" + table +
                    "\", which exists before this migration");
        }
        if (opts.robust && !flag(cmd, "missing_ok"))
          add("prefer-robust-stmts", at, "ADD COLUMN \"" + str(col, "colname") + "\" without IF NOT EXISTS");
        for (const auto& k : col.value("constraints", json::array())) {
          const json& con = inner(k, "Constraint");
          const std::string type = str(con, "contype");
          if (type == "CONSTR_GENERATED") {
            add("adding-field-with-default", at,
                "adds the stored generated column \"" + str(col, "colname") + "\" to \"" + table +
                    "\", which exists before this migration: the table is rewritten");
          } else if (type == "CONSTR_DEFAULT") {
            std::vector<std::string> calls;
            function_calls(con.value("raw_expr", json::object()), calls);
            // Name a function known to be volatile when the default calls one
            // (random() inside md5(...)), else the first not known to be safe.
            static const std::set<std::string> volatile_fns = {
                "random", "gen_random_uuid", "uuid_generate_v4", "uuid_generate_v1", "clock_timestamp",
                "timeofday", "nextval", "txid_current", "pg_current_xact_id", "random_normal", "setseed"};
            std::stable_partition(calls.begin(), calls.end(), [](const std::string& fn) {
              return volatile_fns.count(fn.substr(fn.rfind('.') == std::string::npos ? 0 : fn.rfind('.') + 1)) != 0;
            });
            for (const auto& fn : calls) {
              if (known_not_volatile(fn)) continue;
              add("adding-field-with-default", at,
                  "adds \"" + str(col, "colname") + "\" to \"" + table + "\", which exists before this migration, with the default " +
                      fn + "(), which rewrites the table if it is volatile");
              break;
            }
          }
        }
      } else if (sub == "AT_SetNotNull") {
        blocking = true;
        // A valid CHECK (column IS NOT NULL) spares the scan (PostgreSQL 12 and later).
        if (valid_not_null.count(qualify(table) + "." + str(cmd, "name")) != 0) continue;
        if (existing)
          add("adding-not-nullable-field", at,
              "SET NOT NULL on \"" + str(cmd, "name") + "\" of \"" + table + "\", which exists before this migration");
      } else if (sub == "AT_ValidateConstraint") {
        if (auto c = not_null_checks.find(str(cmd, "name")); c != not_null_checks.end())
          valid_not_null.insert(c->second);
      } else if (sub == "AT_AddConstraint") {
        const json& con = inner(def, "Constraint");
        const std::string type = str(con, "contype");
        if (type == "CONSTR_CHECK") {
          const json expr = con.value("raw_expr", json::object());
          const json& test = inner(expr, "NullTest");
          const json arg = test.value("arg", json::object());
          const json& col = inner(arg, "ColumnRef");
          if (str(test, "nulltesttype") == "IS_NOT_NULL" && col.contains("fields") && col["fields"].size() == 1) {
            const std::string key = qualify(table) + "." + str(inner(col["fields"][0], "String"), "sval");
            not_null_checks[str(con, "conname")] = key;
            if (!flag(con, "skip_validation")) valid_not_null.insert(key);
          }
        }
        if (location(con) >= 0) at = base + static_cast<std::size_t>(location(con));
        blocking = true;
        if (!existing) continue;
        const bool not_valid = flag(con, "skip_validation");
        if (type == "CONSTR_FOREIGN" && !not_valid)
          add("adding-foreign-key-constraint", at,
              "adds a foreign key to \"" + table + "\", which exists before this migration, without NOT VALID");
        else if (type == "CONSTR_CHECK" && !not_valid)
          add("constraint-missing-not-valid", at,
              "adds a CHECK constraint to \"" + table + "\", which exists before this migration, without NOT VALID");
        else if (type == "CONSTR_UNIQUE" && str(con, "indexname").empty())
          add("disallowed-unique-constraint", at,
              "adds a UNIQUE constraint to \"" + table + "\", which exists before this migration, building its index");
        else if (type == "CONSTR_PRIMARY" && str(con, "indexname").empty())
          add("adding-serial-primary-key-field", at,
              "adds a PRIMARY KEY to \"" + table + "\", which exists before this migration, building its index");
      } else if (sub == "AT_AlterColumnType") {
        blocking = true;
        const json& col = inner(def, "ColumnDef");
        column_types(col, base, str(cmd, "name"));
        if (existing)
          add("changing-column-type", at,
              "changes the type of \"" + str(cmd, "name") + "\" of \"" + table + "\", which exists before this migration");
      } else if (sub == "AT_DropColumn") {
        blocking = true;
        if (opts.robust && !flag(cmd, "missing_ok"))
          add("prefer-robust-stmts", at, "DROP COLUMN \"" + str(cmd, "name") + "\" without IF EXISTS");
        if (existing)
          add("ban-drop-column", at,
              "drops \"" + str(cmd, "name") + "\" of \"" + table + "\", which exists before this migration");
      } else if (sub == "AT_EnableRowSecurity" || sub == "AT_ForceRowSecurity") {
        rls_enabled.insert(qualify(table));
      } else if (sub != "AT_ValidateConstraint" && sub != "AT_SetStatistics" && sub != "AT_SetOptions" &&
                 sub != "AT_ResetOptions" && sub != "AT_ClusterOn" && sub != "AT_DropCluster" &&
                 sub != "AT_ReplicaIdentity" && sub != "AT_AttachPartition") {
        blocking = true;
      }
    }
    if (blocking && existing) blocking_lock(table, table_at);
  }

  void statement_node(const std::string& kind, const json& node, const statement& st, std::size_t base) {
    const std::size_t at = st.start;
    if (kind == "CreateStmt") {
      const json& rv = node.value("relation", json::object());
      const std::string table = range_var_name(rv);
      const std::size_t table_at = base + static_cast<std::size_t>(std::max(0, location(rv)));
      if (!flag(node, "if_not_exists") && opts.robust)
        add("prefer-robust-stmts", at, "CREATE TABLE \"" + table + "\" without IF NOT EXISTS");
      manifest_table(table, table_at, true);
      for (const auto& e : node.value("tableElts", json::array())) {
        const json& col = inner(e, "ColumnDef");
        if (col.empty()) continue;
        column_types(col, base);
        manifest_column(table, str(col, "colname"),
                        base + static_cast<std::size_t>(std::max(0, location(col))));
      }
      created_tables.insert(table);
      const std::string q = qualify(table);
      if (opts.profile == "supabase" && q.rfind("public.", 0) == 0 && str(rv, "relpersistence") != "t")
        rls_tables.emplace_back(q, table_at);
    } else if (kind == "CreateTableAsStmt") {
      const json into = node.value("into", json::object());
      const json rel = into.value("rel", json::object());
      const std::string table = range_var_name(rel);
      created_tables.insert(table);
      if (str(node, "objtype") == "OBJECT_TABLE" && opts.profile == "supabase" &&
          qualify(table).rfind("public.", 0) == 0 && str(rel, "relpersistence") != "t")
        rls_tables.emplace_back(qualify(table), base + static_cast<std::size_t>(std::max(0, location(rel))));
    } else if (kind == "AlterTableStmt") {
      alter_table(node, st, base);
    } else if (kind == "IndexStmt") {
      const json& rv = node.value("relation", json::object());
      const std::string table = range_var_name(rv);
      const std::string idx = str(node, "idxname");
      if (!idx.empty()) {
        const std::string schema = str(rv, "schemaname");
        created_indexes.insert(schema.empty() ? idx : schema + "." + idx);
      }
      if (!flag(node, "if_not_exists") && opts.robust && !idx.empty())
        add("prefer-robust-stmts", at, "CREATE INDEX \"" + idx + "\" without IF NOT EXISTS");
      if (flag(node, "concurrent")) {
        if (explicit_depth > 0)
          add("ban-concurrent-index-creation-in-transaction", at,
              "CREATE INDEX CONCURRENTLY inside the transaction the file opens with BEGIN");
      } else if (!made_here(created_tables, table)) {
        add("require-concurrent-index-creation", at,
            "CREATE INDEX on \"" + table + "\", which exists before this migration, without CONCURRENTLY");
        blocking_lock(table, at);
      }
    } else if (kind == "DropStmt") {
      const std::string type = str(node, "removeType");
      for (const auto& o : node.value("objects", json::array())) {
        const std::string name = dotted(inner(o, "List").value("items", json::array()));
        if (type == "OBJECT_INDEX") {
          if (flag(node, "concurrent")) {
            if (explicit_depth > 0)
              add("ban-concurrent-index-creation-in-transaction", at,
                  "DROP INDEX CONCURRENTLY inside the transaction the file opens with BEGIN");
          } else if (!made_here(created_indexes, name)) {
            add("require-concurrent-index-deletion", at,
                "DROP INDEX \"" + name + "\", which exists before this migration, without CONCURRENTLY");
            blocking_lock("the table of index " + name, at);
          }
        } else if (type == "OBJECT_TABLE") {
          if (!made_here(created_tables, name))
            add("ban-drop-table", at, "drops \"" + name + "\", which exists before this migration");
          if (opts.manifest && opts.manifest->tables.count(qualify(name)) == 0 &&
              opts.manifest->deprecated.count(qualify(name)) == 0)
            manifest_table(name, at, false);
        }
      }
      if (!flag(node, "missing_ok") && opts.robust &&
          (type == "OBJECT_TABLE" || type == "OBJECT_INDEX" || type == "OBJECT_VIEW" || type == "OBJECT_TYPE" ||
           type == "OBJECT_SEQUENCE" || type == "OBJECT_FUNCTION" || type == "OBJECT_SCHEMA"))
        add("prefer-robust-stmts", at, "DROP without IF EXISTS");
    } else if (kind == "RenameStmt") {
      const std::string type = str(node, "renameType");
      const std::string table = range_var_name(node.value("relation", json::object()));
      if (type == "OBJECT_COLUMN" && !made_here(created_tables, table))
        add("renaming-column", at,
            "renames \"" + str(node, "subname") + "\" of \"" + table + "\", which exists before this migration, to \"" +
                str(node, "newname") + "\"");
      else if (type == "OBJECT_TABLE" && !made_here(created_tables, table))
        add("renaming-table", at,
            "renames \"" + table + "\", which exists before this migration, to \"" + str(node, "newname") + "\"");
      if ((type == "OBJECT_COLUMN" || type == "OBJECT_TABLE") && !made_here(created_tables, table))
        blocking_lock(table, at);
    } else if (kind == "TruncateStmt") {
      if (str(node, "behavior") == "DROP_CASCADE")
        add("ban-truncate-cascade", at, "TRUNCATE ... CASCADE");
    } else if (kind == "VacuumStmt") {
      for (const auto& o : node.value("options", json::array()))
        if (str(inner(o, "DefElem"), "defname") == "full") add("prefer-repack", at, "VACUUM FULL");
    } else if (kind == "ClusterStmt") {
      add("prefer-repack", at, "CLUSTER");
    } else if (kind == "ViewStmt" || kind == "CreateFunctionStmt" || kind == "CreateSchemaStmt" ||
               kind == "CreateSeqStmt") {
      if (opts.robust && !flag(node, "replace") && !flag(node, "if_not_exists"))
        add("prefer-robust-stmts", at,
            std::string(kind == "ViewStmt"             ? "CREATE VIEW without OR REPLACE"
                        : kind == "CreateFunctionStmt" ? "CREATE FUNCTION without OR REPLACE"
                        : kind == "CreateSchemaStmt"   ? "CREATE SCHEMA without IF NOT EXISTS"
                                                       : "CREATE SEQUENCE without IF NOT EXISTS"));
    }
    if (kind == "CreateEnumStmt") {
      const std::string type = dotted(node.value("typeName", json::array()));
      created_types.insert(type);
      manifest_enum(type, at, true);
      if (opts.robust) add("prefer-robust-stmts", at, "CREATE TYPE \"" + type + "\" fails when it exists");
    } else if (kind == "AlterEnumStmt") {
      const std::string type = dotted(node.value("typeName", json::array()));
      manifest_enum(type, at, false);
      if (!str(node, "oldVal").empty()) return;  // RENAME VALUE
      if (str(node, "newValNeighbor").empty())
        add("require-enum-value-ordering", at,
            "ADD VALUE '" + str(node, "newVal") + "' to \"" + type + "\" without BEFORE or AFTER");
      if (!made_here(created_types, type)) added_labels.emplace(str(node, "newVal"), at);
    } else if (kind == "TransactionStmt") {
      const std::string k = str(node, "kind");
      if (k == "TRANS_STMT_BEGIN" || k == "TRANS_STMT_START") {
        ++explicit_depth;
        open_begin = at;
      } else if (k == "TRANS_STMT_COMMIT" || k == "TRANS_STMT_ROLLBACK" || k == "TRANS_STMT_COMMIT_PREPARED" ||
                 k == "TRANS_STMT_ROLLBACK_PREPARED" || k == "TRANS_STMT_PREPARE") {
        explicit_depth = 0;
        open_begin.reset();
        if (lock_timeout_local) {
          // SET LOCAL ended with the transaction: the next one needs its own
          // (and gets its own finding).
          lock_timeout_set = lock_timeout_local = false;
          lock_timeout_reported = false;
        }
      }
    } else if (kind == "VariableSetStmt") {
      // lock_timeout = 0 (or '0', DEFAULT, RESET) is no limit.
      if (str(node, "name") == "lock_timeout") {
        std::set<std::string> values;
        string_constants(node, values);
        const std::string dumped = node.dump();
        const bool zero = str(node, "kind") != "VAR_SET_VALUE" || values.count("0") != 0 || values.count("0s") != 0 ||
                          values.count("0ms") != 0 ||
                          (values.empty() && dumped.find("\"ival\":{}") != std::string::npos);
        // SET LOCAL lasts to the end of the transaction: the file's own, or
        // the one pgmt runs the file in; outside any (a file run statement by
        // statement) it does nothing.
        const bool local = flag(node, "is_local");
        if (local && explicit_depth == 0 && !single_transaction) return;
        lock_timeout_set = !zero;
        lock_timeout_local = local && explicit_depth > 0;
      }
    } else if (kind == "DoStmt") {
      do_block(node, st);
    } else if (kind == "CreateFunctionStmt") {
      bool definer = false, search_path = false;
      for (const auto& o : node.value("options", json::array())) {
        const json& d = inner(o, "DefElem");
        if (str(d, "defname") == "security") definer = flag(inner(d.value("arg", json::object()), "Boolean"), "boolval");
        if (str(d, "defname") == "set" &&
            str(inner(d.value("arg", json::object()), "VariableSetStmt"), "name") == "search_path")
          search_path = true;
      }
      if (definer && !search_path) definers[dotted(node.value("funcname", json::array()))] = at;
    } else if (kind == "AlterFunctionStmt") {
      const std::string fn = dotted(node.value("func", json::object()).value("objname", json::array()));
      bool definer = false, search_path = false;
      for (const auto& o : node.value("actions", json::array())) {
        const json& d = inner(o, "DefElem");
        if (str(d, "defname") == "security") definer = flag(inner(d.value("arg", json::object()), "Boolean"), "boolval");
        if (str(d, "defname") == "set" &&
            str(inner(d.value("arg", json::object()), "VariableSetStmt"), "name") == "search_path")
          search_path = true;
      }
      auto same = [&](const std::string& a, const std::string& b) { return qualify(a) == qualify(b); };
      if (search_path)
        for (auto it = definers.begin(); it != definers.end();)
          it = same(it->first, fn) ? definers.erase(it) : std::next(it);
      if (definer && !search_path) definers[fn] = at;
    }
    if (kind == "SelectStmt") {
      // SELECT set_config('lock_timeout', ...)
      std::vector<std::string> calls;
      function_calls(node, calls);
      if (std::find(calls.begin(), calls.end(), "set_config") != calls.end()) {
        std::set<std::string> consts;
        string_constants(node, consts);
        if (consts.count("lock_timeout") != 0) lock_timeout_set = true;
      }
    }
    // A label added earlier in this transaction, used here.
    if (!added_labels.empty() && single_transaction && kind != "AlterEnumStmt") {
      std::set<std::string> consts;
      string_constants(node, consts);
      if (kind == "DoStmt") consts.insert(do_constants.begin(), do_constants.end());
      for (const auto& [label, where] : added_labels)
        if (consts.count(label) != 0) {
          add("enum-value-used-in-transaction", at,
              "uses '" + label + "', which ADD VALUE at line " +
                  std::to_string(src.first_line + position_of(src.text, where).line - 1) +
                  " adds in the same transaction");
          break;
        }
    }
  }

  // The string constants of a PL/pgSQL statement's SQL or of an expression.
  static void sql_constants(const std::string& sql, std::set<std::string>& out) {
    // An assignment ("s := 'x'") is parsed as its value.
    const auto assign = sql.find(":=");
    const std::string value = assign == std::string::npos ? sql : sql.substr(assign + 2);
    for (const std::string& text : {sql, "select " + value}) {
      PgQueryParseResult r = pg_query_parse(text.c_str());
      bool parsed = !r.error && r.parse_tree;
      if (parsed) {
        try {
          string_constants(json::parse(r.parse_tree), out);
        } catch (const json::exception&) {
        }
      }
      pg_query_free_parse_result(r);
      if (parsed) return;
    }
  }

  // COMMIT or ROLLBACK in a DO block's PL/pgSQL, from its own parse tree; the
  // constants its SQL uses (do_constants).
  void do_block(const json& node, const statement& st) {
    do_constants.clear();
    std::string body, language = "plpgsql";
    for (const auto& a : node.value("args", json::array())) {
      const json& d = inner(a, "DefElem");
      if (str(d, "defname") == "as") body = str(inner(d.value("arg", json::object()), "String"), "sval");
      if (str(d, "defname") == "language") language = str(inner(d.value("arg", json::object()), "String"), "sval");
    }
    if (language != "plpgsql" || body.empty()) return;
    std::string tag = "$pgmt_lint$";
    for (int i = 0; body.find(tag) != std::string::npos; ++i) tag = "$pgmt_lint" + std::to_string(i) + "$";
    const std::string fn = "create function pgmt_lint() returns void language plpgsql as " + tag + body + tag;
    PgQueryPlpgsqlParseResult r = pg_query_parse_plpgsql(fn.c_str());
    std::vector<int> lines;
    if (!r.error && r.plpgsql_funcs) {
      try {
        std::vector<json> stack{json::parse(r.plpgsql_funcs)};
        while (!stack.empty()) {
          json n = std::move(stack.back());
          stack.pop_back();
          if (n.is_object()) {
            for (auto& [key, value] : n.items()) {
              if ((key == "PLpgSQL_stmt_commit" || key == "PLpgSQL_stmt_rollback") && value.contains("lineno"))
                lines.push_back(value["lineno"].get<int>());
              // The SQL of the block's statements and expressions: its
              // constants, for the enum labels it uses.
              if (key == "query" && value.is_string()) sql_constants(value.get<std::string>(), do_constants);
              stack.push_back(value);
            }
          } else if (n.is_array()) {
            for (auto& v : n) stack.push_back(v);
          }
        }
      } catch (const json::exception&) {
      }
    }
    pg_query_free_plpgsql_parse_result(r);
    if (lines.empty() || !single_transaction) return;
    std::sort(lines.begin(), lines.end());
    // Line N of the body, in the file.
    std::size_t at = st.start;
    if (auto body_at = dollar_body_start(src.text, st.offset, st.offset + st.length)) {
      at = *body_at;
      for (int l = 1; l < lines.front(); ++l) {
        auto nl = src.text.find('\n', at);
        if (nl == std::string::npos || nl >= st.offset + st.length) break;
        at = nl + 1;
      }
      at = skip_blanks_and_comments(src.text, at);
    }
    add("transaction-commit-in-do", at, "COMMIT or ROLLBACK inside a DO block of a migration run in a transaction");
  }

  void identifiers(const json& tree, const statement& st) {
    std::vector<std::string> cut;
    long_names(tree, cut);
    const std::string text = src.text.substr(st.offset, st.length);
    std::string lower = text;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const auto& name : cut) {
      // Cut when the text goes on with more of the identifier after the 63 bytes.
      std::string n = name;
      for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      for (std::size_t p = lower.find(n); p != std::string::npos; p = lower.find(n, p + 1)) {
        const std::size_t after = p + n.size();
        if (after < text.size()) {
          const unsigned char c = static_cast<unsigned char>(text[after]);
          if (std::isalnum(c) || c == '_' || c == '$' || (c & 0x80)) {
            add("identifier-too-long", st.offset + p,
                "\"" + text.substr(p, after - p) + "...\" is longer than 63 bytes; PostgreSQL cuts it to \"" + name + "\"");
            return;
          }
        }
      }
    }
  }

  void run() {
    const script_plan plan = plan_script(src);
    single_transaction = plan.mode == tx_mode::single_transaction;
    for (const auto& st : plan.statements) {
      statement_start = st.start;
      read_ignores(st);
      const std::string text = src.text.substr(st.offset, st.length);
      PgQueryParseResult parsed = pg_query_parse(text.c_str());
      json tree;
      if (!parsed.error && parsed.parse_tree) {
        try {
          tree = json::parse(parsed.parse_tree);
        } catch (const json::exception&) {
        }
      }
      if (parsed.error) {
        // The server says the same when the migration runs; lint cannot judge it.
        diagnostic d = diagnostic_at(src, parsed.error->cursorpos > 0
                                              ? st.offset + byte_offset_of_char(text, parsed.error->cursorpos)
                                              : st.start,
                                     parsed.error->message);
        pg_query_free_parse_result(parsed);
        throw script_error(d);
      }
      pg_query_free_parse_result(parsed);
      if (!tree.is_object() || !tree.contains("stmts") || tree["stmts"].empty()) continue;
      const json& stmt = tree["stmts"][0].value("stmt", json::object());
      if (stmt.empty()) continue;
      const std::string kind = stmt.items().begin().key();
      identifiers(stmt, st);
      if (!st.no_transaction_reason.empty()) {
        const std::string& what = st.no_transaction_reason;
        if (explicit_depth > 0) {
          if (what != "CREATE INDEX CONCURRENTLY" && what != "DROP INDEX CONCURRENTLY")  // squawk's rule
            add("ban-non-transactional-in-transaction", st.start,
                what + " inside the transaction the file opens with BEGIN");
        } else if (plan.mode != tx_mode::single_transaction && !src.no_transaction && plan.statements.size() > 1) {
          // (Outside the file's own transactions too: those tools send the file as one query.)
          const std::size_t others = plan.statements.size() - 1;
          add("non-transactional-with-others", st.start,
              what + " cannot run in a transaction, and this migration has " + std::to_string(others) +
                  (others == 1 ? " other statement" : " other statements"));
        }
      }
      statement_node(kind, stmt[kind], st, st.offset);
    }
    lifted.clear();
    for (const auto& [fn, at] : definers) {
      statement_start = at;
      add("security-definer-search-path", at, "SECURITY DEFINER function \"" + fn + "\" without SET search_path");
    }
    if (open_begin)
      add("ban-uncommitted-transaction", *open_begin, "BEGIN without a COMMIT after it in the file");
    for (const auto& [table, at] : rls_tables)
      if (rls_enabled.count(table) == 0)
        add("rls-disabled-in-public", at,
            "creates \"" + table + "\" in the schema public, which the API roles reach, and does not enable row "
                                   "level security on it in this migration");
    std::stable_sort(out.begin(), out.end(), [](const lint_finding& a, const lint_finding& b) {
      return std::make_pair(a.where.line, a.where.column) < std::make_pair(b.where.line, b.where.column);
    });
  }
};

}  // namespace

std::vector<lint_finding> lint_source(const sql_source& src, const lint_options& opts) {
  linter l(src, opts);
  l.run();
  return std::move(l.out);
}

lint_options lint_options_for(const suite& s, const migration_set& set, std::size_t index,
                              const lint_manifest* manifest) {
  lint_options o;
  o.ignore.insert(s.lint_ignore.begin(), s.lint_ignore.end());
  if (s.lint_errors) o.errors = std::set<std::string>(s.lint_errors->begin(), s.lint_errors->end());
  o.profile = s.profile;
  o.manifest = manifest;
  const auto checks = checks_for(s, set, index);
  o.robust = std::find(checks.begin(), checks.end(), "idempotency") != checks.end();
  return o;
}

void merge_trace(std::vector<lint_finding>& findings, const sql_source& src, const lock_trace& trace,
                 const lint_options& opts) {
  // Rules about locks, and those about rewrites, that a trace can prove or disprove.
  static const std::set<std::string> lock_rules = {
      "adding-field-with-default",       "adding-not-nullable-field",         "adding-foreign-key-constraint",
      "constraint-missing-not-valid",    "disallowed-unique-constraint",      "adding-serial-primary-key-field",
      "require-concurrent-index-creation", "require-concurrent-index-deletion", "changing-column-type",
      "prefer-repack",                   "require-lock-timeout"};
  static const std::set<std::string> rewrite_rules = {"adding-field-with-default", "changing-column-type"};
  // Rules whose statements take a blocking lock anyway (a drop, a rename).
  static const std::set<std::string> known_hazards = {"ban-drop-table", "ban-drop-column", "renaming-column",
                                                      "renaming-table", "ban-truncate-cascade"};
  // Statement kinds whose locks the static rules judge: a lock they take is foreseen.
  static const std::set<std::string> judged_kinds = {"AlterTableStmt", "IndexStmt",   "DropStmt",  "RenameStmt",
                                                     "VacuumStmt",     "ClusterStmt", "TruncateStmt"};
  const script_plan plan = plan_script(src);
  // Rules about a scan that validates: disproved when the statement scanned no table.
  static const std::set<std::string> scan_rules = {"adding-not-nullable-field", "constraint-missing-not-valid",
                                                   "adding-foreign-key-constraint"};
  auto scanned = [&trace](std::size_t start) {
    return std::any_of(trace.locks.begin(), trace.locks.end(),
                       [start](const traced_lock& t) { return t.start == start && (t.scanned || t.rewritten); });
  };
  auto rewrote = [&trace](std::size_t start) {
    return std::any_of(trace.locks.begin(), trace.locks.end(),
                       [start](const traced_lock& t) { return t.start == start && t.rewritten; });
  };
  findings.erase(std::remove_if(findings.begin(), findings.end(),
                                [&](const lint_finding& f) {
                                  if (trace.traced.count(f.statement) == 0) return false;
                                  if (rewrite_rules.count(f.rule) != 0) return !rewrote(f.statement);
                                  if (scan_rules.count(f.rule) != 0 && trace.scans_known.count(f.statement) != 0 &&
                                      !scanned(f.statement))
                                    return true;
                                  return lock_rules.count(f.rule) != 0 && trace.holding.count(f.statement) == 0;
                                }),
                 findings.end());
  for (const auto& t : trace.locks) {
    std::string evidence = "trace: ";
    if (!t.mode.empty()) evidence += "takes " + t.mode + " on \"" + t.table + "\", a table that exists before this migration";
    if (t.rewritten) evidence += std::string(t.mode.empty() ? "rewrites \"" + t.table + "\"" : ", and rewrites it");
    else if (t.scanned)
      evidence += std::string(t.mode.empty() ? "scans \"" + t.table + "\" to validate" : ", and scans it to validate");
    const std::string until = t.until.empty() ? "the commit" : t.until;
    evidence += "; held " + (t.statements_after == 0 ? "to " + until
                                                     : "for the " + std::to_string(t.statements_after) +
                                                           (t.statements_after == 1 ? " statement" : " statements") +
                                                           " after it, to " + until) +
                " (" + std::to_string(t.held.count()) + " ms here, on the test's data)";
    // A statement a rule about its lock flagged was foreseen; so is a kind
    // the static rules judge (ALTER TABLE, CREATE INDEX, DROP, ...), flagged
    // or not, and one whose rule a lint-ignore lifted.
    bool foreseen = false;
    for (auto& f : findings) {
      if (f.statement != t.start) continue;
      if (lock_rules.count(f.rule) != 0) f.where.notes.push_back(evidence);
      if (lock_rules.count(f.rule) != 0 || known_hazards.count(f.rule) != 0) foreseen = true;
    }
    if (foreseen || t.mode.empty()) continue;
    const char* rule = "blocking-lock-on-existing-table";
    if (opts.ignore.count(rule) != 0) continue;
    bool lifted = false;
    for (const auto& st : plan.statements)
      if (st.start == t.start) {
        lifted = judged_kinds.count(st.kind) != 0;
        for (const auto& [at, words] : ignore_comments(src, st))
          lifted = lifted || (words.size() >= 2 && find_lint_rule(words[0]));
      }
    if (lifted) continue;
    const lint_rule* r = find_lint_rule(rule);
    lint_finding f;
    f.rule = rule;
    f.statement = t.start;
    f.error = opts.errors ? opts.errors->count(rule) != 0 || opts.errors->count("all") != 0 : r->error;
    f.where = diagnostic_at(src, t.start, std::string(rule) + ": takes " + t.mode + " on \"" + t.table +
                                              "\", a table that exists before this migration");
    f.where.hint = r->fix;
    f.where.notes.push_back(std::string(f.error ? "error" : "warning") + ": " + r->why);
    f.where.notes.push_back(evidence);
    findings.push_back(std::move(f));
  }
  std::stable_sort(findings.begin(), findings.end(), [](const lint_finding& a, const lint_finding& b) {
    return std::make_pair(a.where.line, a.where.column) < std::make_pair(b.where.line, b.where.column);
  });
}

check_result check_lint(const suite& s, const migration_set& set, std::size_t index, const lock_trace* trace) {
  const migration& m = set.migrations.at(index);
  std::optional<lint_manifest> manifest;
  if (!s.lint_manifest.empty()) {
    try {
      manifest = read_lint_manifest(s.lint_manifest);
    } catch (const input_error& e) {
      return check_result::fail({e.what()}, "the lint manifest cannot be read");
    }
  }
  std::vector<lint_finding> findings;
  try {
    const lint_options opts = lint_options_for(s, set, index, manifest ? &*manifest : nullptr);
    findings = lint_source(m.up, opts);
    if (trace) merge_trace(findings, m.up, *trace, opts);
  } catch (const script_error& e) {
    return check_result::fail({e.diag().format()}, "the script cannot be read as SQL");
  }
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
  std::set<std::string> rules;
  for (const auto& f : findings) {
    (f.error ? errors : warnings).push_back(f.where.format());
    rules.insert(f.rule);
  }
  std::string ids;
  for (const auto& r : rules) ids += (ids.empty() ? "" : ", ") + r;
  auto count = [](std::size_t n, const char* one) {
    return std::to_string(n) + " " + one + (n == 1 ? "" : "s");
  };
  if (!errors.empty()) {
    check_result r = check_result::fail(
        errors, (warnings.empty() ? "" : "and " + count(warnings.size(), "warning") + "; ") + ids);
    r.details = warnings;
    return r;
  }
  check_result r = check_result::pass(
      findings.empty() ? "no finding in " + display_path(m.up.path)
                       : count(warnings.size(), "warning") + " in " + display_path(m.up.path) + " (" + ids + ")");
  r.details = warnings;
  return r;
}

}  // namespace pgmt
