// PGMT_SERVER=container on this machine's engine, through ci/podman and an
// image built from the machine's own PostgreSQL (no registry is reachable).
// Where no engine works, every test here is skipped with the reason.
#include "pgmt/pg.hpp"
#include "pgmt/process.hpp"
#include "pgmt/server.hpp"
#include "pgmt/service.hpp"
#include "pgmt/text.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;

namespace pgmt {
namespace {

const fs::path source_dir = fs::path(PGMT_TEST_DATA).parent_path().parent_path();

struct engine_setup {
  std::string engine;
  std::string image;
  std::string why_not;  ///< non-empty: no engine works here
};

// Once per process: does the engine answer, and the image it runs.
const engine_setup& setup() {
  static const engine_setup s = [] {
    engine_setup e;
    e.engine = (source_dir / "ci/podman").string();
    auto v = detail::run({"sh", "-c", "command -v podman >/dev/null && '" + e.engine + "' version"});
    if (v.exit_code != 0) {
      e.why_not = "no container engine works here (podman: " + v.output.substr(0, 300) + ")";
      return e;
    }
    // A tag of this script's own: a checkout with another version of it
    // (another branch's tests, at the same time) builds another image.
    std::ifstream script(source_dir / "ci/container-image", std::ios::binary);
    const std::string text{std::istreambuf_iterator<char>(script), {}};
    const std::string tag = "localhost/pgmt-test-postgres:" + sha256_hex(text).substr(0, 12);
    auto img = detail::run({(source_dir / "ci/container-image").string(), e.engine, tag});
    if (img.exit_code != 0) {
      e.why_not = "could not build the test image: " + img.output.substr(0, 500);
      return e;
    }
    std::string out = img.output;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    e.image = out.substr(out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1);
    return e;
  }();
  return s;
}

detail::run_result pgmt_in_container(std::vector<std::string> args, std::vector<std::string> env = {}) {
  std::vector<std::string> argv = {"env", "PGMT_SERVER=container", "PGMT_CONTAINER_CLI=" + setup().engine,
                                   "PGMT_IMAGE=" + setup().image, "PGMT_CONTAINER_NETWORK=socket"};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.push_back(PGMT_EXE);
  argv.insert(argv.end(), args.begin(), args.end());
  return detail::run(argv);
}

// Containers whose pgmt.owner label names this process.
int containers_of(pid_t owner) {
  auto r = detail::run({setup().engine, "ps", "-a", "--filter", "label=pgmt.owner", "--format",
                        "{{index .Labels \"pgmt.owner\"}}"});
  int n = 0;
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);) n += line.rfind(std::to_string(owner) + ":", 0) == 0;
  return n;
}

int containers_labelled(const std::string& label, const std::string& image) {
  auto r = detail::run(
      {setup().engine, "ps", "-aq", "--filter", "label=" + label, "--filter", "ancestor=" + image});
  int n = 0;
  for (char ch : r.output) n += ch == '\n';
  return n;
}

class ContainerServer : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!setup().why_not.empty()) GTEST_SKIP() << setup().why_not;
  }
};

std::string contents(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string without_newline(std::string s) {
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// A published port (PGMT_CONTAINER_NETWORK=port): ci/podman publishes it
// through slirp4netns (ci/containers.conf), not a bridge on the host.
class ContainerPort : public ContainerServer {
 protected:
  void SetUp() override {
    ContainerServer::SetUp();
    if (IsSkipped()) return;
    if (detail::run({"sh", "-c", "command -v slirp4netns"}).exit_code != 0)
      GTEST_SKIP()
          << "ci/podman publishes ports through slirp4netns, which is not installed (ci/setup installs it)";
  }

  // The engine command, through a script that records each call's arguments
  // in spy/argv and, of --env-file, the file's mode (spy/env-mode) and a copy
  // (spy/env), then runs ci/podman.
  std::string spying_engine() {
    const fs::path engine = spy.write("engine", R"(#!/bin/sh
spy=$(dirname "$0")
printf '%s\n' "$*" >> "$spy/argv"
prev=
for a; do
  if [ "$prev" = --env-file ]; then stat -c %a "$a" > "$spy/env-mode"; cp "$a" "$spy/env"; fi
  prev=$a
done
exec ')" + setup().engine + "' \"$@\"\n");
    fs::permissions(engine, fs::perms::owner_all);
    return engine.string();
  }

  // The password the last container was given, from the spy's copy.
  std::string given_password() {
    std::istringstream in(contents(spy.path() / "env"));
    for (std::string line; std::getline(in, line);)
      if (line.rfind("POSTGRES_PASSWORD=", 0) == 0) return line.substr(18);
    return "";
  }

  // The --env-file the spy saw first.
  fs::path env_file_seen() {
    std::istringstream in(contents(spy.path() / "argv"));
    for (std::string line; std::getline(in, line);) {
      auto at = line.find("--env-file ");
      if (at != std::string::npos) return line.substr(at + 11, line.find(' ', at + 11) - at - 11);
    }
    return {};
  }

  detail::run_result pgmt_on_port(std::vector<std::string> args) {
    return pgmt_in_container(std::move(args),
                             {"PGMT_CONTAINER_NETWORK=port", "PGMT_CONTAINER_CLI=" + spying_engine()});
  }

  test::temp_dir spy;
};

// Every file under root whose text holds needle.
std::vector<fs::path> files_holding(const fs::path& root, const std::string& needle) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; it != end; it.increment(ec))
    if (it->is_regular_file(ec) && contents(it->path()).find(needle) != std::string::npos)
      out.push_back(it->path());
  return out;
}

TEST_F(ContainerPort, ARunOnAPublishedPortPasses) {
  auto r = pgmt_on_port({"test", "--migrations", (fs::path(PGMT_TEST_DATA) / "rt_exact").string()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("(container)"), std::string::npos) << r.output;
  // The password came in a file only its owner can read; the command line,
  // which ps shows to every user, names only the file.
  EXPECT_EQ(without_newline(contents(spy.path() / "env-mode")), "600");
  const std::string password = given_password();
  ASSERT_EQ(password.size(), 32u) << contents(spy.path() / "env");
  const std::string argv = contents(spy.path() / "argv");
  EXPECT_NE(argv.find("-p 127.0.0.1::5432"), std::string::npos) << argv;
  EXPECT_EQ(argv.find(password), std::string::npos) << "the password was on a command line:\n" << argv;
  EXPECT_EQ(r.output.find(password), std::string::npos) << "the password was printed:\n" << r.output;
  // The run's folder went with the run, the file with it.
  const fs::path env = env_file_seen();
  ASSERT_FALSE(env.empty()) << argv;
  EXPECT_FALSE(fs::exists(env.parent_path())) << env.parent_path();
}

// Any local user reaches 127.0.0.1: without the run's password, or with a
// wrong one, the server refuses them, and the password is kept only in the
// run's 0600 state file.
TEST_F(ContainerPort, APublishedPortNeedsTheRunsPassword) {
  test::temp_dir dir;
  const fs::path state = dir.path() / "s.json";
  auto r = pgmt_on_port({"server", "start", "--state", state.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  service_info svc = find_service(state);
  // Stopped at the end, or here when an assertion ends the test early.
  struct at_end {
    std::vector<std::string> argv;
    bool done = false;
    detail::run_result stop() {
      done = true;
      return detail::run(argv);
    }
    ~at_end() {
      if (!done) stop();
    }
  } stopper{
      {"env", "PGMT_CONTAINER_CLI=" + setup().engine, PGMT_EXE, "server", "stop", "--state", state.string()}};
  const server_info& info = svc.server;
  EXPECT_EQ(info.host, "127.0.0.1");
  ASSERT_EQ(info.password.size(), 32u);
  EXPECT_EQ(info.password, given_password());

  connection c(info.conninfo());
  EXPECT_EQ(c.exec("show listen_addresses").value(0, 0), "*");
  EXPECT_EQ(c.exec("select rolpassword like 'SCRAM-SHA-256$%' from pg_authid where rolname = current_user")
                .value(0, 0),
            "t");
  // initdb's own 127.0.0.1 and ::1 lines included: a rootless engine's port
  // forwarding connects from 127.0.0.1.
  EXPECT_EQ(c.exec("select string_agg(line_number || ': ' || auth_method, ', ') from pg_hba_file_rules "
                   "where type like 'host%' and auth_method <> 'scram-sha-256'")
                .value(0, 0),
            "");

  // Another local user, without the password.
  auto other = test::psql_without_password(info);
  EXPECT_NE(other.exit_code, 0) << other.output;
  EXPECT_NE(other.output.find("no password supplied"), std::string::npos) << other.output;
  // With a wrong one, told so without seeing it.
  server_info wrong = info;
  wrong.password = "not-the-password-" + info.password.substr(0, 4);
  try {
    connection bad(wrong.conninfo());
    ADD_FAILURE() << "connected with a wrong password";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("password authentication failed for user \"" + std::string(own_role) + "\""),
              std::string::npos)
        << e.what();
    EXPECT_EQ(std::string(e.what()).find(wrong.password), std::string::npos) << e.what();
  }

  // Kept in the run's state file (0600) and nowhere else: not in the server's
  // folder (meta.json, readable by others), the engine's log, the output.
  struct stat st {};
  ASSERT_EQ(stat(svc.file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(contents(svc.file).find(info.password), std::string::npos);
  EXPECT_FALSE(fs::exists(info.folder / "container.env"));
  std::vector<fs::path> holding = files_holding(dir.path(), info.password);
  for (const auto& f : files_holding(info.folder, info.password)) holding.push_back(f);
  EXPECT_EQ(holding, std::vector<fs::path>{svc.file});
  EXPECT_EQ(r.output.find(info.password), std::string::npos) << r.output;
  EXPECT_EQ(contents(spy.path() / "argv").find(info.password), std::string::npos);
  // Nor in any process's arguments (the container's server included).
  EXPECT_EQ(detail::run({"sh", "-c", "cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '"})
                .output.find(info.password),
            std::string::npos);
  auto stop = stopper.stop();
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
  EXPECT_EQ(stop.output.find(info.password), std::string::npos) << stop.output;
  EXPECT_EQ(containers_of(svc.pid), 0);
  EXPECT_FALSE(fs::exists(info.folder));
}

// The image starts as the official one does: no password and no trust is no start.
TEST_F(ContainerServer, TheImageRefusesToStartWithoutAPassword) {
  auto r = detail::run(
      {setup().engine, "run", "--rm", "--network=none", "--label", "pgmt.test=no-password", setup().image});
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("superuser password is not specified"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("POSTGRES_HOST_AUTH_METHOD=trust"), std::string::npos) << r.output;
}

TEST_F(ContainerServer, TheExamplePassesAsOnATempCluster) {
  std::vector<std::string> args = {"test",
                                   "--migrations",
                                   (source_dir / "migrations").string(),
                                   "--seed",
                                   (source_dir / "seed/seed.sql").string(),
                                   "--data",
                                   (source_dir / "seed/roundtrip").string(),
                                   "--snapshot",
                                   (source_dir / "schema.snapshot.json").string(),
                                   "--rls",
                                   (source_dir / "rls").string(),
                                   "--pgtap",
                                   (source_dir / "pgtap").string(),
                                   "--name",
                                   "example"};
  auto r = pgmt_in_container(args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("on PostgreSQL " + test::shared_server().version + " (container)"),
            std::string::npos)
      << r.output;
  // The same checks pass on the temp cluster.
  std::vector<std::string> temp = {"env", "PGMT_SERVER=temp", PGMT_EXE};
  temp.insert(temp.end(), args.begin(), args.end());
  auto t = detail::run(temp);
  EXPECT_EQ(t.exit_code, 0) << t.output;
  auto tally = [](const std::string& out) { return out.substr(out.rfind("passed") - 4); };
  EXPECT_EQ(tally(r.output), tally(t.output));
}

TEST_F(ContainerServer, AKilledRunsContainerIsRemovedByTheNextRun) {
  test::temp_dir dir;
  // A stand-in for a CTest process.
  pid_t owner = fork();
  if (owner == 0) {
    pause();
    _exit(0);
  }
  struct reaper {
    pid_t pid;
    ~reaper() {
      kill(pid, SIGKILL);
      detail::wait_child(pid);
    }
  } reap_owner{owner};
  const fs::path a = dir.path() / "a.json";
  auto r = pgmt_in_container({"server", "start", "--state", a.string(), "--owner", std::to_string(owner)});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The run's engine owns the container; it is killed, and cannot stop it.
  service_info svc = find_service(a);
  ASSERT_NE(svc.pid, 0);
  EXPECT_EQ(containers_of(svc.pid), 1);
  kill(svc.pid, SIGKILL);
  for (int i = 0; i < 100 && detail::process_alive(svc.pid); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(containers_of(svc.pid), 1);
  // The next run starts its own server and removes the orphan.
  auto next = pgmt_in_container({"server", "start", "--state", (dir.path() / "b.json").string()});
  ASSERT_EQ(next.exit_code, 0) << next.output;
  EXPECT_EQ(containers_of(svc.pid), 0);
  EXPECT_FALSE(fs::exists(svc.server.folder)) << "the killed run's folder is still there";
  pgmt_in_container({"server", "stop", "--state", (dir.path() / "b.json").string()});
}

// The container is killed in the middle of a migration: every check without
// a verdict fails once, saying so with the container's log; nothing is left
// and the next run passes.
TEST_F(ContainerServer, AKilledContainerIsReportedAndTheNextRunPasses) {
  test::temp_dir dir;
  dir.write("m/0001_slow.sql", "select pg_sleep(60);\n");
  const fs::path out = dir.path() / "out.log";
  detail::spawn_options o;
  o.output = out;
  pid_t pgmt = detail::spawn({"env", "PGMT_SERVER=container", "PGMT_CONTAINER_CLI=" + setup().engine,
                              "PGMT_IMAGE=" + setup().image, "PGMT_CONTAINER_NETWORK=socket", PGMT_EXE, "test",
                              "--migrations", (dir.path() / "m").string(), "--statement-timeout", "2min"},
                             o);
  // Its container, once the migration runs.
  std::string id;
  for (int i = 0; i < 600 && id.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (contents(out).find("on PostgreSQL") == std::string::npos) continue;
    auto r = detail::run({setup().engine, "ps", "-q", "--filter", "label=pgmt.owner", "--format",
                          "{{.ID}} {{index .Labels \"pgmt.owner\"}}"});
    std::istringstream in(r.output);
    for (std::string line; std::getline(in, line);)
      if (line.find(" " + std::to_string(pgmt) + ":") != std::string::npos) id = line.substr(0, line.find(' '));
  }
  ASSERT_FALSE(id.empty()) << contents(out);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto k = detail::run({setup().engine, "kill", id});
  ASSERT_EQ(k.exit_code, 0) << k.output;
  EXPECT_EQ(detail::wait_child(pgmt), 1) << contents(out);
  const std::string said = contents(out);
  EXPECT_NE(said.find("the server's container " + id.substr(0, 12) + " stopped (exit code"), std::string::npos)
      << said;
  EXPECT_NE(said.find("FAIL suite.0001.apply: 1 finding (the server stopped)"), std::string::npos) << said;
  EXPECT_NE(said.find("FAIL suite.reset: 1 finding (the server stopped)"), std::string::npos) << said;
  EXPECT_EQ(containers_of(pgmt), 0) << "the killed container is removed";
  auto next = pgmt_in_container({"test", "--migrations", (fs::path(PGMT_TEST_DATA) / "rt_exact").string()});
  EXPECT_EQ(next.exit_code, 0) << next.output;
}

TEST_F(ContainerServer, AMissingImageSaysWhatToDo) {
  auto r = pgmt_in_container({"test", "--migrations", (fs::path(PGMT_TEST_DATA) / "bad_sql").string()},
                             {"PGMT_IMAGE=localhost/pgmt-no-such-image:1"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("the image \"localhost/pgmt-no-such-image:1\" is not available"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("ci/container-image"), std::string::npos) << r.output;
}

TEST_F(ContainerServer, AContainerThatNeverGetsReadyShowsItsLog) {
  const std::string broken = "localhost/pgmt-broken:1";
  detail::run({setup().engine, "rm", "-f", "pgmt-test-broken"});
  auto c = detail::run({setup().engine, "create", "--name", "pgmt-test-broken", setup().image});
  ASSERT_EQ(c.exit_code, 0) << c.output;
  auto commit = detail::run({setup().engine, "commit", "--change",
                             "ENTRYPOINT [\"/bin/sh\", \"-c\", \"echo the disk is full >&2; exit 3\"]",
                             "pgmt-test-broken", broken});
  detail::run({setup().engine, "rm", "-f", "pgmt-test-broken"});
  ASSERT_EQ(commit.exit_code, 0) << commit.output;
  auto r = pgmt_in_container({"test", "--migrations", (fs::path(PGMT_TEST_DATA) / "bad_sql").string()},
                             {"PGMT_IMAGE=" + broken, "PGMT_START_TIMEOUT=20"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("stopped before it was ready; the container's log:\nthe disk is full"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(containers_labelled("pgmt.owner", broken), 0) << "the failed container was left behind";
  detail::run({setup().engine, "rmi", "-f", broken});
}

// Needs no engine: it is about not having one.
TEST(ContainerEngine, NoEngineIsAClearError) {
  PGMT_REQUIRE_POSTGRES();
  auto r = pgmt_in_container({"test", "--migrations", (fs::path(PGMT_TEST_DATA) / "bad_sql").string()},
                             {"PGMT_CONTAINER_CLI=/nonexistent/docker"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("the container engine \"/nonexistent/docker\""), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("install podman or docker"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace pgmt

namespace pgmt {
namespace {

// What a suite's SERVER container and POSTGRES_IMAGE pass to `pgmt server start`.
TEST_F(ContainerServer, TheSuitesServerAndImageOptions) {
  test::temp_dir dir;
  const std::string state = (dir.path() / "s.json").string();
  auto r = detail::run({"env", "-u", "PGMT_SERVER", "-u", "PGMT_IMAGE", "PGMT_CONTAINER_NETWORK=socket",
                        "PGMT_CONTAINER_CLI=" + setup().engine, PGMT_EXE, "server", "start", "--state", state,
                        "--server", "container", "--image", setup().image});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("(container)"), std::string::npos) << r.output;
  auto stop = detail::run(
      {"env", "PGMT_CONTAINER_CLI=" + setup().engine, PGMT_EXE, "server", "stop", "--state", state});
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
}

}  // namespace
}  // namespace pgmt

namespace pgmt {
namespace {

// auto: a temp cluster where the server binaries are, else a container.
TEST_F(ContainerServer, AutoFallsBackToAContainerWithoutServerBinaries) {
  test::temp_dir dir;
  const std::string state = (dir.path() / "s.json").string();
  auto r = detail::run({"env", "PGMT_SERVER=auto", "PGMT_PG_BINDIR=" + (dir.path() / "none").string(),
                        "PGMT_CONTAINER_CLI=" + setup().engine, "PGMT_IMAGE=" + setup().image,
                        "PGMT_CONTAINER_NETWORK=socket", PGMT_EXE, "server", "start", "--state", state});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("(container)"), std::string::npos) << r.output;
  detail::run({"env", "PGMT_CONTAINER_CLI=" + setup().engine, PGMT_EXE, "server", "stop", "--state", state});
}

TEST(ServerAuto, WithNeitherBinariesNorAnEngineListsTheWays) {
  PGMT_REQUIRE_POSTGRES();
  test::temp_dir dir;
  auto r = detail::run({"env", "PGMT_SERVER=auto", "PGMT_PG_BINDIR=" + (dir.path() / "none").string(),
                        "PGMT_CONTAINER_CLI=/nonexistent/podman", PGMT_EXE, "test", "--migrations",
                        (fs::path(PGMT_TEST_DATA) / "bad_sql").string()});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  for (const char* way : {"apt-get install postgresql", "install podman or docker", "PGMT_SERVER=external"})
    EXPECT_NE(r.output.find(way), std::string::npos) << way << "\n" << r.output;
}

}  // namespace
}  // namespace pgmt
