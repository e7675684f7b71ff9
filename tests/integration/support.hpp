#pragma once
// Shared helpers for integration tests: one real temp cluster per test
// process, started on first use and stopped at exit.

#include "pgmt/pg.hpp"
#include "pgmt/process.hpp"
#include "pgmt/server.hpp"
#include "pgmt/suite.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

namespace pgmt::test {

/// Why no server can be started here, or "" when one can.
const std::string& no_postgres_reason();

/// The process's shared server (started on first call).
const server_info& shared_server();

/// A new empty database on the shared server; dropped at process exit with the server.
std::string fresh_database(const std::string& purpose);

/// A suite over tests/data/<name>.
suite data_suite(const std::string& name);

/// The folder of tests/data.
std::filesystem::path data_dir();

/// psql to info's TCP port as another local user (nobody, when this process is
/// root) and without any password: what a stranger on the machine gets.
detail::run_result psql_without_password(const server_info& info);

/// A temporary folder removed when the object goes.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  /// Writes text to path()/rel, creating folders.
  std::filesystem::path write(const std::string& rel, const std::string& text) const;

 private:
  std::filesystem::path path_;
};

/// Sets an environment variable for the life of the object, then restores it.
class scoped_env {
 public:
  scoped_env(const char* name, const char* value) : name_(name) {
    if (const char* was = std::getenv(name)) was_ = was;
    setenv(name, value, 1);
  }
  ~scoped_env() {
    if (was_)
      setenv(name_, was_->c_str(), 1);
    else
      unsetenv(name_);
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  const char* name_;
  std::optional<std::string> was_;
};

}  // namespace pgmt::test

/// Skips the test (exit 77 under CTest) when no PostgreSQL server binaries exist.
#define PGMT_REQUIRE_POSTGRES()                                                     \
  do {                                                                              \
    if (!::pgmt::test::no_postgres_reason().empty())                                \
      GTEST_SKIP() << "no PostgreSQL here: " << ::pgmt::test::no_postgres_reason(); \
  } while (0)
