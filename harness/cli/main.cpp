// The pgmt command: what CTest runs, and what people run without CMake.
#include "pgmt/checks.hpp"
#include "pgmt/pg.hpp"
#include "pgmt/report.hpp"
#include "pgmt/server.hpp"
#include "pgmt/state.hpp"
#include "pgmt/suite.hpp"
#include "pgmt/text.hpp"

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <filesystem>
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
  std::vector<std::string> fixtures;
  std::vector<std::string> seeds;
  std::string statement_timeout;
  std::string lock_timeout;
  std::string name;

  void add_to(CLI::App* app) {
    app->add_option("--suite", suite_file, "Suite file written by pgmt_add_migration_tests");
    app->add_option("--migrations", migrations, "Migrations folder (instead of --suite)");
    app->add_option("--layout", layout, "auto, flat, paired, split, folders or sections");
    app->add_option("--fixture", fixtures,
                    "SQL file or folder loaded before the first migration (repeatable)");
    app->add_option("--seed", seeds,
                    "SQL file or folder loaded after the last migration by reset (repeatable)");
    app->add_option("--statement-timeout", statement_timeout, "statement_timeout per migration, e.g. 60s");
    app->add_option("--lock-timeout", lock_timeout, "lock_timeout per migration, e.g. 10s");
    app->add_option("--name", name, "Suite name used in test names");
  }

  suite load() const {
    suite s;
    if (!suite_file.empty()) {
      s = suite::from_file(suite_file);
    } else if (!migrations.empty()) {
      s.migrations_dir = fs::absolute(migrations).lexically_normal();
      s.output_dir = fs::current_path();
    } else {
      throw input_error("say which suite: --suite FILE or --migrations DIR");
    }
    if (!migrations.empty() && !suite_file.empty())
      s.migrations_dir = fs::absolute(migrations).lexically_normal();
    if (layout != "auto") s.forced_layout = parse_layout(layout);
    for (const auto& f : fixtures) s.fixtures.push_back(fs::absolute(f).lexically_normal());
    for (const auto& f : seeds) s.seeds.push_back(fs::absolute(f).lexically_normal());
    if (!statement_timeout.empty()) s.statement_timeout = parse_duration(statement_timeout);
    if (!lock_timeout.empty()) s.lock_timeout = parse_duration(lock_timeout);
    if (!name.empty()) s.name = name;
    return s;
  }
};

fs::path failed_marker(const fs::path& state) {
  fs::path p = state;
  p += ".failed";
  return p;
}

int cmd_server_start(const std::string& state, pid_t owner) {
  auto opts = server_options::from_environment();
  opts.owner = owner ? owner : getppid();
  remove_abandoned_servers();
  if (fs::exists(state)) {
    server_info old = read_state_file(state);
    if (fs::exists(old.folder))
      throw harness_error("a server from another run is still using \"" + state +
                          "\"; stop it with `pgmt server stop --state " + state + "`");
    fs::remove(state);
  }
  fs::remove(failed_marker(state));
  auto srv = start_server(opts);
  write_state_file(state, srv->info());
  srv->detach();
  std::cout << "pgmt: started " << srv->info().describe() << " at " << srv->info().host << "\n";
  return exit_code::passed;
}

int cmd_server_stop(const std::string& state) {
  if (!fs::exists(state)) {
    std::cout << "pgmt: no server state at \"" << state << "\"; nothing to stop\n";
    return exit_code::passed;
  }
  server_info info = read_state_file(state);
  bool failed = fs::exists(failed_marker(state));
  fs::path kept = stop_server(info, server_options::from_environment(), failed);
  fs::remove(state);
  fs::remove(failed_marker(state));
  std::cout << "pgmt: stopped " << info.describe() << "\n";
  if (!kept.empty()) std::cout << "pgmt: kept the server folder \"" << kept.string() << "\" (PGMT_KEEP)\n";
  return exit_code::passed;
}

// A server for this command: the suite's shared one, or our own.
struct server_handle {
  std::unique_ptr<server> own;
  server_info info;
};

server_handle get_server(const std::string& state) {
  server_handle h;
  if (!state.empty()) {
    h.info = read_state_file(state);
  } else {
    h.own = start_server(server_options::from_environment());
    h.info = h.own->info();
  }
  return h;
}

int cmd_check(const std::string& kind, const suite_options& so, const std::string& version,
              const std::string& state) {
  suite s = so.load();
  migration_set set = s.discover_migrations();
  std::size_t index = 0;
  std::string test_name;
  if (kind == "apply") {
    if (version.empty()) throw input_error("check apply needs --migration VERSION");
    index = set.index_of(version);
    test_name = s.name + "." + set.migrations[index].version + ".apply";
  } else if (kind == "reset") {
    test_name = s.name + ".reset";
  } else {
    throw input_error("unknown check \"" + kind + "\"; this version has apply and reset");
  }
  server_handle srv = get_server(state);
  std::cout << "pgmt: " << test_name << " on " << srv.info.describe() << "\n";
  state_cache cache(srv.info, s, std::move(set));
  check_result r = kind == "apply" ? check_apply(cache, index) : check_reset(cache);
  print_result(std::cout, test_name, r);
  if (r.outcome == check_result::status::failed && !state.empty())
    std::ofstream(failed_marker(state)) << test_name << "\n";
  if (srv.own) srv.own->stop(r.outcome == check_result::status::failed);
  return exit_code_of(r);
}

int cmd_list(const suite_options& so, bool versions_only) {
  suite s = so.load();
  migration_set set = s.discover_migrations();
  for (const auto& m : set.migrations) {
    if (versions_only) {
      std::cout << m.version << "\n";
    } else {
      std::cout << m.version << "  " << m.id() << "  " << display_path(m.up.path)
                << (m.down ? "  (down: " + display_path(m.down->path) + ")" : "") << "\n";
    }
  }
  if (!versions_only)
    std::cerr << set.migrations.size() << " migrations, layout " << to_string(set.kind) << "\n";
  return exit_code::passed;
}

int cmd_test(const suite_options& so) {
  suite s = so.load();
  migration_set set = s.discover_migrations();
  std::size_t n = set.migrations.size();
  auto srv = start_server(server_options::from_environment());
  std::cout << "pgmt: suite " << s.name << ": " << n << " migrations (" << to_string(set.kind) << ") on "
            << srv->info().describe() << "\n";
  state_cache cache(srv->info(), s, std::move(set));
  int passed = 0, failed = 0, skipped = 0;
  auto tally = [&](const std::string& name, const check_result& r) {
    print_result(std::cout, name, r);
    std::cout.flush();
    if (r.outcome == check_result::status::passed)
      ++passed;
    else if (r.outcome == check_result::status::failed)
      ++failed;
    else
      ++skipped;
  };
  for (std::size_t i = 0; i < n; ++i)
    tally(s.name + "." + cache.migrations().migrations[i].version + ".apply", check_apply(cache, i));
  tally(s.name + ".reset", check_reset(cache));
  fs::path kept = srv->stop(failed > 0);
  if (!kept.empty()) std::cout << "pgmt: kept the server folder \"" << kept.string() << "\" (PGMT_KEEP)\n";
  std::cout << passed << " passed, " << failed << " failed"
            << (skipped ? ", " + std::to_string(skipped) + " skipped" : "") << "\n";
  return failed ? exit_code::failed : exit_code::passed;
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
  auto* stop = server_cmd->add_subcommand("stop", "Stop the server of a state file");
  stop->add_option("--state", state, "State file of the server")->required();

  suite_options so;
  auto* check = app.add_subcommand("check", "Run one check (what CTest runs)");
  std::string kind, version;
  check->add_option("kind", kind, "apply or reset")->required();
  check->add_option("--migration", version, "Version of the migration (apply)");
  check->add_option("--server-state", state, "State file of a running server (default: start one)");
  so.add_to(check);

  auto* list = app.add_subcommand("list", "List a suite's migrations in order");
  bool versions_only = false;
  list->add_flag("--versions", versions_only, "Print versions only, one per line");
  so.add_to(list);

  auto* test = app.add_subcommand("test", "Run every check of a suite on its own server");
  so.add_to(test);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : exit_code::harness;
  }

  try {
    if (start->parsed()) return finish(cmd_server_start(state, owner));
    if (stop->parsed()) return finish(cmd_server_stop(state));
    if (check->parsed()) return finish(cmd_check(kind, so, version, state));
    if (list->parsed()) return finish(cmd_list(so, versions_only));
    if (test->parsed()) return finish(cmd_test(so));
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
