// PGMT_SERVER=external: the example suite on an existing server, as a role
// that is not a superuser; pgmt creates and drops only its own databases and
// never prints the password.
#include "pgmt/pg.hpp"
#include "pgmt/process.hpp"
#include "pgmt/server.hpp"
#include "pgmt/service.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

namespace fs = std::filesystem;

namespace pgmt {
namespace {

using namespace std::chrono_literals;

const char* const password = "s3cr3t-pw-do-not-print";

std::string url_for(const std::string& user, const std::string& extra = "") {
  const auto& s = test::shared_server();
  return "postgresql://" + user + ":" + password + "@/postgres?host=" + s.host +
         "&port=" + std::to_string(s.port) + extra;
}

detail::run_result run_external(const std::string& url, std::vector<std::string> args) {
  std::vector<std::string> argv = {"env", "PGMT_SERVER=external", "PGMT_DATABASE_URL=" + url, PGMT_EXE};
  argv.insert(argv.end(), args.begin(), args.end());
  return detail::run(argv);
}

std::set<std::string> databases(connection& c) {
  std::set<std::string> out;
  result r = c.exec("select datname from pg_database");
  for (int i = 0; i < r.rows(); ++i) out.insert(r.value(i, 0));
  return out;
}

class ExternalServer : public ::testing::Test {
 protected:
  void SetUp() override {
    PGMT_REQUIRE_POSTGRES();
    admin_ = std::make_unique<connection>(test::shared_server().conninfo());
    admin_->exec(
        "do $$ begin "
        "if not exists (select from pg_roles where rolname = 'pgmt_ext') then "
        "  create role pgmt_ext login createdb createrole password 's3cr3t-pw-do-not-print'; end if; "
        "if not exists (select from pg_roles where rolname = 'pgmt_ext_nocreatedb') then "
        "  create role pgmt_ext_nocreatedb login; end if; "
        "if not exists (select from pg_roles where rolname = 'app_user') then create role app_user nologin; "
        "end if; "
        "end $$");
    // To assert row level security as app_user, pgmt's role must be able to become it.
    admin_->exec("grant app_user to pgmt_ext");
    admin_->exec("drop database if exists precious");
    admin_->exec("create database precious");
    connection p(test::shared_server().conninfo("precious"));
    p.exec("create table keep (id int); insert into keep values (42)");
    // A database named like pgmt's, but another run's.
    admin_->exec("drop database if exists pgmt_0123abcd_s0_feedfacefeedface");
    admin_->exec("create database pgmt_0123abcd_s0_feedfacefeedface");
  }
  std::unique_ptr<connection> admin_;
};

TEST_F(ExternalServer, RunsTheExampleAndTouchesNothingElse) {
  const std::set<std::string> before = databases(*admin_);
  const fs::path root = fs::path(PGMT_TEST_DATA).parent_path().parent_path();
  auto r = run_external(
      url_for("pgmt_ext"),
      {"test", "--migrations", (root / "migrations").string(), "--seed", (root / "seed/seed.sql").string(),
       "--data", (root / "seed/roundtrip").string(), "--rls", (root / "rls").string(), "--name", "example"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("on PostgreSQL " + test::shared_server().version + " (external)"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("PASS example.20260126120000.rls"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find(password), std::string::npos) << "the password was printed:\n" << r.output;
  // Only pgmt's own databases came and went.
  EXPECT_EQ(databases(*admin_), before);
  connection p(test::shared_server().conninfo("precious"));
  EXPECT_EQ(p.exec("select id from keep").value(0, 0), "42");
}

TEST_F(ExternalServer, ARoleWithoutCreatedbIsToldWhatToDo) {
  auto r = run_external(url_for("pgmt_ext_nocreatedb"),
                        {"test", "--migrations", (fs::path(PGMT_TEST_DATA) / "bad_sql").string()});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("the role \"pgmt_ext_nocreatedb\" of PGMT_DATABASE_URL"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("lacks CREATEDB"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("postgresql://pgmt_ext_nocreatedb:********@"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find(password), std::string::npos) << r.output;
}

// What the URL's role cannot do is said once, as a whole, and again at a
// statement the server refuses for want of privilege.
TEST_F(ExternalServer, WhatTheRoleCannotDoIsSaid) {
  auto r = run_external(url_for("pgmt_ext"),
                        {"test", "--migrations", (fs::path(PGMT_TEST_DATA) / "needs_superuser").string(),
                         "--idempotency", "off"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("the role \"pgmt_ext\" of PGMT_DATABASE_URL is not a superuser, and the migrations, "
                          "fixtures and checks run as it: on this server they cannot use event triggers"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("0001_event_trigger.sql:3:1: permission denied to create event trigger"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("on this server the migrations run as the role of PGMT_DATABASE_URL"), std::string::npos)
      << r.output;
  // On pgmt's own server the same migration runs.
  auto own = detail::run({"env", "PGMT_SERVER=temp", PGMT_EXE, "test", "--migrations",
                          (fs::path(PGMT_TEST_DATA) / "needs_superuser").string(), "--idempotency", "off"});
  EXPECT_EQ(own.exit_code, 0) << own.output;
  EXPECT_EQ(own.output.find("is not a superuser"), std::string::npos) << own.output;
}

TEST_F(ExternalServer, AnUnreachableServerMasksThePassword) {
  const auto& s = test::shared_server();
  std::string url =
      "postgresql://pgmt_ext:" + std::string(password) + "@/postgres?host=" + s.host + "&port=1";
  auto r = run_external(url, {"test", "--migrations", (fs::path(PGMT_TEST_DATA) / "bad_sql").string()});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("could not use the server of PGMT_DATABASE_URL"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find(password), std::string::npos) << r.output;
  auto bad = run_external("postgresql://x:" + std::string(password) + "@host:notaport/db",
                          {"test", "--migrations", (fs::path(PGMT_TEST_DATA) / "bad_sql").string()});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_EQ(bad.output.find(password), std::string::npos) << bad.output;
}

// The databases on the server whose names start with prefix.
std::set<std::string> databases_of(connection& c, const std::string& prefix) {
  std::set<std::string> out;
  for (const auto& d : databases(c))
    if (d.rfind(prefix, 0) == 0) out.insert(d);
  return out;
}

// The database prefix of the run whose owner is pid ("pgmt_<run>_"), from
// the database that names the owner, or "".
std::string run_prefix_of(connection& c, pid_t pid) {
  static const std::regex owner("^(pgmt_[0-9a-f]{8}_)o_[0-9a-f]{8}_([0-9]+)_[0-9]+$");
  for (const auto& d : databases(c)) {
    std::smatch m;
    if (std::regex_match(d, m, owner) && m[2] == std::to_string(pid)) return m[1];
  }
  return "";
}

// kill -9 of a run: its databases stay until the next run on this host, which
// drops them (sessions and all), and only them: not those of a live run, of
// a run on another host, or named like pgmt's without an owner.
TEST_F(ExternalServer, DatabasesOfAKilledRunAreRemovedByTheNextRun) {
  const std::string no_owner = "pgmt_cccccccc_s0_0123456789abcdef";
  const std::string other_host_owner = "pgmt_bbbbbbbb_o_00000000_1_1";  // pid 1 is not its owner here
  const std::string other_host_db = "pgmt_bbbbbbbb_c_walk_1_1";
  for (const auto& d : {no_owner, other_host_owner, other_host_db}) {
    admin_->exec("drop database if exists " + admin_->quote_ident(d));
    admin_->exec("create database " + admin_->quote_ident(d) + " owner pgmt_ext");  // one it may drop
  }
  test::temp_dir dir;
  // A live run: an engine whose owner is this process.
  const std::string live_state = (dir.path() / "live.json").string();
  auto live = run_external(url_for("pgmt_ext"),
                           {"server", "start", "--state", live_state, "--owner", std::to_string(getpid())});
  ASSERT_EQ(live.exit_code, 0) << live.output;
  const pid_t live_engine = find_service(live_state).pid;
  const std::string live_prefix = run_prefix_of(*admin_, live_engine);
  ASSERT_FALSE(live_prefix.empty()) << "no database names the live engine " << live_engine;

  // The run to kill: pgmt test, in the middle of a migration.
  dir.write("m/0001_slow.sql", "create table public.t (id int);\nselect pg_sleep(60);\n");
  detail::spawn_options o;
  o.output = dir.path() / "killed.log";
  o.env = {{"PGMT_SERVER", "external"}, {"PGMT_DATABASE_URL", url_for("pgmt_ext")}};
  const pid_t killed = detail::spawn(
      {PGMT_EXE, "test", "--migrations", (dir.path() / "m").string(), "--statement-timeout", "2min"}, o);
  std::string prefix;
  for (int i = 0; i < 300; ++i) {
    std::this_thread::sleep_for(50ms);
    if (prefix.empty()) prefix = run_prefix_of(*admin_, killed);
    if (!prefix.empty() &&
        admin_->exec_params("select from pg_stat_activity where query like '%pg_sleep(60)%' and "
                            "left(datname, length($1)) = $1",
                            {prefix})
                .rows() > 0)
      break;
  }
  ASSERT_FALSE(prefix.empty()) << "the run never started:\n" << std::ifstream(o.output).rdbuf();
  kill(killed, SIGKILL);
  detail::wait_child(killed);
  const auto left = databases_of(*admin_, prefix);
  EXPECT_GE(left.size(), 2u) << "the killed run's owner and walk databases stay until the next run";

  // The next run removes them, and says so on stderr.
  const std::string next_state = (dir.path() / "next.json").string();
  auto next = run_external(url_for("pgmt_ext"),
                           {"server", "start", "--state", next_state, "--owner", std::to_string(getpid())});
  ASSERT_EQ(next.exit_code, 0) << next.output;
  EXPECT_TRUE(std::regex_search(
      next.output, std::regex("pgmt: removed [0-9]+ databases? of [0-9]+ killed runs? on this host "
                              "from the server: .*" +
                              prefix + "[*] \\(pid " + std::to_string(killed) + "\\)")))
      << next.output;
  EXPECT_TRUE(databases_of(*admin_, prefix).empty()) << "left: " << *databases_of(*admin_, prefix).begin();
  EXPECT_FALSE(databases_of(*admin_, live_prefix).empty()) << "a live run's databases stay";
  const auto all = databases(*admin_);
  for (const auto& d : {no_owner, other_host_owner, other_host_db, std::string("precious")})
    EXPECT_TRUE(all.count(d)) << d << " was dropped";

  // A run that ends drops its own, the owner's last.
  for (const auto& state : {live_state, next_state}) {
    auto stop = run_external(url_for("pgmt_ext"), {"server", "stop", "--state", state});
    EXPECT_EQ(stop.exit_code, 0) << stop.output;
  }
  EXPECT_TRUE(databases_of(*admin_, live_prefix).empty());
  for (const auto& d : {no_owner, other_host_owner, other_host_db})
    admin_->exec("drop database if exists " + admin_->quote_ident(d));
}

// A server that asks for passwords (TCP on 127.0.0.1, scram-sha-256), and a
// role of its own that is not a superuser and not named postgres.
class ExternalRole : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!test::no_postgres_reason().empty()) return;
    auto opts = server_options::from_environment();
    opts.kind = "temp";
    opts.tcp = true;
    opts.settings = {"shared_preload_libraries=pg_cron"};
    server_ = start_server(opts).release();
    connection c(server_->info().conninfo());
    c.exec("create role pgmt_migrator login createdb password " + c.quote_literal(password));
    c.exec("create role pgmt_super login superuser password " + c.quote_literal(password));
    c.exec("create role app_reader nologin");
  }
  static void TearDownTestSuite() {
    if (server_) server_->stop();
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { PGMT_REQUIRE_POSTGRES(); }
  static std::string url(const std::string& pw = password, const std::string& role = "pgmt_migrator") {
    return "postgresql://" + role + ":" + pw + "@127.0.0.1:" + std::to_string(server_->info().port) +
           "/postgres";
  }
  static server* server_;
};
server* ExternalRole::server_ = nullptr;

// The snapshot of a suite read on an external server as another role is the
// one a temp cluster gives: the role that runs the migrations is "postgres"
// in both, so a snapshot committed from one passes drift on the other.
TEST_F(ExternalRole, SnapshotsNameTheMigratorPostgres) {
  test::temp_dir dir;
  const std::string suite = (test::data_dir() / "role_names").string();
  const std::string on_temp = (dir.path() / "temp.json").string(),
                    on_external = (dir.path() / "ext.json").string();
  auto temp =
      detail::run({"env", "PGMT_SERVER=temp", PGMT_EXE, "snapshot", "--migrations", suite, "-o", on_temp});
  ASSERT_EQ(temp.exit_code, 0) << temp.output;
  auto ext = run_external(url(), {"snapshot", "--migrations", suite, "-o", on_external});
  ASSERT_EQ(ext.exit_code, 0) << ext.output;
  std::ifstream in(on_external);
  const auto snap = nlohmann::json::parse(in);
  EXPECT_EQ(snap["tables"]["app.accounts"]["owner"], "postgres");
  EXPECT_EQ(snap["policies"]["app.accounts.accounts_holder"]["roles"],
            nlohmann::json({"app_reader", "postgres"}));
  EXPECT_TRUE(snap["default_privileges"].contains("postgres in app on tables")) << snap["default_privileges"];
  EXPECT_EQ(snap.dump().find("pgmt_migrator"), std::string::npos) << snap.dump(2);

  auto diff = detail::run({PGMT_EXE, "diff", on_temp, on_external});
  EXPECT_EQ(diff.exit_code, 0) << diff.output;
  EXPECT_NE(diff.output.find("0 differences"), std::string::npos) << diff.output;
  // drift against the snapshot from the temp cluster.
  auto test = run_external(url(), {"test", "--migrations", suite, "--idempotency", "off", "--snapshot",
                                   on_temp, "--name", "roles"});
  EXPECT_EQ(test.exit_code, 0) << test.output;
  EXPECT_NE(test.output.find("PASS roles.drift"), std::string::npos) << test.output;
  EXPECT_EQ(test.output.find(password), std::string::npos) << test.output;
}

// A wrong password: libpq's message, and no password, in the URL form and
// in the key/value form, from the external server and from `snapshot --url`.
TEST_F(ExternalRole, AWrongPasswordIsNeverPrinted) {
  const std::string wrong = "wr0ng-pw-do-not-print";
  const std::string suite = (test::data_dir() / "layouts" / "flat").string();
  const std::string kv = "host=127.0.0.1 port=" + std::to_string(server_->info().port) +
                         " user=pgmt_migrator password='" + wrong + "' dbname=postgres";
  for (const auto& u : {url(wrong), kv}) {
    auto r = run_external(u, {"test", "--migrations", suite});
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("password authentication failed for user \"pgmt_migrator\""), std::string::npos)
        << r.output;
    EXPECT_EQ(r.output.find(wrong), std::string::npos) << r.output;
    auto snap = detail::run({PGMT_EXE, "snapshot", "--url", u});
    EXPECT_EQ(snap.exit_code, 2) << snap.output;
    EXPECT_NE(snap.output.find("password authentication failed"), std::string::npos) << snap.output;
    EXPECT_EQ(snap.output.find(wrong), std::string::npos) << snap.output;
  }
  // libpq quotes what it cannot parse, the password included.
  auto bad =
      detail::run({PGMT_EXE, "snapshot", "--url", "postgresql://pgmt_migrator:" + wrong + "%zz@127.0.0.1/x"});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("invalid percent-encoded token"), std::string::npos) << bad.output;
  EXPECT_EQ(bad.output.find(wrong), std::string::npos) << bad.output;
}

// pg_cron on a server pgmt does not own: its migration databases cannot take
// the name cron.database_name gives, and the message says where it can.
TEST_F(ExternalRole, PgCronSaysWhereItCanBeTested) {
  auto r = run_external(url(password, "pgmt_super"),
                        {"test", "--migrations", (test::data_dir() / "pg_cron").string()});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("0002_cron.up.sql:2:1: can only create extension in database postgres"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("lends it the name cron.database_name gives only on its own server"), std::string::npos)
      << r.output;
  connection c(server_->info().conninfo());
  EXPECT_EQ(c.exec("select count(*) from pg_database where datname like 'pgmt_lent_%'").value(0, 0), "0");
}

}  // namespace
}  // namespace pgmt
