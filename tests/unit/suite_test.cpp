#include "pgmt/suite.hpp"

#include "pgmt/text.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace pgmt {
namespace {

namespace fs = std::filesystem;

class SuiteFile : public ::testing::Test {
 protected:
  fs::path dir_ =
      fs::temp_directory_path() /
      ("pgmt-suite-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
  void SetUp() override { fs::create_directories(dir_); }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& text) {
    std::ofstream(dir_ / "suite.json") << text;
    return dir_ / "suite.json";
  }
};

TEST_F(SuiteFile, ReadsEveryKeyAndResolvesPaths) {
  auto f = write(R"({"name": "app", "migrations_dir": "m", "layout": "paired", "fixtures": ["f.sql"],
                    "seeds": ["/abs/seed.sql"], "statement_timeout": "2s", "lock_timeout": "250ms"})");
  suite s = suite::from_file(f);
  EXPECT_EQ(s.name, "app");
  EXPECT_EQ(s.migrations_dir, dir_ / "m");
  EXPECT_EQ(s.forced_layout, layout::paired);
  ASSERT_EQ(s.fixtures.size(), 1u);
  EXPECT_EQ(s.fixtures[0], dir_ / "f.sql");
  EXPECT_EQ(s.seeds[0], fs::path("/abs/seed.sql"));
  EXPECT_EQ(s.statement_timeout.count(), 2000);
  EXPECT_EQ(s.lock_timeout.count(), 250);
}

TEST_F(SuiteFile, MissingMigrationsDirIsAnError) {
  auto f = write(R"({"name": "app"})");
  try {
    suite::from_file(f);
    FAIL();
  } catch (const input_error& e) {
    EXPECT_NE(std::string(e.what()).find("migrations_dir"), std::string::npos) << e.what();
  }
}

TEST_F(SuiteFile, BrokenJsonNamesTheFile) {
  auto f = write("{not json");
  try {
    suite::from_file(f);
    FAIL();
  } catch (const input_error& e) {
    EXPECT_NE(std::string(e.what()).find("suite.json: not valid JSON"), std::string::npos) << e.what();
  }
}

TEST_F(SuiteFile, BadDurationAndLayoutAreErrors) {
  EXPECT_THROW(suite::from_file(write(R"({"migrations_dir": "m", "lock_timeout": "soon"})")), input_error);
  EXPECT_THROW(suite::from_file(write(R"({"migrations_dir": "m", "layout": "zigzag"})")), input_error);
}

TEST_F(SuiteFile, SourcesExpandFoldersInByteOrder) {
  fs::create_directories(dir_ / "fx");
  std::ofstream(dir_ / "fx" / "b.sql") << "select 2;";
  std::ofstream(dir_ / "fx" / "a.sql") << "select 1;";
  std::ofstream(dir_ / "fx" / "notes.txt") << "ignored";
  auto sources = load_sources({dir_ / "fx"}, "fixture");
  ASSERT_EQ(sources.size(), 2u);
  EXPECT_EQ(sources[0].path.filename(), "a.sql");
  EXPECT_EQ(sources[1].text, "select 2;");
  EXPECT_THROW(load_sources({dir_ / "nope.sql"}, "seed"), input_error);
}

}  // namespace
}  // namespace pgmt
