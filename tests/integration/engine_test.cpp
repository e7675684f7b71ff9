// The run's engine under CTest: one per run, two runs of one build tree at
// once, Ctrl-C and kill -9 of ctest, a killed engine, and migrations that
// share roles across the server whatever order CTest picks.
#include "pgmt/process.hpp"
#include "pgmt/service.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/shm.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

namespace pgmt {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A project using pgmt_add_migration_tests on a folder of migrations, configured.
class project {
 public:
  explicit project(const std::string& options = "") {
    dir_.write("CMakeLists.txt",
               "cmake_minimum_required(VERSION 3.25)\nproject(p LANGUAGES NONE)\nenable_testing()\n"
               "set(PGMT_EXECUTABLE \"" PGMT_EXE "\")\ninclude(\"" PGMT_SOURCE_DIR
               "/cmake/Pgmt.cmake\")\npgmt_add_migration_tests(app MIGRATIONS_DIR migrations " +
                   options + ")\n");
  }
  void write(const std::string& rel, const std::string& text) { dir_.write("migrations/" + rel, text); }
  // Migration id: its up and down scripts (golang-migrate's layout).
  void migration(const std::string& id, const std::string& up, const std::string& down) {
    write(id + ".up.sql", up);
    write(id + ".down.sql", down);
  }
  void configure() {
    auto r = detail::run({PGMT_CMAKE_COMMAND, "-S", dir_.path().string(), "-B", build().string()});
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  [[nodiscard]] fs::path build() const { return dir_.path() / "build"; }
  [[nodiscard]] fs::path state() const { return build() / "pgmt_suites" / "app" / "server.json"; }
  // ctest in the background, in a process group of its own, output to log.
  pid_t start_ctest(const fs::path& log, const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> argv = {PGMT_CTEST_COMMAND, "--test-dir", build().string(), "-j2",
                                     "--output-on-failure"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    detail::spawn_options o;
    o.output = log;
    o.new_session = true;
    return detail::spawn(argv, o);
  }
  // The run files the fixture wrote (one per live run).
  [[nodiscard]] std::vector<fs::path> runs() const {
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(state().parent_path(), ec)) {
      const std::string name = e.path().filename().string();
      if (name.rfind("server.json.", 0) == 0 && name.find_first_not_of("0123456789", 12) == std::string::npos)
        out.push_back(e.path());
    }
    return out;
  }

 private:
  test::temp_dir dir_;
};

// Waits up to limit for pred.
template <typename Pred> bool eventually(Pred pred, std::chrono::milliseconds limit = 20s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return pred();
}

// The service of the run that is under way (its engine and server pids).
service_info running(const project& p) {
  service_info svc;
  eventually([&] { return !p.runs().empty(); });
  auto runs = p.runs();
  if (runs.empty()) return svc;
  return find_service(p.state());  // the only live one
}

void slow_suite(project& p) {
  p.migration("0001_a", "create table a (id int);\n", "drop table a;\n");
  p.migration("0002_slow", "select pg_sleep(30);\ncreate table b (id int);\n", "drop table b;\n");
}

// The slow migration made quick, the suite runs again and passes.
void next_run_passes(project& p, const fs::path& logs) {
  p.write("0002_slow.up.sql", "create table b (id int);\n");
  pid_t next = p.start_ctest(logs / "next.log");
  EXPECT_EQ(detail::wait_child(next), 0) << read_text(logs / "next.log");
  EXPECT_TRUE(p.runs().empty());
}

class Engine : public ::testing::Test {
 protected:
  void SetUp() override { PGMT_REQUIRE_POSTGRES(); }
};

TEST_F(Engine, TwoRunsOfOneBuildTreeAtOnceBothPassAndLeaveNothing) {
  project p;
  p.migration("0001_a", "create table a (id int primary key);\nselect pg_sleep(1);\n", "drop table a;\n");
  p.migration("0002_b", "create table b (id int references a (id));\n", "drop table b;\n");
  p.configure();
  test::temp_dir logs;
  pid_t first = p.start_ctest(logs.path() / "1.log");
  pid_t second = p.start_ctest(logs.path() / "2.log");
  EXPECT_EQ(detail::wait_child(first), 0) << read_text(logs.path() / "1.log");
  EXPECT_EQ(detail::wait_child(second), 0) << read_text(logs.path() / "2.log");
  for (const auto& f : {"1.log", "2.log"})
    EXPECT_NE(read_text(logs.path() / f).find("100% tests passed, 0 tests failed out of 9"),
              std::string::npos)
        << read_text(logs.path() / f);
  EXPECT_TRUE(p.runs().empty()) << "every run's state file is removed at its stop";
}

// Ctrl-C in a terminal sends SIGINT to ctest's whole process group.
TEST_F(Engine, SigintToCtestLeavesNoEngineAndNoServer) {
  project p;
  slow_suite(p);
  p.configure();
  test::temp_dir logs;
  pid_t ctest = p.start_ctest(logs.path() / "ctest.log");
  service_info svc = running(p);
  ASSERT_NE(svc.pid, 0) << read_text(logs.path() / "ctest.log");
  std::this_thread::sleep_for(1s);  // the walk is in the slow migration
  kill(-ctest, SIGINT);
  detail::wait_child(ctest);
  EXPECT_TRUE(eventually([&] { return !detail::process_alive(svc.pid); }, 10s)) << "the engine is gone";
  EXPECT_TRUE(eventually([&] { return !detail::process_alive(svc.server.pid); }, 10s))
      << "the server is gone";
  EXPECT_FALSE(fs::exists(svc.server.folder));
  next_run_passes(p, logs.path());
}

TEST_F(Engine, KillNineOfCtestLeavesNoEngineAndNoServer) {
  project p;
  slow_suite(p);
  p.configure();
  test::temp_dir logs;
  pid_t ctest = p.start_ctest(logs.path() / "ctest.log");
  service_info svc = running(p);
  ASSERT_NE(svc.pid, 0) << read_text(logs.path() / "ctest.log");
  kill(ctest, SIGKILL);
  detail::wait_child(ctest);
  EXPECT_TRUE(eventually([&] { return !detail::process_alive(svc.pid); }, 10s)) << "the engine is gone";
  EXPECT_TRUE(eventually([&] { return !detail::process_alive(svc.server.pid); }, 10s))
      << "the server is gone";
  EXPECT_TRUE(eventually([&] { return p.runs().empty(); }, 10s));
  EXPECT_FALSE(fs::exists(svc.server.folder));
  next_run_passes(p, logs.path());
}

TEST_F(Engine, AKilledEngineIsReportedByItsTestsAndReapedByTheNextRun) {
  project p;
  slow_suite(p);
  p.configure();
  test::temp_dir logs;
  pid_t ctest = p.start_ctest(logs.path() / "ctest.log", {"-R", "0002"});
  service_info svc = running(p);
  ASSERT_NE(svc.pid, 0) << read_text(logs.path() / "ctest.log");
  std::this_thread::sleep_for(1s);  // its tests wait for the slow migration
  kill(svc.pid, SIGKILL);
  EXPECT_EQ(detail::wait_child(ctest), 8) << read_text(logs.path() / "ctest.log");
  const std::string log = read_text(logs.path() / "ctest.log");
  EXPECT_NE(
      log.find("the suite's engine (pid " + std::to_string(svc.pid) + ") is gone before giving 0002.apply"),
      std::string::npos)
      << log;
  EXPECT_NE(log.find("the end of its log"), std::string::npos) << log;
  // Its server outlived it; the next run of the suite removes it.
  p.write("0002_slow.up.sql", "create table b (id int);\n");
  pid_t next = p.start_ctest(logs.path() / "next.log");
  EXPECT_EQ(detail::wait_child(next), 0) << read_text(logs.path() / "next.log");
  EXPECT_FALSE(detail::process_alive(svc.server.pid)) << "the killed engine's server is gone";
  EXPECT_TRUE(p.runs().empty());
}

// kill -9 of the postmaster in the middle of a migration: each test that had
// no verdict yet fails once, saying so with the server's log; its shared
// memory and folder go with the run, and the next run passes.
TEST_F(Engine, KillNineOfThePostmasterFailsEachTestOnceWithItsLog) {
  project p;
  slow_suite(p);
  p.configure();
  test::temp_dir logs;
  pid_t ctest = p.start_ctest(logs.path() / "ctest.log");
  service_info svc = running(p);
  ASSERT_NE(svc.pid, 0) << read_text(logs.path() / "ctest.log");
  std::this_thread::sleep_for(1s);  // the walk is in the slow migration
  // The System V segment the postmaster made (line 7 of postmaster.pid: key, id).
  std::istringstream pidfile(read_text(svc.server.folder / "data" / "postmaster.pid"));
  std::string line;
  for (int i = 0; i < 7; ++i) std::getline(pidfile, line);
  long key = 0;
  int shmid = -1;
  std::istringstream(line) >> key >> shmid;
  ASSERT_GE(shmid, 0) << line;
  kill(svc.server.pid, SIGKILL);
  EXPECT_EQ(detail::wait_child(ctest), 8) << read_text(logs.path() / "ctest.log");
  const std::string log = read_text(logs.path() / "ctest.log");
  // 0002.apply, 0002.roundtrip, 0002.lint (given once 0002 is applied) and reset had no verdict yet:
  // one message each.
  std::size_t said = 0;
  for (auto at = log.find("the server stopped (signal 9); the end of its log:"); at != std::string::npos;
       at = log.find("the server stopped (signal 9); the end of its log:", at + 1))
    ++said;
  EXPECT_EQ(said, 4u) << log;
  EXPECT_NE(log.find("note: pgmt was at migration \"0002_slow\""), std::string::npos) << log;
  EXPECT_NE(log.find("4 tests failed out of 9"), std::string::npos) << log;
  EXPECT_TRUE(eventually([&] { return !detail::process_alive(svc.pid); }, 10s)) << "the engine is gone";
  EXPECT_FALSE(fs::exists(svc.server.folder)) << "the server's folder is removed";
  shmid_ds ds{};
  EXPECT_NE(shmctl(shmid, IPC_STAT, &ds), 0) << "the server's shared memory is removed";
  p.write("0002_slow.up.sql", "create table b (id int);\n");
  pid_t next = p.start_ctest(logs.path() / "next.log");
  EXPECT_EQ(detail::wait_child(next), 0) << read_text(logs.path() / "next.log");
  EXPECT_TRUE(p.runs().empty());
}

// A test whose verdict is long in coming says where the walk is, so that one
// CTest ends at its TIMEOUT has said where it was.
TEST_F(Engine, AWaitingTestSaysWhereTheWalkIs) {
  project p;
  slow_suite(p);
  p.configure();
  test::temp_dir logs;
  test::scoped_env after("PGMT_PROGRESS_AFTER", "1");
  pid_t ctest = p.start_ctest(logs.path() / "ctest.log", {"--timeout", "4"});
  EXPECT_EQ(detail::wait_child(ctest), 8) << read_text(logs.path() / "ctest.log");
  const std::string log = read_text(logs.path() / "ctest.log");
  EXPECT_NE(log.find("pgmt: still waiting for the verdict of 0002.apply after 1 s; the walk is at migration "
                     "\"0002_slow\"; statement migrations/0002_slow.up.sql:1 (migration \"0002_slow\"), running "
                     "for "),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("Timeout"), std::string::npos) << log;
  EXPECT_TRUE(eventually([&] { return p.runs().empty(); }, 10s)) << "the cleanup test stopped the engine";
}

// A lock file in the migrations folder gives the suite a lock test, with no
// re-configure; an edit of a locked migration fails it.
TEST_F(Engine, ALockFileAddsTheLockTest) {
  project p;
  p.migration("0001_a", "create table a (id int);\n", "drop table a;\n");
  p.configure();
  auto locked = detail::run({PGMT_EXE, "lock", "--update", "--suite",
                             (p.build() / "pgmt_suites" / "app" / "suite.json").string()});
  ASSERT_EQ(locked.exit_code, 0) << locked.output;
  test::temp_dir logs;
  pid_t ctest = p.start_ctest(logs.path() / "ctest.log");
  EXPECT_EQ(detail::wait_child(ctest), 0) << read_text(logs.path() / "ctest.log");
  EXPECT_NE(read_text(logs.path() / "ctest.log").find("app.lock"), std::string::npos);
  p.write("0001_a.up.sql", "create table a (id bigint);\n");
  ctest = p.start_ctest(logs.path() / "edited.log", {"-R", "lock"});
  EXPECT_EQ(detail::wait_child(ctest), 8) << read_text(logs.path() / "edited.log");
  EXPECT_NE(read_text(logs.path() / "edited.log").find("migration \"0001_a\" changed after it was locked"),
            std::string::npos)
      << read_text(logs.path() / "edited.log");
}

// Lint under CTest: a test per migration with the label lint; LINT_ERRORS
// turns a warning rule into a failing one, LINT_MANIFEST reaches the tests.
TEST_F(Engine, LintTestsFollowTheSuitesLintOptions) {
  project p("LINT_ERRORS ban-drop-column manifest-unlisted-table LINT_MANIFEST manifest.json");
  p.write("../manifest.json", "{\"tables\": [\"a\"]}\n");
  p.migration("0001_a", "create table a (id int, note text);\n", "drop table a;\n");
  p.migration("0002_note", "alter table a drop column note;\n", "alter table a add column note text;\n");
  p.migration("0003_b", "create table b (id int);\n", "drop table b;\n");
  p.configure();
  test::temp_dir logs;
  pid_t ctest = p.start_ctest(logs.path() / "ctest.log", {"-L", "lint"});
  EXPECT_EQ(detail::wait_child(ctest), 8);
  const std::string log = read_text(logs.path() / "ctest.log");
  EXPECT_NE(log.find("2 tests failed out of 5"), std::string::npos) << log;  // 3 lint, the server's start and stop
  EXPECT_NE(log.find("0002_note.up.sql:1:27: ban-drop-column: drops \"note\" of \"a\""), std::string::npos)
      << log;
  EXPECT_NE(log.find("app.0002.lint (Failed)"), std::string::npos) << log;
  EXPECT_NE(log.find("0003_b.up.sql:1:14: manifest-unlisted-table: creates \"public.b\""), std::string::npos) << log;
  EXPECT_NE(log.find("app.0003.lint (Failed)"), std::string::npos) << log;
}

// A check that cannot run (a malformed assertion file) fails its own test
// with pgmt's error, as it would on its own; the walk goes on.
TEST_F(Engine, ACheckThatCannotRunFailsItsTestAndTheWalkGoesOn) {
  project p("RLS_DIR rls");
  p.migration("0001_a", "create table a (id int);\n", "drop table a;\n");
  p.migration("0002_b", "create table b (id int);\n", "drop table b;\n");
  p.write("../rls/0001.json", "{\"expect\": [\n");
  p.configure();
  test::temp_dir logs;
  pid_t ctest = p.start_ctest(logs.path() / "ctest.log");
  EXPECT_EQ(detail::wait_child(ctest), 8);
  const std::string log = read_text(logs.path() / "ctest.log");
  EXPECT_NE(log.find("pgmt: error: "), std::string::npos) << log;
  EXPECT_NE(log.find("0001.json"), std::string::npos) << log;
  // Only the tests that read the file failed: the walk went on to the others.
  EXPECT_NE(log.find("2 tests failed out of 11"), std::string::npos) << log;
  EXPECT_NE(log.find("app.0001.rls (Failed)"), std::string::npos) << log;
  EXPECT_NE(log.find("app.rls_coverage (Failed)"), std::string::npos) << log;
}

// A role created by one migration and dropped by its down, granted to by a
// later one: every order CTest may pick gives the same verdicts.
TEST_F(Engine, MigrationsSharingARolePassInAnyOrder) {
  project p;
  p.migration("0001_role",
              "do $$ begin if not exists (select from pg_roles where rolname = 'pgmt_test_reader') then "
              "create role pgmt_test_reader nologin; end if; end $$;\n",
              "drop role if exists pgmt_test_reader;\n");
  p.migration("0002_t", "create table t (id int);\ngrant select on t to pgmt_test_reader;\n",
              "drop table t;\n");
  p.migration("0003_u", "create table u (id int);\ngrant select on u to pgmt_test_reader;\n",
              "drop table u;\n");
  p.configure();
  test::temp_dir logs;
  for (int i = 0; i < 10; ++i) {
    const fs::path log = logs.path() / ("run" + std::to_string(i) + ".log");
    pid_t ctest = p.start_ctest(log, {"--schedule-random"});
    ASSERT_EQ(detail::wait_child(ctest), 0) << "run " << i << ":\n" << read_text(log);
  }
}

}  // namespace
}  // namespace pgmt
