// The CMake function's argument errors: each bad call stops configure with a
// message that names the keyword.
#include "pgmt/process.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace {

namespace fs = std::filesystem;

struct configure_result {
  int exit_code;
  std::string output;
};

configure_result configure(const std::string& case_name) {
  fs::path build = fs::temp_directory_path() / ("pgmt-cmake-args-" + case_name);
  fs::remove_all(build);
  auto r = pgmt::detail::run(
      {PGMT_CMAKE_COMMAND, "-S", std::string(PGMT_SOURCE_DIR) + "/tests/cmake/bad_args", "-B", build.string(),
       "-DCASE=" + case_name, "-DPGMT_MODULE=" + std::string(PGMT_SOURCE_DIR) + "/cmake/Pgmt.cmake"});
  fs::remove_all(build);
  // CMake wraps its messages (where depends on the length of the paths in
  // them): each run of blanks, line breaks included, becomes one space.
  std::string flat;
  for (char c : r.output) {
    const bool blank = c == ' ' || c == '\n' || c == '\t';
    if (blank && !flat.empty() && flat.back() == ' ') continue;
    flat += blank ? ' ' : c;
  }
  return {r.exit_code, flat};
}

TEST(CMakeArgs, ValidCallConfigures) {
  auto r = configure("valid");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

struct bad_case {
  const char* name;
  const char* message;
};

// Test names show the case, not the bytes of the struct.
void PrintTo(const bad_case& c, std::ostream* os) { *os << c.name; }

class CMakeBadArgs : public ::testing::TestWithParam<bad_case> {};

TEST_P(CMakeBadArgs, FailsWithMessage) {
  auto r = configure(GetParam().name);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(GetParam().message), std::string::npos) << r.output;
}

INSTANTIATE_TEST_SUITE_P(
    All, CMakeBadArgs,
    ::testing::Values(bad_case{"unknown_keyword",
                               "pgmt_add_migration_tests(app): unknown arguments: COLOUR blue"},
                      bad_case{"empty_keyword", "keyword(s) given without a value: LABELS"},
                      bad_case{"missing_dir_keyword", "MIGRATIONS_DIR is required"},
                      bad_case{"dir_not_found", "no_such_folder\" is not a folder"},
                      bad_case{"bad_layout", "LAYOUT \"zigzag\" is not one of"},
                      bad_case{"bad_timeout", "LOCK_TIMEOUT \"soon\" is not a duration"},
                      bad_case{"odd_properties", "PROPERTIES takes name/value pairs"},
                      bad_case{"bad_suite_name", "suite name \"my app\" must be"},
                      bad_case{"duplicate_suite", "a suite named \"app\" is already registered"},
                      bad_case{"missing_seed", "SEEDS path"},
                      bad_case{"bad_server", "SERVER \"cloud\" is not one of"},
                      bad_case{"bad_profile", "PROFILE \"firebase\" is not one of: supabase"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
