#include "pgmt/checks.hpp"

#include "pgmt/lint.hpp"

#include "pgmt/lock.hpp"
#include "pgmt/pg.hpp"
#include "pgmt/pgtap.hpp"
#include "pgmt/rls.hpp"
#include "pgmt/text.hpp"

#include <algorithm>
#include <chrono>
#include <cctype>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

namespace pgmt {

namespace {

std::string ms(std::chrono::duration<double, std::milli> d) {
  std::ostringstream s;
  s.precision(d.count() < 10 ? 2 : 0);
  s << std::fixed << d.count() << " ms";
  return s.str();
}

// Drops a database when the check is done with it, whatever happened.
class scratch_db {
 public:
  scratch_db(state_cache& cache, std::string name) : cache_(cache), name_(std::move(name)) {}
  ~scratch_db() {
    if (name_.empty()) return;
    try {
      cache_.drop(name_);
    } catch (...) {
      // The server is disposable; a leftover database goes with it.
    }
  }
  scratch_db(const scratch_db&) = delete;
  scratch_db& operator=(const scratch_db&) = delete;
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  void release() noexcept { name_.clear(); }

 private:
  state_cache& cache_;
  std::string name_;
};

}  // namespace

namespace detail {
check_result skipped_because(const state_error& e) {
  if (e.culprit() == "fixtures")
    return check_result::skip("the state before it could not be built: the fixtures fail (" + e.diag().headline() +
                              "); the apply test of the first migration reports it");
  return check_result::skip("the state before it could not be built: " + e.culprit() + " fails (" +
                            e.diag().headline() + "); see its own test");
}
check_result skipped_because(const state_error& e, const suite& s, const migration& m,
                             const migration_set& set) {
  if (e.culprit() != m.id()) {
    // Name the test that reports the culprit.
    for (const auto& other : set.migrations)
      if (other.id() == e.culprit())
        return check_result::skip("the state before it could not be built: " + e.culprit() + " fails (" +
                                  e.diag().headline() + "); see " + s.name + "." + other.version + ".apply");
    return skipped_because(e);
  }
  return check_result::skip("the migration itself does not apply (" + e.diag().headline() + "); see " + s.name +
                            "." + m.version + ".apply");
}
}  // namespace detail

namespace {
using detail::skipped_because;

// Findings for snapshot differences: one line each (at most max_lines, the
// rest counted), the full material in a file whose path ends the list.
void add_diff_findings(std::vector<std::string>& findings, const std::vector<difference>& diffs,
                       const std::filesystem::path& file, const std::string& title) {
  if (diffs.empty()) return;
  constexpr std::size_t max_lines = 40;
  for (std::size_t i = 0; i < diffs.size() && i < max_lines; ++i) findings.push_back(diffs[i].line);
  if (diffs.size() > max_lines)
    findings.push_back("... and " + std::to_string(diffs.size() - max_lines) + " more");
  write_diff_file(file, title, diffs);
  findings.push_back("  full diff: " + file.string());
}

// The differences a suite counts: COLUMN_ORDER ignore leaves out those of
// column order alone (the columns themselves are still compared).
std::vector<difference> counted(const suite& s, std::vector<difference> diffs) {
  if (s.column_order == "ignore")
    diffs.erase(std::remove_if(diffs.begin(), diffs.end(),
                               [](const difference& d) {
                                 return d.kind == "table" && d.line.find(": column order ") != std::string::npos;
                               }),
                diffs.end());
  return diffs;
}

std::filesystem::path output_file(const suite& s, const migration* m, const std::string& check) {
  return s.output_dir / (s.name + (m ? "." + m->version : std::string()) + "." + check + ".diff");
}

// The per-migration data file of the suite's data folder: <version>.sql or <version>_*.sql.
std::optional<sql_source> data_file(const suite& s, const migration& m) {
  if (s.data_dir.empty()) return std::nullopt;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(s.data_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() != ".sql") continue;
    if (name == m.version + ".sql" || name.rfind(m.version + "_", 0) == 0) {
      sql_source src;
      src.path = e.path();
      src.text = read_sql_file(e.path());
      return src;
    }
  }
  return std::nullopt;
}

run_options options_for(const suite& s, std::string label) {
  run_options o;
  o.statement_timeout = s.statement_timeout;
  o.lock_timeout = s.lock_timeout;
  o.label = std::move(label);
  o.shared_server = s.shared_server;
  return o;
}

}  // namespace

namespace {

bool has_downs(const migration_set& set) {
  return std::any_of(set.migrations.begin(), set.migrations.end(),
                     [](const migration& x) { return x.down.has_value(); });
}

using tests_fn = std::vector<std::string> (*)(const suite&, const migration_set&, std::size_t);
std::vector<std::string> one(bool yes, const char* name) {
  return yes ? std::vector<std::string>{name} : std::vector<std::string>{};
}

}  // namespace

const std::vector<check_kind>& check_registry() {
  static const std::vector<check_kind> kinds = {
      {"apply", check_kind::scope::migration, "apply", "the migration applies on the state before it",
       [](const suite&, const migration_set&, std::size_t) { return one(true, "apply"); },
       [](state_cache& c, std::size_t i, const std::string&) { return check_apply(c, i); }},
      {"idempotency", check_kind::scope::migration, "idempotency",
       "running it a second time changes neither the schema nor any row count",
       [](const suite& s, const migration_set& set, std::size_t i) {
         // Supabase records applied migrations and never runs one twice: its
         // migrations are plain CREATE statements, so AUTO leaves the check out there.
         // Flyway's versioned migrations run once too (its history table);
         // its repeatable ones run again whenever they change, so they must
         // be re-runnable.
         const migration& m = set.migrations.at(i);
         bool on = s.idempotency == "on" ||
                   (s.idempotency == "auto" &&
                    (m.repeatable || (!has_downs(set) && s.profile != "supabase" && set.kind != layout::flyway)));
         return one(on && !m.not_idempotent, "idempotency");
       },
       [](state_cache& c, std::size_t i, const std::string&) { return check_idempotency(c, i); }},
      {"roundtrip", check_kind::scope::migration, "roundtrip",
       "up, down, up: down restores the schema and the rows, up again gives the same schema",
       [](const suite&, const migration_set& set, std::size_t i) {
         const migration& m = set.migrations.at(i);
         // IRREVERSIBLE (or -- pgmt:irreversible) leaves the round trip out,
         // whatever down script there is (an empty one, say).
         return one(has_downs(set) && !m.repeatable && !m.irreversible, "roundtrip");
       },
       [](state_cache& c, std::size_t i, const std::string&) { return check_roundtrip(c, i); }},
      {"verify", check_kind::scope::migration, "verify",
       "sqitch's verify script of the change runs without error on the state after it",
       [](const suite&, const migration_set& set, std::size_t i) {
         return one(set.migrations.at(i).verify.has_value(), "verify");
       },
       [](state_cache& c, std::size_t i, const std::string&) { return check_verify(c, i); }},
      {"rls", check_kind::scope::migration, "rls", "the migration's RLS assertion file holds, as its users",
       [](const suite& s, const migration_set& set, std::size_t i) {
         return one(!s.rls_dir.empty() && scan_rls_dir(s.rls_dir, set).by_version.count(set.migrations.at(i).version),
                    "rls");
       },
       [](state_cache& c, std::size_t i, const std::string&) { return check_rls(c, i); }},
      {"lint", check_kind::scope::migration, "lint",
       "no hazard of the lint rules in the migration's SQL (warnings pass; errors fail)",
       [](const suite& s, const migration_set&, std::size_t) { return one(!s.lint_off, "lint"); },
       [](state_cache& c, std::size_t i, const std::string&) { return check_lint(c.config(), c.migrations(), i); }},
      {"reset", check_kind::scope::suite, "reset", "fixtures, every migration and the seeds build a database from nothing",
       [](const suite&, const migration_set&, std::size_t) { return one(true, "reset"); },
       [](state_cache& c, std::size_t, const std::string&) { return check_reset(c); }},
      {"lock", check_kind::scope::suite, "lock",
       "no locked (released) migration changed, was removed or renamed, or has a new one before it",
       [](const suite& s, const migration_set&, std::size_t) { return one(!s.lock_path().empty(), "lock"); },
       [](state_cache& c, std::size_t, const std::string&) { return check_lock_file(c.config(), c.migrations()); }},
      {"drift", check_kind::scope::suite, "drift", "the schema after every migration equals the snapshot file",
       [](const suite& s, const migration_set&, std::size_t) { return one(!s.snapshot_file.empty(), "drift"); },
       [](state_cache& c, std::size_t, const std::string&) { return check_drift(c); }},
      {"rls", check_kind::scope::suite, "rls", "final.json holds on the reset state",
       [](const suite& s, const migration_set& set, std::size_t) {
         return one(!s.rls_dir.empty() && scan_rls_dir(s.rls_dir, set).final_file.has_value(), "rls");
       },
       [](state_cache& c, std::size_t, const std::string&) { return check_rls_final(c); }},
      {"rls_coverage", check_kind::scope::suite, "rls,rls_coverage",
       "every table the API roles reach has RLS on; what the assertion files exercise",
       [](const suite& s, const migration_set&, std::size_t) {
         return one(!s.rls_dir.empty() || s.profile == "supabase", "rls_coverage");
       },
       [](state_cache& c, std::size_t, const std::string&) { return check_rls_coverage(c); }},
      {"pgtap", check_kind::scope::suite, "pgtap", "the pgTAP file passes on a reset state built with pgtap",
       [](const suite& s, const migration_set&, std::size_t) {
         std::vector<std::string> out;
         if (!s.pgtap_dir.empty())
           for (const auto& f : pgtap_files(s.pgtap_dir)) {
             const std::string name = pgtap_test_name(f);
             if (name.find_first_of(" \t;,=") != std::string::npos)
               throw input_error(display_path(f) +
                                 ": a pgTAP file name becomes a test name; rename it without spaces");
             out.push_back("pgtap." + name);
           }
         return out;
       },
       [](state_cache& c, std::size_t, const std::string& test) { return check_pgtap(c, test.substr(6)); }},
  };
  return kinds;
}

const check_kind* find_check(const std::string& test, check_kind::scope where) {
  const std::string name = test.substr(0, test.find('.'));
  for (const auto& k : check_registry())
    if (k.name == name && k.where == where && (name == "pgtap") == (test.find('.') != std::string::npos))
      return &k;
  return nullptr;
}

std::string known_checks() {
  std::string out;
  std::vector<std::string> names;
  for (const auto& k : check_registry()) {
    const std::string n = k.name == std::string("pgtap") ? "pgtap.<file>" : k.name;
    if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  }
  for (std::size_t i = 0; i < names.size(); ++i)
    out += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
  return out;
}

std::vector<std::string> checks_for(const suite& s, const migration_set& set, std::size_t index) {
  std::vector<std::string> out;
  for (const auto& k : check_registry())
    if (k.where == check_kind::scope::migration)
      for (auto& t : k.tests(s, set, index)) out.push_back(std::move(t));
  return out;
}

std::vector<std::string> suite_tests(const suite& s, const migration_set& set) {
  std::vector<std::string> out;
  for (const auto& k : check_registry())
    if (k.where == check_kind::scope::suite)
      for (auto& t : k.tests(s, set, 0)) out.push_back(std::move(t));
  return out;
}

std::vector<std::string> suite_checks(const suite& s, const migration_set& set) {
  std::vector<std::string> out;
  for (auto& t : suite_tests(s, set))
    if (t != "reset" && t != "drift") out.push_back(std::move(t));
  return out;
}

check_result check_rls_coverage(state_cache& cache) {
  const auto& s = cache.config();
  std::vector<rls_file> files;
  std::vector<std::string> roles;
  if (s.profile == "supabase") roles = {"anon", "authenticated"};
  if (!s.rls_dir.empty()) {
    rls_dir dir = scan_rls_dir(s.rls_dir, cache.migrations());
    auto users = suite_rls_users(dir, s.profile);
    for (const auto& [version, path] : dir.by_version)
      files.push_back(load_rls_file(path, version, users, s.profile));
    if (dir.final_file) files.push_back(load_rls_file(*dir.final_file, "", users, s.profile));
    for (const auto& f : files)
      for (const auto& [name, u] : f.users)
        if (!u.bypass && std::find(roles.begin(), roles.end(), u.role) == roles.end())
          roles.push_back(u.role);
  }
  std::string db_name;
  try {
    db_name = cache.clone_final("coverage");
  } catch (const state_error& e) {
    return skipped_because(e);
  }
  scratch_db db(cache, db_name);
  connection c(cache.conninfo(db.name()));
  rls_coverage cov = rls_coverage_of(c, files, roles);
  check_result r =
      cov.failures.empty() ? check_result::pass(cov.lines.back()) : check_result::fail(cov.failures);
  r.details = cov.lines;
  r.details.pop_back();
  for (const auto& w : cov.warnings) r.details.push_back(w);
  if (!cov.failures.empty()) r.note = cov.lines.back();
  return r;
}

check_result check_pgtap(state_cache& cache, const std::string& name) {
  const auto& s = cache.config();
  if (s.pgtap_dir.empty()) return check_result::skip("the suite has no pgTAP folder (PGTAP_DIR)");
  std::optional<std::filesystem::path> file;
  for (const auto& f : pgtap_files(s.pgtap_dir))
    if (pgtap_test_name(f) == name) file = f;
  if (!file) throw input_error("no pgTAP file \"" + name + "\" in " + display_path(s.pgtap_dir));
  sql_source src;
  src.path = *file;
  src.text = read_sql_file(*file);
  std::string db_name;
  try {
    db_name = cache.clone_pgtap("pgtap");
  } catch (const state_error& e) {
    return skipped_because(e);
  }
  scratch_db db(cache, db_name);
  connection c(cache.conninfo(db.name()));
  const auto files = pgtap_files(s.pgtap_dir);
  // PGTAP_ORDER sequential: the files before it run first on the same
  // database, as `supabase test db` runs them; their verdicts are their own tests'.
  if (s.pgtap_order == "sequential")
    for (const auto& before : files) {
      if (before == *file) break;
      sql_source b;
      b.path = before;
      b.text = read_sql_file(before);
      try {
        (void)run_pgtap_file(c, b, s.pgtap_helpers, options_for(s, "pgTAP file \"" + display_path(before) + "\""));
      } catch (const script_error&) {
        return check_result::skip("the pgTAP file \"" + display_path(before) +
                                  "\" before it (PGTAP_ORDER sequential) stopped with an error; see its own test");
      }
    }
  std::string tap;
  try {
    tap =
        run_pgtap_file(c, src, s.pgtap_helpers, options_for(s, "pgTAP file \"" + display_path(*file) + "\""));
  } catch (const script_error& e) {
    diagnostic d = e.diag();
    // An object that is missing here and that another file creates: files
    // that build on each other.
    static const std::regex missing(R"re((?:function|relation|type|schema|view) "?([A-Za-z0-9_."]+?)"?(?:\(.*\))? does not exist)re");
    std::smatch m;
    if (s.pgtap_order != "sequential" && std::regex_search(d.message, m, missing)) {
      std::string name = m[1];
      name.erase(std::remove(name.begin(), name.end(), '"'), name.end());
      const std::string last = name.substr(name.rfind('.') == std::string::npos ? 0 : name.rfind('.') + 1);
      for (const auto& other : files) {
        if (other == *file) continue;
        std::string text = read_sql_file(other);
        std::transform(text.begin(), text.end(), text.begin(), [](unsigned char ch) { return std::tolower(ch); });
        std::string lowered = last;
        std::transform(lowered.begin(), lowered.end(), lowered.begin(), [](unsigned char ch) { return std::tolower(ch); });
        const auto at = text.find(lowered);
        if (at != std::string::npos && text.rfind("create", at) != std::string::npos &&
            at - text.rfind("create", at) < 80) {
          d.notes.push_back("the pgTAP file \"" + display_path(other) + "\" creates \"" + name +
                            "\": each file runs on its own copy of the reset state (PGTAP_ORDER isolated); files "
                            "that build on each other, as supabase test db runs them, need PGTAP_ORDER sequential "
                            "(--pgtap-order sequential)");
          break;
        }
      }
    }
    return check_result::fail({d.format()}, "the file stopped with an error");
  }
  tap_report report = parse_tap(tap);
  auto findings = judge_tap(report, display_path(*file));
  if (!findings.empty()) return check_result::fail(findings);
  return check_result::pass(std::to_string(report.points.size()) + " pgTAP tests of " + display_path(*file) +
                            " passed");
}

namespace detail {

check_result rls_result(const rls_file& f, const std::vector<std::string>& findings) {
  if (!findings.empty()) return check_result::fail(findings);
  std::set<std::string> users;
  for (const auto& e : f.expect) users.insert(e.as);
  std::string who;
  for (const auto& u : users) who += (who.empty() ? "" : ", ") + u;
  return check_result::pass(std::to_string(f.expect.size()) +
                            (f.expect.size() == 1 ? " expectation" : " expectations") + " of " +
                            display_path(f.path) + " held, as " + who);
}

// Whether the file's SQL ends or opens transactions itself (COMMIT in a
// setup block): it could then leave rows behind, so it runs on a clone.
bool controls_transactions(const rls_file& f) {
  auto has = [&f](const std::string& text) {
    sql_source src;
    src.path = f.path;
    src.text = text;
    try {
      for (const auto& st : plan_script(src).statements)
        if (st.transaction_control) return true;
    } catch (const script_error&) {
      return true;  // unreadable: the clone reports it as before
    }
    return false;
  };
  if (has(f.setup)) return true;
  return std::any_of(f.expect.begin(), f.expect.end(), [&](const rls_expectation& e) { return has(e.sql); });
}

}  // namespace detail

namespace {
using detail::controls_transactions;
using detail::rls_result;

check_result run_rls(state_cache& cache, const std::string& db_name, const rls_file& f) {
  scratch_db db(cache, db_name);
  connection c(cache.conninfo(db.name()));
  return rls_result(f, run_rls_file(c, f, cache.config().profile));
}

}  // namespace

check_result check_rls(state_cache& cache, std::size_t index) {
  const auto& s = cache.config();
  const migration& m = cache.migrations().migrations.at(index);
  if (s.rls_dir.empty()) return check_result::skip("the suite has no RLS folder (RLS_DIR)");
  rls_dir dir = scan_rls_dir(s.rls_dir, cache.migrations());
  auto it = dir.by_version.find(m.version);
  if (it == dir.by_version.end())
    return check_result::skip("no assertion file for migration " + m.version + " in " +
                              display_path(s.rls_dir));
  rls_file f = load_rls_file(it->second, m.version, suite_rls_users(dir, s.profile), s.profile);
  std::string db_name;
  try {
    // The file runs in one transaction that it rolls back: a work database stays at S(K).
    if (!controls_transactions(f))
      if (auto lease = cache.lease(index + 1)) {
        check_result r = rls_result(f, run_rls_file(lease->conn(), f, s.profile));
        lease->give_back();
        return r;
      }
    db_name = cache.clone(index + 1, "rls");
  } catch (const state_error& e) {
    return skipped_because(e, cache.config(), m, cache.migrations());
  }
  return run_rls(cache, db_name, f);
}

check_result check_verify(state_cache& cache, std::size_t index) {
  const migration& m = cache.migrations().migrations.at(index);
  if (!m.verify) return check_result::skip("migration " + m.id() + " has no verify script");
  std::string db_name;
  try {
    db_name = cache.clone(index + 1, "verify");
  } catch (const state_error& e) {
    return skipped_because(e, cache.config(), m, cache.migrations());
  }
  scratch_db db(cache, db_name);
  connection c(cache.conninfo(db.name()));
  try {
    run_stats stats = run_script(c, *m.verify, options_for(cache.config(), "verify script of " + m.id()));
    return check_result::pass("ran " + display_path(m.verify->path) + " (" + std::to_string(stats.statements) +
                              (stats.statements == 1 ? " statement" : " statements") + ") on the state after " +
                              m.id());
  } catch (const script_error& e) {
    return check_result::fail({e.diag().format()}, "the change does not verify");
  }
}

check_result check_rls_final(state_cache& cache) {
  const auto& s = cache.config();
  if (s.rls_dir.empty()) return check_result::skip("the suite has no RLS folder (RLS_DIR)");
  rls_dir dir = scan_rls_dir(s.rls_dir, cache.migrations());
  if (!dir.final_file) return check_result::skip("no final.json in " + display_path(s.rls_dir));
  rls_file f = load_rls_file(*dir.final_file, "", suite_rls_users(dir, s.profile), s.profile);
  std::string db_name;
  try {
    db_name = cache.clone_final("rlsfinal");
  } catch (const state_error& e) {
    return skipped_because(e);
  }
  return run_rls(cache, db_name, f);
}

namespace {

// Errors that only running inside one enclosing transaction causes: a new
// enum label used before it is committed, a statement that refuses a
// transaction block.
bool needs_commits(const script_error& e) {
  return e.diag().sqlstate == "55P04" || e.diag().sqlstate == "25001";
}


// Runs body on S(k): on a work database inside a transaction that is rolled
// back (the database stays at S(k) for the next check), or, when none is
// free or the scripts need commits of their own, on a clone that is dropped.
// body(conn, nested) runs its scripts with run_options::nested = nested. A
// check that fails inside the one transaction runs again on a clone, where
// each script commits as in a real deployment: its findings are those (a
// temporary table ON COMMIT DROP, say, outlives its script in a transaction).
template <typename Body>
check_result on_state(state_cache& cache, std::size_t k, std::string_view purpose, Body body) {
  if (auto lease = cache.lease(k)) {
    try {
      lease->conn().exec("begin");
      catalog_reader reader(lease->conn());
      reader.trust_reports();  // S(k), changed only by the scripts of the body
      check_result r = body(lease->conn(), reader, true);
      lease->give_back();
      if (r.outcome != check_result::status::failed) return r;
    } catch (const nesting_error&) {
      lease->give_back();
    } catch (const detail::needs_own_commits&) {
      lease->give_back();
    }
  }
  scratch_db db(cache, cache.clone(k, purpose));
  connection c(cache.conninfo(db.name()));
  catalog_reader reader(c);
  reader.trust_reports();  // a fresh clone of S(k)
  return body(c, reader, false);
}

}  // namespace

namespace detail {

check_result idempotency_on(const suite& s, connection& c, catalog_reader& reader, const migration& m,
                            bool nested) {
  const catalog before = reader.read();
  auto counts_before = reader.counts();
  std::vector<std::string> findings;
  try {
    reader.wrote(apply_migration(c, m, s, nested, true, true));
  } catch (const script_error& e) {
    if (nested && needs_commits(e)) throw detail::needs_own_commits{};
    diagnostic d = e.diag();
    d.notes.push_back(
        "running the migration a second time fails; guard it (IF NOT EXISTS, CREATE OR REPLACE, "
        "ON CONFLICT DO NOTHING) or mark it -- pgmt:not-idempotent <reason>");
    return check_result::fail({d.format()});
  }
  const catalog& after = reader.read();
  auto counts_after = reader.counts();
  add_diff_findings(
      findings,
      counted(s, diff_catalogs(before, after,
                               {"dropped by running it again", "created by running it again",
                                "changed by running it again"})),
      output_file(s, &m, "idempotency"), "migration " + m.id() + ": before and after running it again");
  for (const auto& [table, n] : counts_before) {
    auto it = counts_after.find(table);
    if (it != counts_after.end() && it->second != n)
      findings.push_back("table " + table + ": " + std::to_string(n) + " rows before running " +
                         display_path(m.up.path) + " again, " + std::to_string(it->second) +
                         " after (an INSERT without ON CONFLICT?)");
  }
  for (const auto& [table, n] : counts_after)
    if (!counts_before.count(table) && n > 0)
      findings.push_back("table " + table + ": created with " + std::to_string(n) +
                         " rows by running it again");
  if (!findings.empty()) return check_result::fail(findings, "running it again is not a no-op");
  return check_result::pass("ran " + display_path(m.up.path) +
                            " a second time: same schema, same row counts in " +
                            std::to_string(counts_after.size()) + " tables");
}

check_result roundtrip_on(const suite& s, connection& c, catalog_reader& reader, const migration& m,
                          bool nested) {
  std::string data_note;
  auto opts = [&](std::string label) {
    run_options o = options_for(s, std::move(label));
    o.nested = nested;
    return o;
  };
  try {
    if (auto data = data_file(s, m)) {
      reader.wrote(run_script(c, *data, opts("data file \"" + display_path(data->path) + "\"")));
      data_note = ", with data from " + display_path(data->path);
    }
  } catch (const script_error& e) {
    if (nested && needs_commits(e)) throw detail::needs_own_commits{};
    return check_result::fail({e.diag().format()}, "the data file failed");
  }
  const catalog before = reader.read();
  auto counts_before = reader.counts();
  try {
    reader.wrote(apply_migration(c, m, s, nested));
  } catch (const script_error& e) {
    if (nested && needs_commits(e)) throw detail::needs_own_commits{};
    // One failure per cause: the apply test reports an up that fails on the
    // state before it; with a data file loaded first, the failure is this test's.
    if (data_note.empty())
      return check_result::skip("the up script fails (" + e.diag().headline() + "); see " + s.name + "." +
                                m.version + ".apply");
    return check_result::fail({e.diag().format()}, "up failed");
  }
  const catalog up = reader.read();
  return roundtrip_after_up(s, c, reader, m, nested, before, counts_before, up, data_note);
}

check_result roundtrip_after_up(const suite& s, connection& c, catalog_reader& reader, const migration& m,
                                bool nested, const catalog& before,
                                const std::map<std::string, long long>& counts_before, const catalog& up,
                                const std::string& data_note) {
  std::vector<std::string> findings;
  auto opts = [&](std::string label) {
    run_options o = options_for(s, std::move(label));
    o.nested = nested;
    return o;
  };
  try {
    run_options o = opts("down script of migration \"" + m.id() + "\"");
    o.before_commit = [&m](connection& conn) {
      conn.exec_params("delete from pgmt.migrations where version = $1", {m.version});
    };
    reader.wrote(run_script(c, *m.down, o));
  } catch (const script_error& e) {
    if (nested && needs_commits(e)) throw detail::needs_own_commits{};
    return check_result::fail({e.diag().format()}, "down failed");
  }
  const catalog down = reader.read();
  auto counts_down = reader.counts();
  add_diff_findings(
      findings,
      counted(s, diff_catalogs(before, down, {"missing after down", "left behind by down", "changed by up/down:"})),
      output_file(s, &m, "roundtrip-down"),
      "migration " + m.id() + ": before up (expected) and after down (actual)");
  for (const auto& [table, n] : counts_before) {
    auto it = counts_down.find(table);
    if (it == counts_down.end()) continue;  // the table itself is missing: reported above
    if (it->second < n)
      findings.push_back("table " + table + ": lost " + std::to_string(n - it->second) + " of " +
                         std::to_string(n) + " rows through up and down");
    else if (it->second > n)
      findings.push_back("table " + table + ": has " + std::to_string(it->second - n) +
                         " more rows after up and down (" + std::to_string(n) + " before)");
  }
  try {
    reader.wrote(apply_migration(c, m, s, nested));
  } catch (const script_error& e) {
    if (nested && needs_commits(e)) throw detail::needs_own_commits{};
    findings.push_back(e.diag().format());
    return check_result::fail(findings, "up after down failed");
  }
  const catalog& again = reader.read();
  add_diff_findings(
      findings,
      counted(s, diff_catalogs(up, again, {"missing after up again", "extra after up again", "changed by down/up:"})),
      output_file(s, &m, "roundtrip-up"),
      "migration " + m.id() + ": after the first up (expected) and after up again (actual)");
  if (!findings.empty()) return check_result::fail(findings);
  return check_result::pass("up, down, up: down restored the schema and the " +
                            std::to_string(counts_before.size()) + " tables' row counts" + data_note +
                            "; up again gave the same schema");
}

bool has_data_file(const suite& s, const migration& m) { return data_file(s, m).has_value(); }

check_result missing_down(const migration& m) {
  if (m.irreversible) return check_result::skip("marked -- pgmt:irreversible and has no down script");
  diagnostic d;
  d.path = m.up.path;
  d.message = "migration \"" + m.id() + "\" has no down script, but this set has down scripts";
  d.hint = "add its down script, or mark it irreversible with a leading comment -- pgmt:irreversible";
  return check_result::fail({d.format()});
}

std::string applied_note(const migration& m, const run_stats& stats) {
  std::string how = stats.mode == tx_mode::single_transaction ? "in one transaction"
                    : stats.mode == tx_mode::per_statement    ? "without a transaction"
                                                              : "in its own transactions";
  std::string note = "applied " + display_path(m.up.path) + ": " + std::to_string(stats.statements) +
                     (stats.statements == 1 ? " statement " : " statements ") + how + " in " +
                     ms(stats.elapsed);
  if (!stats.skipped.empty()) {
    note +=
        "; left out, as on Supabase these extensions are always there and this server does not have them:";
    for (const auto& st : stats.skipped) note += " [" + st + "]";
  }
  return note;
}

check_result applied(const migration& m, const run_stats& stats) {
  check_result r = check_result::pass(applied_note(m, stats));
  for (const auto& w : stats.warnings) {
    std::string text = w.format();
    if (!text.empty() && text.back() == '\n') text.pop_back();
    r.details.push_back(std::move(text));
  }
  return r;
}

}  // namespace detail

check_result check_idempotency(state_cache& cache, std::size_t index) {
  const migration& m = cache.migrations().migrations.at(index);
  try {
    return on_state(cache, index + 1, "idem",
                    [&](connection& c, catalog_reader& reader, bool nested) {
                      return detail::idempotency_on(cache.config(), c, reader, m, nested);
                    });
  } catch (const state_error& e) {
    return skipped_because(e, cache.config(), m, cache.migrations());
  }
}

check_result check_roundtrip(state_cache& cache, std::size_t index) {
  const migration& m = cache.migrations().migrations.at(index);
  if (!m.down) return detail::missing_down(m);
  try {
    return on_state(cache, index, "round",
                    [&](connection& c, catalog_reader& reader, bool nested) {
                      return detail::roundtrip_on(cache.config(), c, reader, m, nested);
                    });
  } catch (const state_error& e) {
    return skipped_because(e);
  }
}

check_result check_drift(state_cache& cache) {
  const auto& s = cache.config();
  if (s.snapshot_file.empty()) return check_result::skip("the suite has no snapshot file (SNAPSHOT)");
  const std::size_t n = cache.migrations().migrations.size();
  std::string db_name;
  try {
    db_name = cache.clone(n, "drift");
  } catch (const state_error& e) {
    return skipped_because(e);
  }
  scratch_db db(cache, db_name);
  nlohmann::json actual;
  {
    connection c(cache.conninfo(db.name()));
    catalog_reader reader(c);
    reader.trust_reports();
    actual = reader.read().snapshot();
  }
  return detail::drift_of(s, actual, n);
}

check_result detail::drift_of(const suite& s, const nlohmann::json& actual, std::size_t n) {
  std::filesystem::path actual_file = s.output_dir / (s.name + ".snapshot.json");
  {
    std::error_code ec;
    std::filesystem::create_directories(s.output_dir, ec);
    std::ofstream(actual_file) << snapshot_text(actual);
  }
  const std::string update_hint = "if the change is intended, accept it: pgmt snapshot --update (or copy " +
                                  actual_file.string() + " to " + display_path(s.snapshot_file) + ")";
  std::ifstream in(s.snapshot_file);
  if (!in)
    return check_result::fail({display_path(s.snapshot_file) + ": snapshot file does not exist; create it: " +
                               "copy " + actual_file.string() + " there, or run pgmt snapshot --update"});
  nlohmann::json expected;
  try {
    expected = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    return check_result::fail(
        {display_path(s.snapshot_file) + ": not a snapshot (invalid JSON): " + e.what()});
  }
  if (auto problem = snapshot_problem(expected); !problem.empty())
    return check_result::fail({display_path(s.snapshot_file) + ": not a snapshot: " + problem +
                               "; write it with pgmt snapshot --update"});
  std::vector<std::string> findings;
  add_diff_findings(findings,
                    counted(s, diff_snapshots(expected, actual,
                                              {"in " + display_path(s.snapshot_file) + " but not in the database",
                                               "in the database but not in " + display_path(s.snapshot_file),
                                               "differs from " + display_path(s.snapshot_file) + ":"})),
                    output_file(s, nullptr, "drift"),
                    "snapshot file (expected) and database after every migration (actual)");
  if (!findings.empty()) {
    // A file of an older format lacks what snapshots learnt since: each such field shows as a difference.
    if (const std::string format = expected.value("format", ""); format != snapshot_format)
      findings.push_back("  " + display_path(s.snapshot_file) + " is " +
                         (format.empty() ? std::string("of no format") : "format \"" + format + "\"") +
                         " and pgmt writes \"" + snapshot_format +
                         "\": what the file's format did not describe differs too");
    findings.push_back("  " + update_hint);
    return check_result::fail(findings, "the schema drifted from " + display_path(s.snapshot_file));
  }
  return check_result::pass("the schema after " + std::to_string(n) + " migrations matches " +
                            display_path(s.snapshot_file));
}

check_result check_apply(state_cache& cache, std::size_t index) {
  const auto& set = cache.migrations();
  const migration& m = set.migrations.at(index);
  // A work database at S(K-1) that the migration moves to S(K), or a clone
  // of S(K-1) that becomes the template of S(K).
  std::unique_ptr<work_lease> lease;
  std::string db_name;
  try {
    lease = cache.lease(index);
    if (!lease) db_name = cache.clone(index, "apply");
  } catch (const state_error& e) {
    // One failure per cause: the first migration's apply test says the
    // fixtures fail; every other test that needs them is skipped naming them.
    if (e.culprit() == "fixtures" && index == 0)
      return check_result::fail({e.diag().format()}, "fixtures failed to load");
    return skipped_because(e);
  }
  std::optional<scratch_db> db;
  std::optional<connection> own;
  if (!lease) {
    db.emplace(cache, db_name);
    own.emplace(cache.conninfo(db_name));
  }
  connection& c = lease ? lease->conn() : *own;
  run_stats stats;
  try {
    catalog_reader reader(c);
    reader.trust_reports();
    stats = apply_migration(c, m, cache.config());
    // Later checks on this database, or on clones of it, start from its catalog.
    reader.wrote(stats);
    reader.store();
  } catch (const script_error& e) {
    // In one transaction it left nothing behind: the work database is still at S(K-1).
    if (lease && plan_script(m.up).mode == tx_mode::single_transaction) lease->give_back();
    return check_result::fail({e.diag().format()});
  }
  check_result verdict = detail::applied(m, stats);
  if (index == 0)  // what discovery left out, once
    for (const auto& n : cache.migrations().notes) verdict.details.push_back("note: " + n);
  if (lease) {
    lease->advanced_to(index + 1);
    lease->give_back();
  } else {
    own.reset();
    // What we just built is S(index + 1): keep it for the tests that need it.
    if (cache.adopt(index + 1, db->name())) db->release();
  }
  return verdict;
}

check_result check_lock_file(const suite& s, const migration_set& set) {
  const auto file = s.lock_path();
  std::error_code ec;
  if (!std::filesystem::exists(file, ec))
    return check_result::fail({"lock file \"" + display_path(file) +
                               "\" does not exist; write it with `pgmt lock --update`, or leave LOCK_FILE out"});
  try {
    return check_lock(set, lock_file_basis(file), lock_allowed_from_environment());
  } catch (const input_error& e) {
    return check_result::fail({e.what()}, "the lock file cannot be read");
  }
}

check_result check_reset(state_cache& cache) {
  const auto& s = cache.config();
  const auto& set = cache.migrations();
  scratch_db db(cache, cache.create_empty("reset"));
  const auto t0 = std::chrono::steady_clock::now();
  std::size_t seeds = 0;
  // One failure per cause: fixtures or a migration that fail are reported by
  // their apply tests, and reset is skipped naming them; seeds are reset's own.
  const migration* at = nullptr;
  bool in_fixtures = true;
  try {
    connection c(cache.conninfo(db.name()));
    ensure_tracking_table(c);
    run_sources(c, s.fixture_sources(set), s, "fixture");
    in_fixtures = false;
    for (const auto& m : set.migrations) {
      at = &m;
      apply_migration(c, m, s);
    }
    at = nullptr;
    auto seed_sources = s.seed_sources(set);
    run_sources(c, seed_sources, s, "seed");
    seeds = seed_sources.size();
    auto r = c.exec("select count(*) from pgmt.migrations");
    if (std::stoul(r.value(0, 0)) != set.migrations.size())
      return check_result::fail({"pgmt.migrations lists " + r.value(0, 0) +
                                 " migrations after reset, expected " +
                                 std::to_string(set.migrations.size())});
  } catch (const script_error& e) {
    // A role that exists (roles belong to the whole server) fails here
    // because the same SQL ran before on this server: its apply test passed,
    // so this is reset's own failure.
    if (e.diag().sqlstate == "42710" && e.diag().message.rfind("role \"", 0) == 0) {
      diagnostic d = e.diag();
      d.notes.push_back("reset builds from nothing on the server the other checks used: fixtures, Flyway "
                        "callbacks and migrations run there again, so what they make for the whole server "
                        "(roles) must be made only when missing");
      return check_result::fail({d.format()});
    }
    if (in_fixtures && !set.migrations.empty())
      return check_result::skip("the fixtures fail (" + e.diag().headline() +
                                "); the apply test of the first migration reports it");
    if (at)
      return check_result::skip("migration " + at->id() + " fails (" + e.diag().headline() + "); see " + s.name +
                                "." + at->version + ".apply");
    return check_result::fail({e.diag().format()});
  }
  std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - t0;
  return check_result::pass(
      "built from nothing: " + (s.profile.empty() ? "" : "the " + s.profile + " profile, ") +
      std::to_string(s.fixtures.size()) + " fixture path(s), " +
      (set.before_all.empty() ? "" : std::to_string(set.before_all.size()) + " beforeMigrate callback(s), ") +
      std::to_string(set.migrations.size()) + (set.migrations.size() == 1 ? " migration, " : " migrations, ") +
      (set.after_all.empty() ? "" : std::to_string(set.after_all.size()) + " afterMigrate callback(s), ") +
      std::to_string(seeds - set.after_all.size()) + " seed file(s) in " + ms(took));
}

}  // namespace pgmt
