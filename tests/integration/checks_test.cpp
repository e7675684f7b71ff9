// The apply and reset checks on real servers.
#include "pgmt/checks.hpp"

#include "pgmt/pg.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

namespace pgmt {
namespace {

class Checks : public ::testing::Test {
 protected:
  void SetUp() override { PGMT_REQUIRE_POSTGRES(); }
};

suite example_suite() {
  suite s;
  s.name = "example";
  std::filesystem::path root = std::filesystem::path(PGMT_TEST_DATA).parent_path().parent_path();
  s.migrations_dir = root / "migrations";
  s.seeds = {root / "seed" / "seed.sql"};
  s.data_dir = root / "seed" / "roundtrip";
  s.snapshot_file = root / "schema.snapshot.json";
  return s;
}

TEST_F(Checks, ExampleSuitePassesEveryCheck) {
  auto s = example_suite();
  state_cache cache(test::shared_server(), s, s.discover_migrations());
  std::size_t roundtrips = 0;
  for (std::size_t i = 0; i < cache.migrations().migrations.size(); ++i) {
    for (const auto& kind : checks_for(s, cache.migrations(), i)) {
      auto r = kind == "apply"       ? check_apply(cache, i)
               : kind == "roundtrip" ? check_roundtrip(cache, i)
                                     : check_idempotency(cache, i);
      roundtrips += kind == "roundtrip";
      EXPECT_TRUE(r.passed()) << cache.migrations().migrations[i].id() << " " << kind << ": "
                              << (r.findings.empty() ? r.note : r.findings[0]);
    }
  }
  EXPECT_EQ(roundtrips, cache.migrations().migrations.size()) << "every example migration has a down script";
  auto drift = check_drift(cache);
  EXPECT_TRUE(drift.passed()) << (drift.findings.empty() ? drift.note : drift.findings[0]);
  auto r = check_reset(cache);
  EXPECT_TRUE(r.passed()) << (r.findings.empty() ? r.note : r.findings[0]);
  EXPECT_NE(r.note.find("1 seed file(s)"), std::string::npos) << r.note;
}

TEST_F(Checks, ApplyKeepsWhatItBuiltAsTheNextState) {
  auto s = test::data_suite("layouts/folders");
  s.name = "adopt";
  // A fixture makes the state keys unique to this test.
  test::temp_dir dir;
  s.fixtures = {dir.write("fx.sql", "select 'adopt-test';\n")};
  state_cache cache(test::shared_server(), s, s.discover_migrations());
  ASSERT_TRUE(check_apply(cache, 0).passed());
  connection maint(test::shared_server().conninfo());
  EXPECT_EQ(maint
                .exec_params("select count(*) from pg_database where datname = $1 and datistemplate",
                             {cache.template_name(1)})
                .value(0, 0),
            "1");
}

TEST_F(Checks, ApplyFailureIsOneFindingAtTheLine) {
  auto s = test::data_suite("bad_sql");
  state_cache cache(test::shared_server(), s, s.discover_migrations());
  EXPECT_TRUE(check_apply(cache, 0).passed());
  auto r = check_apply(cache, 1);
  ASSERT_EQ(r.outcome, check_result::status::failed);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_NE(r.findings[0].find(
                "bad_sql/0002_books.sql:6:24: relation \"public.isbns\" does not exist (SQLSTATE 42P01)"),
            std::string::npos)
      << r.findings[0];
}

TEST_F(Checks, ApplyAfterABrokenMigrationIsSkippedWithTheReason) {
  test::temp_dir dir;
  dir.write("0001_broken.sql", "create table a (id nosuchtype);\n");
  dir.write("0002_fine.sql", "create table b (id int);\n");
  suite s;
  s.migrations_dir = dir.path();
  state_cache cache(test::shared_server(), s, s.discover_migrations());
  auto r = check_apply(cache, 1);
  EXPECT_EQ(r.outcome, check_result::status::skipped);
  EXPECT_NE(r.note.find("0001_broken fails"), std::string::npos) << r.note;
}

TEST_F(Checks, ResetReportsABrokenSeedAtItsLine) {
  test::temp_dir dir;
  auto s = test::data_suite("layouts/flat");
  s.seeds = {dir.write("seed.sql",
                       "insert into public.users values (1, 'a@x.test');\ninsert into public.users values "
                       "(1, 'b@x.test');\n")};
  state_cache cache(test::shared_server(), s, s.discover_migrations());
  auto r = check_reset(cache);
  ASSERT_EQ(r.outcome, check_result::status::failed);
  EXPECT_NE(
      r.findings.at(0).find(
          "seed.sql:2:1: duplicate key value violates unique constraint \"users_pkey\" (SQLSTATE 23505)"),
      std::string::npos)
      << r.findings[0];
}

TEST_F(Checks, ResetStartsFromNothing) {
  auto s = test::data_suite("enum_add_value");
  state_cache cache(test::shared_server(), s, s.discover_migrations());
  auto r = check_reset(cache);
  EXPECT_TRUE(r.passed()) << (r.findings.empty() ? r.note : r.findings[0]);
  EXPECT_NE(r.note.find("3 migrations"), std::string::npos);
}

}  // namespace
}  // namespace pgmt
