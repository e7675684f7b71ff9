// The pgmt command: what CTest runs, and what people run without CMake.
#include "pgmt/checks.hpp"
#include "pgmt/engine.hpp"
#include "pgmt/lint.hpp"
#include "pgmt/lock.hpp"
#include "pgmt/pg.hpp"
#include "pgmt/profiles.hpp"
#include "pgmt/report.hpp"
#include "pgmt/server.hpp"
#include "pgmt/service.hpp"
#include "pgmt/snapshot.hpp"
#include "pgmt/state.hpp"
#include "pgmt/suite.hpp"
#include "pgmt/text.hpp"

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <filesystem>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>

namespace fs = std::filesystem;
using namespace pgmt;

namespace {

// Options that say which suite to work on: a suite file, or the parts of one.
struct suite_options {
  std::string suite_file;
  std::string migrations;
  std::string layout = "auto";
  std::string profile;
  std::vector<std::string> fixtures;
  std::vector<std::string> seeds;
  std::string statement_timeout;
  std::string lock_timeout;
  std::string name;
  std::string snapshot;
  std::string data_dir;
  std::string output_dir;
  std::string idempotency;
  std::string rls_dir;
  std::string pgtap_dir;
  std::string pgtap_helpers;
  std::string lint;
  std::vector<std::string> lint_ignore;
  std::vector<std::string> lint_errors;
  std::string lint_manifest;
  std::vector<std::string> irreversible;
  std::vector<std::string> not_idempotent;
  std::string column_order;
  std::string pgtap_order;
  std::vector<std::string> server_settings;

  void add_to(CLI::App* app) {
    app->add_option("--suite", suite_file, "Suite file written by pgmt_add_migration_tests");
    app->add_option("--migrations", migrations, "Migrations folder (instead of --suite)");
    app->add_option("--layout", layout, "auto, flat, paired, split, folders, sections, flyway or sqitch");
    app->add_option("--profile", profile, "Fixtures for a kind of project, loaded first: supabase");
    app->add_option("--fixture", fixtures,
                    "SQL file or folder loaded before the first migration (repeatable)");
    app->add_option("--seed", seeds,
                    "SQL file or folder loaded after the last migration by reset (repeatable)");
    app->add_option("--statement-timeout", statement_timeout, "statement_timeout per migration, e.g. 60s");
    app->add_option("--lock-timeout", lock_timeout, "lock_timeout per migration, e.g. 10s");
    app->add_option("--name", name, "Suite name used in test names");
    app->add_option("--snapshot", snapshot, "The committed snapshot file (drift)");
    app->add_option("--data", data_dir, "Folder of per-migration data files loaded before round trips");
    app->add_option("--idempotency", idempotency, "auto, on or off");
    app->add_option("--lint", lint, "on (the default) or off: the lint test of each migration");
    app->add_option("--lint-ignore", lint_ignore, "A lint rule left out (repeatable)");
    app->add_option("--lint-errors", lint_errors,
                    "A lint rule whose findings fail (repeatable; \"all\" for every rule); the rest warn");
    app->add_option("--lint-manifest", lint_manifest, "JSON manifest of the tables and enums the project allows");
    app->add_option("--irreversible", irreversible, "A migration (version) without a down on purpose (repeatable)");
    app->add_option("--not-idempotent", not_idempotent,
                    "A migration (version) left out of the idempotency check (repeatable)");
    app->add_option("--column-order", column_order, "strict (the default) or ignore: a changed column order");
    app->add_option("--pgtap-order", pgtap_order,
                    "isolated (the default: each file on its own copy) or sequential (one database, name order)");
    app->add_option("--server-setting", server_settings,
                    "name=value a server pgmt starts gets, e.g. shared_preload_libraries=pg_cron (repeatable)");
    app->add_option("--pgtap", pgtap_dir, "Folder of pgTAP files, each run on the reset state");
    app->add_option("--pgtap-helpers", pgtap_helpers, "Test helpers for the pgTAP files: supabase");
    app->add_option("--rls", rls_dir, "Folder of RLS assertion files (<version>.json, users.json, final.json)");
    app->add_option("--output-dir", output_dir,
                    "Where diff files go (default: a private folder under the runtime folder)");
  }

  suite load() const {
    suite s;
    if (!suite_file.empty()) {
      s = suite::from_file(suite_file);
    } else if (!migrations.empty()) {
      s.migrations_dir = fs::absolute(migrations).lexically_normal();
      if (s.migrations_dir.filename().empty()) s.migrations_dir = s.migrations_dir.parent_path();  // "m/" is "m"
      // Private: diffs and snapshots show the schema. One folder per
      // migrations folder, so that runs of two projects keep their own diffs.
      const fs::path all = runtime_root() / "output";
      const std::string folder = s.migrations_dir.filename().string();
      s.output_dir = all / (folder + "-" + sha256_hex(s.migrations_dir.string()).substr(0, 8));
      std::error_code ec;
      fs::create_directories(s.output_dir, ec);
      fs::permissions(all, fs::perms::owner_all, ec);
      fs::permissions(s.output_dir, fs::perms::owner_all, ec);
    } else {
      throw input_error("say which suite: --suite FILE or --migrations DIR");
    }
    if (!migrations.empty() && !suite_file.empty())
      s.migrations_dir = fs::absolute(migrations).lexically_normal();
    if (layout != "auto") s.forced_layout = parse_layout(layout);
    if (!profile.empty()) {
      profile_sources(profile);  // an unknown name is an error now, not at the first check
      s.profile = profile;
    }
    for (const auto& f : fixtures) s.fixtures.push_back(fs::absolute(f).lexically_normal());
    for (const auto& f : seeds) s.seeds.push_back(fs::absolute(f).lexically_normal());
    if (!statement_timeout.empty()) s.statement_timeout = parse_duration(statement_timeout);
    if (!lock_timeout.empty()) s.lock_timeout = parse_duration(lock_timeout);
    if (!name.empty()) s.name = name;
    if (!output_dir.empty()) s.output_dir = fs::absolute(output_dir).lexically_normal();
    if (!snapshot.empty()) s.snapshot_file = fs::absolute(snapshot).lexically_normal();
    if (!data_dir.empty()) s.data_dir = fs::absolute(data_dir).lexically_normal();
    if (!rls_dir.empty()) s.rls_dir = fs::absolute(rls_dir).lexically_normal();
    if (!pgtap_dir.empty()) s.pgtap_dir = fs::absolute(pgtap_dir).lexically_normal();
    if (!pgtap_helpers.empty()) s.pgtap_helpers = pgtap_helpers;
    if (lint == "off")
      s.lint_off = true;
    else if (lint == "on")
      s.lint_off = false;
    else if (!lint.empty())
      throw input_error("--lint must be on or off, not \"" + lint + "\"");
    s.lint_ignore.insert(s.lint_ignore.end(), lint_ignore.begin(), lint_ignore.end());
    if (!lint_errors.empty()) s.lint_errors = lint_errors;
    if (!lint_manifest.empty()) s.lint_manifest = fs::absolute(lint_manifest).lexically_normal();
    s.irreversible.insert(s.irreversible.end(), irreversible.begin(), irreversible.end());
    s.not_idempotent.insert(s.not_idempotent.end(), not_idempotent.begin(), not_idempotent.end());
    if (!column_order.empty()) s.column_order = column_order;
    if (!pgtap_order.empty()) s.pgtap_order = pgtap_order;
    s.server_settings.insert(s.server_settings.end(), server_settings.begin(), server_settings.end());
    s.validate("");
    if (!idempotency.empty()) {
      if (idempotency != "auto" && idempotency != "on" && idempotency != "off")
        throw input_error("--idempotency must be auto, on or off, not \"" + idempotency + "\"");
      s.idempotency = idempotency;
    }
    return s;
  }
};

int cmd_server_start(const std::string& state, pid_t owner, const std::string& kind, const std::string& image,
                     const std::string& suite_file) {
  service_request req;
  req.state = fs::absolute(state).lexically_normal();
  if (!suite_file.empty()) req.suite_file = fs::absolute(suite_file).lexically_normal();
  req.owner = owner;
  req.server_kind = kind;
  req.image = image;
  return start_service(req);
}

int cmd_server_stop(const std::string& state) {
  std::cout << stop_service(fs::absolute(state).lexically_normal(), false);
  return exit_code::passed;
}

// A server for this command: the suite's shared one, or our own.
struct server_handle {
  std::unique_ptr<server> own;
  std::optional<service_info> run;  // the run's service, when it has one
  server_info info;
};

server_handle get_server(const std::string& state) {
  server_handle h;
  if (!state.empty()) {
    h.run = find_service(fs::absolute(state).lexically_normal());
    h.info = h.run->server;
  } else {
    h.own = start_server(server_options::from_environment());
    h.info = h.own->info();
  }
  return h;
}

int cmd_check(const std::string& kind, const suite_options& so, const std::string& version,
              const std::string& state) {
  suite s = so.load();
  std::optional<migration_set> set;
  auto discovered = [&]() -> migration_set& {
    if (!set) set = s.discover_migrations();
    return *set;
  };
  std::size_t index = 0;
  std::string test_name;
  using scope = check_kind::scope;
  const check_kind* k = version.empty() ? nullptr : find_check(kind, scope::migration);
  if (!k) k = find_check(kind, scope::suite);
  if (!k && find_check(kind, scope::migration)) throw input_error("check " + kind + " needs --migration VERSION");
  if (!k) throw input_error("unknown check \"" + kind + "\"; this version has " + known_checks());
  // Under a run's engine the test's name is all a test needs: the migration
  // files are the engine's to read (a test that read them all would make a
  // suite cost N squared file reads).
  const bool engine_first = !state.empty() && !so.suite_file.empty();
  if (k->where == scope::migration) {
    if (!engine_first) index = discovered().index_of(version);
    test_name = s.name + "." + (engine_first ? version : discovered().migrations[index].version) + "." + kind;
  } else {
    test_name = s.name + "." + kind;
  }
  if (kind == "lint" && !engine_first) {
    // Files only: no server.
    check_result r = check_lint(s, discovered(), index);
    print_result(std::cout, test_name, r);
    return exit_code_of(r);
  }
  if (kind == "lock") {
    // Files only: no server.
    check_result r = check_lock_file(s, discovered());
    print_result(std::cout, test_name, r);
    return exit_code_of(r);
  }
  server_handle srv = get_server(state);
  std::cout << "pgmt: " << test_name << " on " << srv.info.describe() << "\n";
  std::cout.flush();
  // The run's engine walks the chain once and has every verdict it plans;
  // the others (a check the suite does not plan, a suite changed since) run here.
  std::optional<check_result> verdict;
  if (srv.run && engine_first)
    verdict = ask_verdict(*srv.run, test_name.substr(s.name.size() + 1),
                          fs::absolute(so.suite_file).lexically_normal());
  if (!verdict) {
    if (k->where == scope::migration) index = discovered().index_of(version);
    state_cache cache(srv.info, s, std::move(discovered()));
    verdict = k->run(cache, index, kind);
  }
  const check_result& r = *verdict;
  print_result(std::cout, test_name, r);
  if (r.outcome == check_result::status::failed && srv.run) mark_failed(*srv.run, test_name);
  if (srv.own) srv.own->stop(r.outcome == check_result::status::failed);
  return exit_code_of(r);
}

int cmd_list(const suite_options& so, bool versions_only, bool with_checks, bool with_labels) {
  suite s = so.load();
  migration_set set = s.discover_migrations();
  // "<test>" or, with labels, "<test>=<label>,<label>".
  auto word = [with_labels](const std::string& test, check_kind::scope where) {
    if (!with_labels) return " " + test;
    const check_kind* k = find_check(test, where);
    return " " + test + "=" + (k ? k->labels : test.c_str());
  };
  for (std::size_t i = 0; i < set.migrations.size(); ++i) {
    const auto& m = set.migrations[i];
    if (with_checks) {
      std::cout << m.version;
      for (const auto& c : checks_for(s, set, i)) std::cout << word(c, check_kind::scope::migration);
      std::cout << "\n";
      if (i + 1 == set.migrations.size()) {
        // With labels, every suite test CTest registers; without, as before,
        // those besides reset and drift.
        auto suite_level = with_labels ? suite_tests(s, set) : suite_checks(s, set);
        if (!suite_level.empty()) {
          std::cout << "*";
          for (const auto& c : suite_level) std::cout << word(c, check_kind::scope::suite);
          std::cout << "\n";
        }
      }
    } else if (versions_only) {
      std::cout << m.version << "\n";
    } else {
      std::cout << m.version << "  " << m.id() << "  " << display_path(m.up.path)
                << (m.down ? "  (down: " + display_path(m.down->path) + ")" : "") << "\n";
      if (m.not_idempotent)
        std::cout << "    not idempotent"
                  << (m.not_idempotent_reason.empty() ? "" : ": " + m.not_idempotent_reason) << "\n";
      if (m.irreversible) std::cout << "    irreversible\n";
    }
  }
  if (!versions_only && !with_checks)
    std::cerr << set.migrations.size() << (set.migrations.size() == 1 ? " migration" : " migrations")
              << ", layout " << to_string(set.kind) << "\n";
  return exit_code::passed;
}

int cmd_lock(const suite_options& so, bool update, const std::string& base) {
  suite s = so.load();
  migration_set set = s.discover_migrations();
  if (update) {
    const fs::path file = s.lock_path().empty() ? default_lock_file(s.migrations_dir) : s.lock_path();
    const std::string text = format_lock_file(set);
    const fs::path tmp = fs::path(file.string() + ".tmp");
    {
      std::ofstream out(tmp, std::ios::binary);
      out << text;
      if (!out) throw input_error("could not write \"" + display_path(tmp) + "\": " + std::strerror(errno));
    }
    fs::rename(tmp, file);
    std::cout << "pgmt: locked " << set.migrations.size() << " migrations in " << display_path(file) << "\n"
              << "pgmt: so that two branches that each add migrations merge, add to .gitattributes: "
              << display_path(file) << " merge=union\n";
    return exit_code::passed;
  }
  if (base.empty() && s.lock_path().empty())
    throw input_error("no lock file in \"" + display_path(s.migrations_dir) +
                      "\": write one with `pgmt lock --update`, or compare with a git ref: --base origin/main");
  check_result r = base.empty() ? check_lock_file(s, set)
                                : check_lock(set, git_basis(set, base), lock_allowed_from_environment());
  print_result(std::cout, s.name + ".lock", r);
  return exit_code_of(r);
}

int cmd_lint(const suite_options& so, bool rules, const std::string& only) {
  if (rules) {
    std::cout << lint_rules_markdown();
    return exit_code::passed;
  }
  suite s = so.load();
  migration_set set = s.discover_migrations();
  if (!s.lint_manifest.empty()) (void)read_lint_manifest(s.lint_manifest);  // unreadable: exit 2
  std::size_t errors = 0, warnings = 0, failed = 0;
  for (std::size_t i = 0; i < set.migrations.size(); ++i) {
    if (!only.empty() && set.migrations[i].version != only && set.migrations[i].id() != only) continue;
    check_result r = check_lint(s, set, i);
    print_result(std::cout, s.name + "." + set.migrations[i].version + ".lint", r);
    errors += r.findings.size();
    warnings += r.details.size();
    if (!r.passed()) ++failed;
  }
  if (!only.empty()) (void)set.index_of(only);  // an unknown version is an error
  std::cout << "pgmt lint: " << errors << (errors == 1 ? " error, " : " errors, ") << warnings
            << (warnings == 1 ? " warning" : " warnings") << " in " << set.migrations.size()
            << (set.migrations.size() == 1 ? " migration" : " migrations") << "\n";
  return failed == 0 ? exit_code::passed : exit_code::failed;
}

int cmd_test(const suite_options& so) {
  suite s = so.load();
  migration_set set = s.discover_migrations();
  std::size_t n = set.migrations.size();
  auto opts = server_options::from_environment();
  opts.settings = s.server_settings;
  auto srv = start_server(opts);
  std::cout << "pgmt: suite " << s.name << ": " << n << (n == 1 ? " migration (" : " migrations (")
            << to_string(set.kind) << ") on " << srv->info().describe() << "\n";
  std::cout.flush();
  engine eng(srv->info(), s, std::move(set));
  eng.watch_server([&srv] { return srv->stopped_unasked(); });
  int passed = 0, failed = 0, skipped = 0;
  eng.run(in_order(eng.planned(), [&](const std::string& key, const check_result& r) {
    print_result(std::cout, s.name + "." + key, r);
    std::cout.flush();
    if (r.outcome == check_result::status::passed)
      ++passed;
    else if (r.outcome == check_result::status::failed)
      ++failed;
    else
      ++skipped;
  }));
  fs::path kept = srv->stop(failed > 0);
  if (!kept.empty()) std::cout << "pgmt: kept the server folder \"" << kept.string() << "\" (PGMT_KEEP)\n";
  std::cout << passed << " passed, " << failed << " failed"
            << (skipped ? ", " + std::to_string(skipped) + " skipped" : "") << "\n";
  return failed ? exit_code::failed : exit_code::passed;
}

nlohmann::json read_snapshot_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw input_error("could not read snapshot \"" + path + "\": " + std::strerror(errno));
  nlohmann::json snap;
  try {
    snap = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw input_error(path + ": not a snapshot (invalid JSON): " + e.what());
  }
  if (auto problem = snapshot_problem(snap); !problem.empty())
    throw input_error(path + ": not a snapshot: " + problem);
  return snap;
}

int cmd_snapshot(const suite_options& so, const std::string& url, const std::string& output, bool update) {
  nlohmann::json snap;
  std::string target = output;
  if (!url.empty()) {
    if (update) throw input_error("--update rewrites a suite's snapshot file; it does not go with --url");
    connection c(url);
    snap = take_snapshot(c);
  } else {
    suite s = so.load();
    if (update) {
      if (s.snapshot_file.empty())
        throw input_error(
            "--update needs the suite's snapshot file: SNAPSHOT in pgmt_add_migration_tests, or --snapshot");
      target = s.snapshot_file.string();
    }
    migration_set set = s.discover_migrations();
    auto srv = start_server(server_options::from_environment());
    state_cache cache(srv->info(), s, std::move(set));
    std::string db = cache.clone(cache.migrations().migrations.size(), "snapshot");
    {
      connection c(cache.conninfo(db));
      snap = take_snapshot(c);
    }
    cache.drop(db);
  }
  if (target.empty() || target == "-") {
    std::cout << snapshot_text(snap);
  } else {
    std::ofstream(target) << snapshot_text(snap);
    std::cerr << "pgmt: wrote " << target << "\n";
  }
  return exit_code::passed;
}

int cmd_diff(const std::string& a, const std::string& b) {
  auto diffs = diff_snapshots(read_snapshot_file(a), read_snapshot_file(b),
                              {"only in " + a, "only in " + b, "differs:"});
  for (const auto& d : diffs) std::cout << d.line << "\n";
  std::cout << diffs.size() << " difference" << (diffs.size() == 1 ? "" : "s") << "\n";
  return diffs.empty() ? exit_code::passed : exit_code::failed;
}

}  // namespace

int main(int argc, char** argv) {
  install_signal_cleanup();
  CLI::App app{"pgmt: PostgreSQL migration test harness"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("pgmt ") + PGMT_VERSION);

  auto* server_cmd = app.add_subcommand("server", "Start or stop the disposable server a suite shares");
  server_cmd->require_subcommand(1);
  std::string state;
  int owner = 0;
  auto* start = server_cmd->add_subcommand("start", "Start a server and write its state file");
  start->add_option("--state", state, "State file to write")->required();
  start->add_option("--owner", owner, "Process whose exit frees the server (default: the parent)");
  std::string server_kind, image;
  start->add_option("--server", server_kind,
                    "auto, temp, container or external (PGMT_DATABASE_URL); PGMT_SERVER, when set, wins");
  start->add_option("--image", image, "Image for a container server; PGMT_IMAGE, when set, wins");
  std::string start_suite;
  start->add_option("--suite", start_suite,
                    "Suite file: the run's engine walks its migrations once and serves every check's verdict");
  auto* stop = server_cmd->add_subcommand("stop", "Stop the server of a state file");
  stop->add_option("--state", state, "State file of the server")->required();

  suite_options so;
  auto* check = app.add_subcommand("check", "Run one check (what CTest runs)");
  std::string kind, version;
  std::string kinds_help;
  for (const auto& k : check_registry())
    kinds_help += std::string("\n  ") + (k.name == std::string("pgtap") ? "pgtap.<file>" : k.name) +
                  (k.where == check_kind::scope::migration ? " (per migration): " : " (suite): ") + k.summary;
  check->add_option("kind", kind, "The check:" + kinds_help)->required();
  check->add_option("--migration", version,
                    "Version of the migration (apply, idempotency, roundtrip; rls without it runs final.json)");
  check->add_option("--server-state", state, "State file of a running server (default: start one)");
  so.add_to(check);

  auto* list = app.add_subcommand("list", "List a suite's migrations in order");
  bool versions_only = false, with_checks = false;
  list->add_flag("--versions", versions_only, "Print versions only, one per line");
  list->add_flag("--checks", with_checks,
                 "Print each version with the checks it gets, then \"*\" and the suite's besides reset and drift");
  bool with_labels = false;
  list->add_flag("--labels", with_labels,
                 "With --checks: every test CTest registers (reset and drift too), as <test>=<label>,<label>");
  so.add_to(list);

  auto* lock = app.add_subcommand(
      "lock", "Write the lock file of released migrations, or check the migrations against it or a git ref");
  bool lock_update = false, lock_check = false;
  std::string lock_base;
  lock->add_flag("--update", lock_update, "Write the lock file (pgmt.lock in the migrations folder, or LOCK_FILE)");
  lock->add_flag("--check", lock_check, "Check the migrations against the lock file (the default)");
  lock->add_option("--base", lock_base,
                   "With --check: compare with the migrations at this git ref instead (a merge-base check)");
  so.add_to(lock);

  auto* lint = app.add_subcommand(
      "lint", "Find the hazards of the migrations' SQL in PostgreSQL's parse tree (no server); exit 1 on an error");
  bool lint_rules_flag = false;
  std::string lint_only;
  lint->add_flag("--rules", lint_rules_flag, "Print the rules (ID, severity, why, fix) as a Markdown table");
  lint->add_option("--migration", lint_only, "Lint this migration only (version or version_name)");
  so.add_to(lint);

  auto* test = app.add_subcommand("test", "Run every check of a suite on its own server");
  so.add_to(test);

  auto* rls_cmd = app.add_subcommand("rls", "Row level security reports");
  rls_cmd->require_subcommand(1);
  auto* coverage = rls_cmd->add_subcommand(
      "coverage", "Which tables the API roles reach, their policies, and what the assertion files exercise");
  coverage->add_option("--server-state", state, "State file of a running server (default: start one)");
  so.add_to(coverage);

  auto* snapshot = app.add_subcommand(
      "snapshot", "Write the catalog snapshot of a suite (after every migration) or of a database");
  std::string url, output;
  bool update = false;
  snapshot->add_option("--url", url, "Snapshot this database instead of a suite");
  snapshot->add_option("-o,--output", output, "Write to this file (default: standard output)");
  snapshot->add_flag("--update", update, "Rewrite the suite's snapshot file (SNAPSHOT)");
  so.add_to(snapshot);

  auto* diff = app.add_subcommand("diff", "Compare two snapshot files");
  std::string diff_a, diff_b;
  diff->add_option("a", diff_a, "Expected snapshot")->required();
  diff->add_option("b", diff_b, "Actual snapshot")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : exit_code::harness;
  }

  try {
    if (start->parsed()) return finish(cmd_server_start(state, owner, server_kind, image, start_suite));
    if (stop->parsed()) return finish(cmd_server_stop(state));
    if (check->parsed()) return finish(cmd_check(kind, so, version, state));
    if (list->parsed()) return finish(cmd_list(so, versions_only, with_checks, with_labels));
    if (test->parsed()) return finish(cmd_test(so));
    if (lint->parsed()) return finish(cmd_lint(so, lint_rules_flag, lint_only));
    if (lock->parsed()) {
      if (lock_update && (lock_check || !lock_base.empty()))
        throw input_error("pgmt lock: --update writes the lock file; --check and --base read it; give one");
      return finish(cmd_lock(so, lock_update, lock_base));
    }
    if (coverage->parsed()) return finish(cmd_check("rls_coverage", so, "", state));
    if (snapshot->parsed()) return finish(cmd_snapshot(so, url, output, update));
    if (diff->parsed()) return finish(cmd_diff(diff_a, diff_b));
  } catch (const input_error& e) {
    std::cerr << "pgmt: error: " << e.what() << "\n";
    return finish(exit_code::harness);
  } catch (const state_error& e) {
    std::cerr << "pgmt: error: " << e.diag().format();
    return finish(exit_code::failed);
  } catch (const script_error& e) {
    std::cerr << "pgmt: error: " << e.diag().format();
    return finish(exit_code::failed);
  } catch (const harness_error& e) {
    std::cerr << "pgmt: error: " << e.what() << "\n";
    return finish(exit_code::harness);
  } catch (const pg_error& e) {
    std::cerr << "pgmt: error: " << e.what() << "\n";
    return finish(exit_code::harness);
  } catch (const std::exception& e) {
    std::cerr << "pgmt: error: " << e.what() << "\n";
    return finish(exit_code::harness);
  }
  return exit_code::harness;
}
