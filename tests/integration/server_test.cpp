// The temp cluster: private socket, settings, unprivileged user under root,
// PGMT_KEEP, leftovers of killed runs, start-up failures, signals.
#include "pgmt/server.hpp"

#include "pgmt/pg.hpp"
#include "pgmt/process.hpp"
#include "pgmt/service.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace pgmt {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

bool alive(pid_t pid) { return detail::process_alive(pid); }

uid_t uid_of(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Uid:", 0) == 0) return static_cast<uid_t>(std::stoul(line.substr(4)));
  return static_cast<uid_t>(-1);
}

pid_t spawn_sleeper() {
  detail::spawn_options o;
  return detail::spawn({"sleep", "300"}, o);
}

class Server : public ::testing::Test {
 protected:
  void SetUp() override { PGMT_REQUIRE_POSTGRES(); }
};

TEST_F(Server, ListensOnAPrivateSocketOnlyWithFastSettings) {
  auto srv = start_server(server_options::from_environment());
  const auto& info = srv->info();
  struct stat st {};
  ASSERT_EQ(stat(info.host.c_str(), &st), 0) << info.host;
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  connection c(info.conninfo());
  EXPECT_EQ(c.exec("show listen_addresses").value(0, 0), "");
  EXPECT_EQ(c.exec("show fsync").value(0, 0), "off");
  EXPECT_EQ(c.exec("show full_page_writes").value(0, 0), "off");
  EXPECT_EQ(c.exec("show synchronous_commit").value(0, 0), "off");
  EXPECT_EQ(c.exec("select rolsuper from pg_roles where rolname = current_user").value(0, 0), "t");
  EXPECT_EQ(info.version_num / 10000, c.server_version() / 10000);
  EXPECT_EQ(info.describe().rfind("PostgreSQL " + info.version + " (temp cluster)", 0), 0u);
  pid_t pid = info.pid;
  fs::path folder = info.folder;
  EXPECT_TRUE(srv->stop().empty());
  EXPECT_FALSE(alive(pid));
  EXPECT_FALSE(fs::exists(folder));
}

// The living children of a postmaster.
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat) || stat.rfind(')') == std::string::npos) continue;
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::string state;
    long ppid = 0;
    if (rest >> state >> ppid && ppid == parent && state != "Z") out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

// A stop returns once every process of the server is gone, the backends of
// open connections included.
TEST_F(Server, StopReturnsOnceEveryServerProcessIsGone) {
  auto srv = start_server(server_options::from_environment());
  const pid_t pid = srv->info().pid;
  std::vector<std::unique_ptr<connection>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(std::make_unique<connection>(srv->info().conninfo()));
    open.back()->exec("select 1");
  }
  const auto children = children_of(pid);
  EXPECT_GE(children.size(), 3u) << "its helpers and three backends";
  srv->stop();
  for (pid_t child : children) EXPECT_FALSE(alive(child)) << child << " outlived the stop";
}

TEST_F(Server, TcpOnlyOnLoopbackWhenAsked) {
  auto opts = server_options::from_environment();
  opts.tcp = true;
  auto srv = start_server(opts);
  EXPECT_EQ(srv->info().host, "127.0.0.1");
  connection c(srv->info().conninfo());
  EXPECT_EQ(c.exec("show listen_addresses").value(0, 0), "127.0.0.1");
}

// Over TCP any local user reaches 127.0.0.1: the temp cluster asks for the
// run's random password there (scram-sha-256), kept in 0600 state files and
// out of every log.
TEST_F(Server, TcpNeedsTheRunsPassword) {
  auto opts = server_options::from_environment();
  opts.tcp = true;
  auto srv = start_server(opts);
  const auto& info = srv->info();
  ASSERT_EQ(info.password.size(), 32u);
  connection c(info.conninfo());
  EXPECT_EQ(c.exec("select rolpassword like 'SCRAM-SHA-256$%' from pg_authid where rolname = current_user").value(0, 0),
            "t");
  // Another local user, without the password, is refused.
  auto r = test::psql_without_password(info);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("password"), std::string::npos) << r.output;
  // A wrong password gets a message that does not show it.
  server_info wrong = info;
  wrong.password = "not-the-password-" + info.password.substr(0, 4);
  try {
    connection bad(wrong.conninfo());
    ADD_FAILURE() << "connected with a wrong password";
  } catch (const std::exception& e) {
    EXPECT_EQ(std::string(e.what()).find(wrong.password), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("password"), std::string::npos) << e.what();
  }
  // Where it is kept: the 0600 state file only.
  test::temp_dir dir;
  write_state_file(dir.path() / "server.json", info);
  struct stat st {};
  ASSERT_EQ(stat((dir.path() / "server.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(read_state_file(dir.path() / "server.json").password, info.password);
  auto contents = [](const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(contents(info.folder / "meta.json").find(info.password), std::string::npos);
  EXPECT_EQ(contents(info.log).find(info.password), std::string::npos);
}

TEST_F(Server, RootRunsTheServerAsAnUnprivilegedUser) {
  if (geteuid() != 0) GTEST_SKIP() << "only meaningful when the tests run as root";
  auto srv = start_server(server_options::from_environment());
  EXPECT_NE(uid_of(srv->info().pid), 0u);
  EXPECT_EQ(uid_of(srv->info().pid), detail::lookup_user("postgres")->uid);
}

TEST_F(Server, KeepOnRequestAndOnFailure) {
  auto opts = server_options::from_environment();
  opts.keep = "1";
  auto kept = start_server(opts)->stop(false);
  ASSERT_FALSE(kept.empty());
  EXPECT_TRUE(fs::exists(kept / "data" / "PG_VERSION"));
  EXPECT_TRUE(fs::exists(kept / "server.log"));
  fs::remove_all(kept);

  opts.keep = "on-failure";
  EXPECT_TRUE(start_server(opts)->stop(false).empty());
  kept = start_server(opts)->stop(true);
  EXPECT_FALSE(kept.empty());
  fs::remove_all(kept);
}

TEST_F(Server, ServerOfAKilledRunIsRemovedByTheNextRun) {
  pid_t owner = spawn_sleeper();
  auto opts = server_options::from_environment();
  opts.owner = owner;
  auto srv = start_server(opts);
  srv->detach();  // as if its run were killed: nobody stops it
  const pid_t pid = srv->info().pid;
  const fs::path folder = srv->info().folder;
  ASSERT_TRUE(alive(pid));
  remove_abandoned_servers();
  EXPECT_TRUE(alive(pid)) << "its owner still lives";
  EXPECT_TRUE(fs::exists(folder));
  kill(owner, SIGKILL);
  detail::wait_child(owner);
  // Another test starting a server at the same time may remove it first:
  // what counts is that it goes, not who counted it.
  remove_abandoned_servers();
  for (int i = 0; i < 100 && (alive(pid) || fs::exists(folder)); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(alive(pid));
  EXPECT_FALSE(fs::exists(folder));
}

TEST_F(Server, CliStartReplacesTheServerOfAKilledCtestRun) {
  test::temp_dir dir;
  const std::string state = (dir.path() / "server.json").string();
  pid_t fake_ctest = spawn_sleeper();
  auto r =
      detail::run({PGMT_EXE, "server", "start", "--state", state, "--owner", std::to_string(fake_ctest)});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const fs::path first_file = run_state_file(state, fake_ctest);
  server_info first = read_state_file(first_file);
  const pid_t first_engine = find_service(state).pid;  // the only run so far
  ASSERT_TRUE(alive(first.pid));
  ASSERT_TRUE(alive(first_engine));
  kill(fake_ctest, SIGKILL);
  detail::wait_child(fake_ctest);

  r = detail::run({PGMT_EXE, "server", "start", "--state", state, "--owner", std::to_string(getpid())});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  server_info second = read_state_file(run_state_file(state, getpid()));
  // The first run's engine saw its owner go: it stops its server, removes
  // the run's files, then exits.
  for (int i = 0; i < 100 && alive(first_engine); ++i) std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(alive(first_engine)) << "the killed run's engine is gone";
  EXPECT_FALSE(alive(first.pid)) << "the killed run's server is gone";
  EXPECT_FALSE(fs::exists(first.folder));
  EXPECT_FALSE(fs::exists(first_file));
  EXPECT_TRUE(alive(second.pid));

  r = detail::run({PGMT_EXE, "server", "stop", "--state", state});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(alive(second.pid));
  EXPECT_FALSE(fs::exists(second.folder));
  EXPECT_FALSE(fs::exists(run_state_file(state, getpid())));
}

TEST_F(Server, PostmasterThatDiesAtStartFailsAtOnceWithItsLog) {
  test::temp_dir dir;
  // A stand-in PostgreSQL whose server exits at once, as a broken install would.
  dir.write("bin/postgres",
            "#!/bin/sh\n"
            "if [ \"$1\" = --version ]; then echo 'postgres (PostgreSQL) 15.99'; exit 0; fi\n"
            "if [ \"$1\" = --single ]; then cat >/dev/null; exit 0; fi\n"
            "echo 'FATAL:  could not create shared memory segment: No space left on device'\n"
            "exit 1\n");
  dir.write("bin/initdb",
            "#!/bin/sh\n"
            "while [ $# -gt 0 ]; do if [ \"$1\" = -D ]; then shift; mkdir -p \"$1\"; echo 15 > "
            "\"$1/PG_VERSION\"; fi; shift; done\n");
  fs::permissions(dir.path() / "bin" / "postgres", fs::perms(0755));
  fs::permissions(dir.path() / "bin" / "initdb", fs::perms(0755));
  fs::permissions(dir.path(), fs::perms(0755));
  fs::permissions(dir.path() / "bin", fs::perms(0755));
  setenv("PGMT_CACHE_DIR", (dir.path() / "cache").c_str(), 1);
  auto opts = server_options::from_environment();
  opts.bindir = dir.path() / "bin";
  opts.start_timeout = 60s;
  auto t0 = std::chrono::steady_clock::now();
  try {
    start_server(opts);
    unsetenv("PGMT_CACHE_DIR");
    FAIL() << "start should fail";
  } catch (const harness_error& e) {
    unsetenv("PGMT_CACHE_DIR");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s) << "must not wait for the timeout";
    std::string msg = e.what();
    EXPECT_NE(msg.find("PostgreSQL 15.99 exited during start-up"), std::string::npos) << msg;
    EXPECT_NE(msg.find("could not create shared memory segment"), std::string::npos) << msg;
  }
}

TEST_F(Server, MissingBinariesSayWhatToInstall) {
  try {
    find_pg_bindir("/nonexistent/bin");
    FAIL();
  } catch (const harness_error& e) {
    EXPECT_NE(std::string(e.what()).find("does not hold the postgres and initdb programs"),
              std::string::npos);
  }
}

TEST_F(Server, UnknownServerKindIsAnError) {
  auto opts = server_options::from_environment();
  opts.kind = "cloud";
  EXPECT_THROW(start_server(opts), harness_error);
}

// `pgmt test` of a set whose one migration sleeps, in the background, with
// the folder and postmaster of its server once the migration runs.
struct slow_run {
  test::temp_dir dir;
  pid_t pgmt = 0;
  fs::path folder;
  pid_t postmaster = 0;

  slow_run() {
    dir.write("m/0001_slow.sql", "select pg_sleep(60);\n");
    const fs::path root = runtime_root();
    std::set<fs::path> before;
    for (const auto& e : fs::directory_iterator(root))
      if (e.path().filename().string().rfind("srv-", 0) == 0) before.insert(e.path());
    detail::spawn_options o;
    o.output = dir.path() / "out.log";
    pgmt = detail::spawn(
        {PGMT_EXE, "test", "--migrations", (dir.path() / "m").string(), "--statement-timeout", "2min"}, o);
    for (int i = 0; i < 300 && postmaster == 0; ++i) {
      std::this_thread::sleep_for(50ms);
      for (const auto& e : fs::directory_iterator(root)) {
        if (before.count(e.path()) || e.path().filename().string().rfind("srv-", 0) != 0) continue;
        std::ifstream meta(e.path() / "meta.json");
        try {
          auto j = nlohmann::json::parse(meta);
          if (j.value("owner_pid", 0) == pgmt && j.value("version_num", 0) > 0) {
            folder = e.path();
            postmaster = j.value("pid", 0);
          }
        } catch (...) {
        }
      }
    }
    std::this_thread::sleep_for(300ms);  // the migration is running
  }
  [[nodiscard]] std::string output() const {
    std::ifstream in(dir.path() / "out.log");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
};

// The next run of a suite passes (and removes what a killed run left).
void next_run_passes() {
  test::temp_dir dir;
  dir.write("m/0001_a.sql", "create table if not exists a (id int);\n");
  auto r = detail::run({PGMT_EXE, "test", "--migrations", (dir.path() / "m").string()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("4 passed, 0 failed"), std::string::npos) << r.output;
}

TEST_F(Server, SigintStopsTheServerOfARunningSuite) {
  slow_run run;
  ASSERT_NE(run.postmaster, 0) << "pgmt test never started its server";
  kill(run.pgmt, SIGINT);
  int rc = detail::wait_child(run.pgmt);
  EXPECT_EQ(rc, 128 + SIGINT);
  EXPECT_FALSE(alive(run.postmaster));
  EXPECT_FALSE(fs::exists(run.folder));
  next_run_passes();
}

// kill -9 of `pgmt test`: its server is left, and the next run removes it.
TEST_F(Server, KillNineOfPgmtTestLeavesWhatTheNextRunRemoves) {
  slow_run run;
  ASSERT_NE(run.postmaster, 0) << "pgmt test never started its server";
  kill(run.pgmt, SIGKILL);
  EXPECT_EQ(detail::wait_child(run.pgmt), 128 + SIGKILL);
  EXPECT_TRUE(alive(run.postmaster)) << "nobody stopped it";
  EXPECT_TRUE(fs::exists(run.folder));
  next_run_passes();
  for (int i = 0; i < 100 && (alive(run.postmaster) || fs::exists(run.folder)); ++i)
    std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(alive(run.postmaster)) << "the next run stopped the killed run's server";
  EXPECT_FALSE(fs::exists(run.folder));
}

// kill -9 of the postmaster under `pgmt test`: each check without a verdict
// fails once, saying so; nothing is left; the next run passes.
TEST_F(Server, KillNineOfThePostmasterUnderPgmtTestIsReported) {
  slow_run run;
  ASSERT_NE(run.postmaster, 0) << "pgmt test never started its server";
  kill(run.postmaster, SIGKILL);
  EXPECT_EQ(detail::wait_child(run.pgmt), 1) << run.output();
  const std::string out = run.output();
  EXPECT_NE(out.find("the server stopped (signal 9); the end of its log:"), std::string::npos) << out;
  EXPECT_NE(out.find("FAIL suite.0001.apply: 1 finding (the server stopped)"), std::string::npos) << out;
  EXPECT_NE(out.find("FAIL suite.reset: 1 finding (the server stopped)"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(run.folder));
  next_run_passes();
}

TEST_F(Server, ATablespaceAMigrationMakesIsKeptAcrossBuildsAndItsFolderRemovedAtStop) {
  test::temp_dir dir;
  // The location must belong to the user the server runs as.
  const fs::path location = dir.path() / "ts";
  fs::create_directories(location);
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  if (geteuid() == 0) {
    const char* user = std::getenv("PGMT_SERVER_USER");
    auto* pw = getpwnam(user && *user ? user : "postgres");
    ASSERT_NE(pw, nullptr);
    ASSERT_EQ(chown(location.c_str(), pw->pw_uid, pw->pw_gid), 0);
  }
  dir.write("m/0001_a.sql", "create table if not exists a (id int);\n");
  dir.write("m/0002_ts.sql", "-- pgmt:no-transaction\n-- pgmt:not-idempotent a tablespace is made once\n"
                             "create tablespace pgmt_it_ts location '" + location.string() +
                                 "';\ncreate table b (id int) tablespace pgmt_it_ts;\n");
  auto r = detail::run({PGMT_EXE, "test", "--migrations", (dir.path() / "m").string()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // The reset builds from nothing on the server the walk made it on.
  EXPECT_NE(r.output.find("PASS suite.reset"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("0002_ts.sql:3:1: warning: CREATE TABLESPACE"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(location)) << "the location was the user's";
  EXPECT_TRUE(fs::is_empty(location)) << "the server's folder in it is gone with the server";
}

TEST_F(Server, TheDefaultOutputFolderIsPrivate) {
  // Diffs and snapshots show the schema: no other local user reads them.
  test::temp_dir dir;
  test::scoped_env runtime("PGMT_RUNTIME_DIR", (dir.path() / "rt").c_str());
  auto r = detail::run({PGMT_EXE, "list", "--migrations", (test::data_dir() / "layouts" / "flat").string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  struct stat st {};
  ASSERT_EQ(stat((dir.path() / "rt" / "output").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  // One folder per migrations folder: two projects' runs keep their own diffs.
  r = detail::run({PGMT_EXE, "list", "--migrations", (test::data_dir() / "layouts" / "paired").string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> folders;
  for (const auto& e : fs::directory_iterator(dir.path() / "rt" / "output")) {
    folders.push_back(e.path().filename().string());
    ASSERT_EQ(stat(e.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
  }
  std::sort(folders.begin(), folders.end());
  ASSERT_EQ(folders.size(), 2u);
  EXPECT_EQ(folders[0].rfind("flat-", 0), 0u) << folders[0];
  EXPECT_EQ(folders[1].rfind("paired-", 0), 0u) << folders[1];
}

TEST_F(Server, ClosedOutputStillStopsTheServer) {
  // `pgmt test | head -c 1`: once head exits, every write fails. pgmt must
  // carry on and stop its server rather than die of SIGPIPE and leak it.
  test::temp_dir dir;
  const std::string rc_file = (dir.path() / "rc").string();
  const std::string script = "{ '" + std::string(PGMT_EXE) + "' test --migrations '" +
                             (test::data_dir() / "layouts" / "paired").string() + "'; echo $? > '" + rc_file +
                             "'; } | head -c 1 > /dev/null";
  auto r = detail::run({"sh", "-c", script});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(rc_file);
  int rc = -1;
  in >> rc;
  EXPECT_EQ(rc, 0) << "141 would mean pgmt died of SIGPIPE with its server running";
}

TEST_F(Server, StateFileRoundTripAndMissingFile) {
  test::temp_dir dir;
  server_info i;
  i.kind = "temp cluster";
  i.version = "15.18";
  i.version_num = 150018;
  i.host = "/tmp/x/sock";
  i.folder = "/tmp/x";
  i.log = "/tmp/x/server.log";
  i.pid = 123;
  write_state_file(dir.path() / "s.json", i);
  auto back = read_state_file(dir.path() / "s.json");
  EXPECT_EQ(back.to_json(), i.to_json());
  try {
    read_state_file(dir.path() / "missing.json");
    FAIL();
  } catch (const harness_error& e) {
    EXPECT_NE(std::string(e.what()).find("the server fixture did not run"), std::string::npos);
  }
}

}  // namespace
}  // namespace pgmt
