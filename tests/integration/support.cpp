#include "support.hpp"

#include "pgmt/text.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <mutex>

namespace fs = std::filesystem;

namespace pgmt::test {

namespace {

std::unique_ptr<server>& server_slot() {
  static std::unique_ptr<server> s;
  return s;
}

class server_environment : public ::testing::Environment {
 public:
  void TearDown() override {
    if (server_slot()) server_slot()->stop(false);
    server_slot().reset();
  }
};

}  // namespace

const std::string& no_postgres_reason() {
  static const std::string reason = [] {
    try {
      find_pg_bindir(server_options::from_environment().bindir);
      return std::string();
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
  }();
  return reason;
}

const server_info& shared_server() {
  static std::mutex m;
  std::lock_guard lock(m);
  if (!server_slot()) server_slot() = start_server(server_options::from_environment());
  return server_slot()->info();
}

std::string fresh_database(const std::string& purpose) {
  static int counter = 0;
  std::string name = "t_" + purpose + "_" + std::to_string(++counter);
  connection c(shared_server().conninfo());
  c.exec("drop database if exists " + c.quote_ident(name));
  c.exec("create database " + c.quote_ident(name) + " template template0");
  return name;
}

fs::path data_dir() { return PGMT_TEST_DATA; }

suite data_suite(const std::string& name) {
  suite s;
  s.name = name;
  s.migrations_dir = data_dir() / name;
  // Diff files go to a folder of the test process's own, removed as it ends.
  static const temp_dir output;
  s.output_dir = output.path();
  return s;
}

temp_dir::temp_dir() {
  std::string tmpl = (fs::temp_directory_path() / "pgmt-it-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

fs::path temp_dir::write(const std::string& rel, const std::string& text) const {
  fs::create_directories((path_ / rel).parent_path());
  std::ofstream(path_ / rel, std::ios::binary) << text;
  return path_ / rel;
}

detail::run_result psql_without_password(const server_info& info) {
  std::vector<std::string> argv = {"env", "-u", "PGPASSWORD", "PGPASSFILE=/nonexistent", "psql", "-X", "-w", "-h",
                                   "127.0.0.1", "-p", std::to_string(info.port), "-U", info.user, "-d", "postgres",
                                   "-c", "select 1"};
  if (geteuid() == 0)
    argv.insert(argv.begin(), {"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"});
  return detail::run(argv);
}

}  // namespace pgmt::test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  pgmt::install_signal_cleanup();
  ::testing::AddGlobalTestEnvironment(new pgmt::test::server_environment);
  return RUN_ALL_TESTS();
}
