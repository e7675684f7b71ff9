// PGMT_SERVER=container on this machine's engine, through ci/podman and an
// image built from the machine's own PostgreSQL (no registry is reachable).
// Where no engine works, every test here is skipped with the reason.
#include "pgmt/process.hpp"
#include "pgmt/server.hpp"
#include "pgmt/service.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <signal.h>
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
    auto img = detail::run({(source_dir / "ci/container-image").string(), e.engine});
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
