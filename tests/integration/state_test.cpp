// Template databases per state: built once, cloned, safe in parallel.
#include "pgmt/state.hpp"

#include "pgmt/pg.hpp"
#include "pgmt/script.hpp"
#include "pgmt/snapshot.hpp"
#include "pgmt/text.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <map>
#include <thread>

namespace pgmt {
namespace {

std::map<std::string, std::string> template_oids(connection& c, const state_cache& cache, std::size_t upto) {
  std::map<std::string, std::string> out;
  for (std::size_t k = 0; k <= upto; ++k) {
    auto r =
        c.exec_params("select oid::text, datallowconn from pg_database where datname = $1 and datistemplate",
                      {cache.template_name(k)});
    if (r.rows() == 1) {
      EXPECT_EQ(r.value(0, 1), "f") << "templates take no connections";
      out[cache.template_name(k)] = r.value(0, 0);
    }
  }
  return out;
}

class State : public ::testing::Test {
 protected:
  void SetUp() override { PGMT_REQUIRE_POSTGRES(); }
};

// S(k) is built from the highest state below it, without the states in
// between (each would be a copy of the whole schema that no test may need).
TEST_F(State, EachStateIsBuiltOnceAndReused) {
  auto s = test::data_suite("layouts/paired");
  test::temp_dir dir;
  s.fixtures = {dir.write("fx.sql", "select 'built-once-test';\n")};  // keys of this test's own
  state_cache cache(test::shared_server(), s, s.discover_migrations());
  cache.ensure(2);
  connection maint(test::shared_server().conninfo());
  auto first = template_oids(maint, cache, 2);
  ASSERT_EQ(first.size(), 2u) << "S(0) and S(2)";
  EXPECT_TRUE(first.count(cache.template_name(0)));
  EXPECT_TRUE(first.count(cache.template_name(2)));
  state_cache again(test::shared_server(), s, s.discover_migrations());
  again.ensure(2);
  again.ensure(1);
  auto second = template_oids(maint, again, 2);
  EXPECT_EQ(second.size(), 3u) << "S(1) built from S(0) when asked for";
  for (const auto& [name, oid] : first) EXPECT_EQ(second[name], oid) << "a second run reuses " << name;
  std::string db = again.clone(1, "built");
  {
    connection c(test::shared_server().conninfo(db));
    EXPECT_EQ(c.exec("select string_agg(version, ',' order by version) from pgmt.migrations").value(0, 0),
              "0001");
  }
  again.drop(db);
}

TEST_F(State, CloneHoldsExactlyTheFirstKMigrations) {
  auto s = test::data_suite("layouts/split");
  state_cache cache(test::shared_server(), s, s.discover_migrations());
  std::string db = cache.clone(1, "test");
  {
    connection c(test::shared_server().conninfo(db));
    EXPECT_EQ(c.exec("select to_regclass('public.users') is not null, to_regclass('public.posts') is null")
                  .value(0, 0),
              "t");
    EXPECT_EQ(c.exec("select count(*) from pgmt.migrations").value(0, 0), "1");
  }
  cache.drop(db);
  connection maint(test::shared_server().conninfo());
  EXPECT_EQ(maint.exec_params("select count(*) from pg_database where datname = $1", {db}).value(0, 0), "0");
}

// Each state stores its own catalog, so a check on a clone reads nothing to
// know where it starts, and what it is given is exactly what a full read sees.
TEST_F(State, AStateStoresItsOwnCatalog) {
  auto s = test::data_suite("layouts/split");
  state_cache cache(test::shared_server(), s, s.discover_migrations());
  for (std::size_t k = 1; k <= 2; ++k) {
    std::string db = cache.clone(k, "stored");
    {
      connection c(test::shared_server().conninfo(db));
      catalog_reader reader(c);
      const catalog& stored = reader.read();
      EXPECT_EQ(reader.objects_read(), 0u) << "S(" << k << "): every object comes from the stored catalog";
      EXPECT_EQ(snapshot_text(stored.snapshot()), snapshot_text(take_snapshot(c))) << "S(" << k << ")";
      EXPECT_TRUE(stored.objects.at("tables").count(k == 1 ? "public.users" : "public.posts"))
          << "S(" << k << ")";
    }
    cache.drop(db);
  }
}

// A reader told of every script skips the catalog after scripts that change
// only data, and still sees every change a script makes to it.
TEST_F(State, ATrustedReaderFollowsTheScriptsItIsTold) {
  auto s = test::data_suite("layouts/split");
  state_cache cache(test::shared_server(), s, s.discover_migrations());
  std::string db = cache.clone(2, "trusted");
  {
    connection c(test::shared_server().conninfo(db));
    catalog_reader reader(c);
    reader.trust_reports();
    const catalog start = reader.read();
    sql_source data;
    data.path = "data.sql";
    data.text = "insert into public.users (id, email) values (41, 'a@x.test'), (42, 'b@x.test')";
    run_stats stats = run_script(c, data, {});
    ASSERT_TRUE(stats.catalogs.has_value());
    EXPECT_TRUE(stats.catalogs->empty());
    reader.wrote(stats);
    EXPECT_EQ(snapshot_text(reader.read().snapshot()), snapshot_text(start.snapshot()));
    EXPECT_EQ(reader.counts().at("public.users"), 2);
    sql_source ddl;
    ddl.path = "ddl.sql";
    ddl.text = "create table public.more (id int); comment on table public.users is 'people'";
    stats = run_script(c, ddl, {});
    ASSERT_TRUE(stats.catalogs.has_value());
    EXPECT_TRUE(stats.catalogs->changed.count("pg_class"));
    EXPECT_TRUE(stats.catalogs->changed.count("pg_description"));
    reader.wrote(stats);
    const catalog& after = reader.read();
    EXPECT_EQ(snapshot_text(after.snapshot()), snapshot_text(take_snapshot(c)));
    EXPECT_TRUE(after.objects.at("tables").count("public.more"));
  }
  cache.drop(db);
}

TEST_F(State, ParallelBuildersAgree) {
  suite s;
  s.name = "example";
  s.migrations_dir = std::filesystem::path(PGMT_TEST_DATA).parent_path().parent_path() / "migrations";
  s.seeds = {};
  auto set = s.discover_migrations();
  const std::size_t n = set.migrations.size();
  std::vector<std::thread> threads;
  std::vector<std::string> errors(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      try {
        state_cache cache(test::shared_server(), s, set);
        std::string db = cache.clone(n - static_cast<std::size_t>(t % 2), "par");
        cache.drop(db);
      } catch (const std::exception& e) {
        errors[static_cast<std::size_t>(t)] = e.what();
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  state_cache cache(test::shared_server(), s, set);
  connection maint(test::shared_server().conninfo());
  auto built = template_oids(maint, cache, n);
  for (std::size_t k : {std::size_t{0}, n - 1, n})
    EXPECT_TRUE(built.count(cache.template_name(k))) << "S(" << k << ")";
}

TEST_F(State, EditedMigrationGetsAFreshState) {
  test::temp_dir dir;
  dir.write("0001_a.sql", "create table a (id int);\n");
  suite s;
  s.migrations_dir = dir.path();
  state_cache before(test::shared_server(), s, s.discover_migrations());
  before.ensure(1);
  dir.write("0001_a.sql", "create table a (id bigint);\n");
  state_cache after(test::shared_server(), s, s.discover_migrations());
  EXPECT_NE(before.template_name(1), after.template_name(1));
  EXPECT_EQ(before.template_name(0), after.template_name(0));
  std::string db = after.clone(1, "edit");
  connection c(test::shared_server().conninfo(db));
  EXPECT_EQ(c.exec("select format_type(atttypid, atttypmod) from pg_attribute where attrelid = 'a'::regclass "
                   "and attname = 'id'")
                .value(0, 0),
            "bigint");
}

TEST_F(State, FailingMigrationNamesItself) {
  auto s = test::data_suite("bad_sql");
  state_cache cache(test::shared_server(), s, s.discover_migrations());
  try {
    cache.ensure(2);
    FAIL();
  } catch (const state_error& e) {
    EXPECT_EQ(e.state(), 2u);
    EXPECT_EQ(e.culprit(), "0002_books");
    EXPECT_EQ(e.diag().line, 6);
  }
  connection maint(test::shared_server().conninfo());
  EXPECT_EQ(maint.exec_params("select count(*) from pg_database where datname = $1", {cache.template_name(2)})
                .value(0, 0),
            "0")
      << "a failed build leaves no half-built state";
}

TEST_F(State, FixtureFailureIsReported) {
  test::temp_dir dir;
  dir.write("m/0001_a.sql", "create table a (id int);\n");
  auto fixture = dir.write("fixture.sql", "create schema app;\ncreate table app.t (x nosuchtype);\n");
  suite s;
  s.migrations_dir = dir.path() / "m";
  s.fixtures = {fixture};
  state_cache cache(test::shared_server(), s, s.discover_migrations());
  try {
    cache.ensure(0);
    FAIL();
  } catch (const state_error& e) {
    EXPECT_EQ(e.culprit(), "fixtures");
    EXPECT_EQ(e.diag().line, 2);
    EXPECT_EQ(e.diag().path, fixture);
  }
}

TEST_F(State, KeepsAtMostMaxStatesAndRebuildsEvictedOnes) {
  test::temp_dir dir;
  for (int i = 1; i <= 8; ++i)
    dir.write("m/000" + std::to_string(i) + "_t" + std::to_string(i) + ".sql",
              "create table public.t" + std::to_string(i) + " (id int);\n");
  dir.write("fixture.sql", "select 'eviction test';\n");  // states unique to this test
  suite s;
  s.migrations_dir = dir.path() / "m";
  s.fixtures = {dir.path() / "fixture.sql"};
  setenv("PGMT_MAX_STATES", "3", 1);
  state_cache cache(test::shared_server(), s, s.discover_migrations());
  unsetenv("PGMT_MAX_STATES");
  cache.ensure(8);
  connection maint(test::shared_server().conninfo());
  auto kept = template_oids(maint, cache, 8);
  EXPECT_LE(kept.size(), 3u);
  EXPECT_TRUE(kept.count(cache.template_name(8))) << "the newest state stays";
  // An evicted state is rebuilt when a test needs it, with the right contents.
  std::string db = cache.clone(2, "evicted");
  {
    connection c(test::shared_server().conninfo(db));
    EXPECT_EQ(c.exec("select count(*) from pg_tables where schemaname = 'public'").value(0, 0), "2");
  }
  cache.drop(db);
  EXPECT_LE(template_oids(maint, cache, 8).size(), 3u);
}

TEST_F(State, MaxStatesMustBeANumber) {
  setenv("PGMT_MAX_STATES", "1", 1);
  auto s = test::data_suite("layouts/flat");
  EXPECT_THROW(state_cache(test::shared_server(), s, s.discover_migrations()), input_error);
  unsetenv("PGMT_MAX_STATES");
}

TEST_F(State, WorkDatabasesMustBeANumber) {
  auto s = test::data_suite("layouts/flat");
  for (const char* bad : {"four", "4x", "-"}) {
    test::scoped_env work("PGMT_WORK_DBS", bad);
    try {
      state_cache cache(test::shared_server(), s, s.discover_migrations());
      ADD_FAILURE() << bad << " was taken";
    } catch (const input_error& e) {
      EXPECT_NE(std::string(e.what()).find("PGMT_WORK_DBS must be a number"), std::string::npos) << e.what();
    }
  }
  test::scoped_env off("PGMT_WORK_DBS", "0");
  state_cache cache(test::shared_server(), s, s.discover_migrations());
  EXPECT_EQ(cache.lease(1), nullptr) << "0 turns work databases off";
}

}  // namespace
}  // namespace pgmt
