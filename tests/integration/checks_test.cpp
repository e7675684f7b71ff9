// The apply and reset checks on real servers.
#include "pgmt/checks.hpp"
#include "pgmt/engine.hpp"

#include "pgmt/pg.hpp"
#include "pgmt/text.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <map>

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
      auto r = find_check(kind, check_kind::scope::migration)->run(cache, i, kind);
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
  test::scoped_env no_work("PGMT_WORK_DBS", "0");  // every check on a clone
  state_cache cache(test::shared_server(), s, s.discover_migrations());
  ASSERT_TRUE(check_apply(cache, 0).passed());
  connection maint(test::shared_server().conninfo());
  EXPECT_EQ(maint
                .exec_params("select count(*) from pg_database where datname = $1 and datistemplate",
                             {cache.template_name(1)})
                .value(0, 0),
            "1");
}

// The work databases on the server whose comment says they hold a state of cache's suite.
std::map<std::string, std::string> work_databases(connection& maint, const state_cache& cache) {
  std::map<std::string, std::string> out;
  auto r = maint.exec_params(
      "select datname, coalesce(shobj_description(oid, 'pg_database'), '') from pg_database where datname "
      "like $1",
      {cache.server().db_prefix + "w\\_%"});
  for (int i = 0; i < r.rows(); ++i)
    for (std::size_t k = 0; k <= cache.migrations().migrations.size(); ++k)
      if (r.value(i, 1).rfind(
              "pgmt work " + cache.template_name(k).substr(cache.template_name(k).size() - 16) + " ", 0) == 0)
        out[r.value(i, 0)] = r.value(i, 1).substr(r.value(i, 1).rfind(' ') + 1);
  return out;
}

// Checks borrow a work database and move it forward one migration at a time
// instead of cloning a template each: apply commits, the others roll back.
TEST_F(Checks, ChecksMoveOneWorkDatabaseForward) {
  test::temp_dir dir;
  dir.write("0001_a.up.sql",
            "create table if not exists public.a (id bigint generated always as identity, v text);\n"
            "create table if not exists public.c (id bigint generated always as identity);\n");
  dir.write("0001_a.down.sql", "drop table public.a, public.c;\n");
  dir.write("0002_b.up.sql", "insert into public.a (v) values ('x'), ('y');\n");
  dir.write("0002_b.down.sql", "delete from public.a where v in ('x', 'y');\n");
  dir.write("0003_c.up.sql", "create index if not exists a_v_idx on public.a (v);\n");
  dir.write("0003_c.down.sql",
            "drop index public.a_v_idx;\n"
            "insert into public.c default values;\n"
            "delete from public.c;\n");
  suite s;
  s.name = "walk";
  s.migrations_dir = dir.path();
  state_cache cache(test::shared_server(), s, s.discover_migrations());
  connection maint(test::shared_server().conninfo());
  ASSERT_TRUE(check_apply(cache, 0).passed());
  auto work = work_databases(maint, cache);
  ASSERT_EQ(work.size(), 1u);
  const std::string name = work.begin()->first;
  EXPECT_EQ(work.begin()->second, "1") << "apply moved it to S(1)";
  for (std::size_t i = 0; i < 3; ++i) {
    if (i > 0) {
      EXPECT_TRUE(check_apply(cache, i).passed()) << i;
    }
    auto idem = check_idempotency(cache, i);
    EXPECT_EQ(idem.outcome, i == 1 ? check_result::status::failed : check_result::status::passed)
        << i << ": " << (idem.findings.empty() ? idem.note : idem.findings[0]);
    auto rt = check_roundtrip(cache, i);
    EXPECT_TRUE(rt.passed()) << i << ": " << (rt.findings.empty() ? rt.note : rt.findings[0]);
  }
  work = work_databases(maint, cache);
  EXPECT_TRUE(work.count(name)) << "the same work database all along";
  EXPECT_EQ(work[name], "3");
  // Rolled back, and the identity sequence set back: the rows of 0002 kept their ids.
  connection c(test::shared_server().conninfo(name));
  EXPECT_EQ(c.exec("select string_agg(id::text || v, ',' order by id) from public.a").value(0, 0), "1x,2y");
  EXPECT_EQ(c.exec("select nextval('public.a_id_seq')").value(0, 0), "3");
  EXPECT_EQ(c.exec("select nextval('public.c_id_seq')").value(0, 0), "1")
      << "never used, as before the checks";
}

// The verdicts of the engine's walk (transactions rolled back on one
// database) are those of checks run each on a clone of its state, with the
// same findings, for every kind of mistake the test data holds.
TEST_F(Checks, TheEngineGivesTheVerdictsOfClones) {
  for (const char* name :
       {"rt_column_order", "rt_column_type", "rt_down_fails", "rt_enum_label", "rt_exact", "rt_forgets_index",
        "rt_forgets_policy", "rt_loses_grant", "rt_missing_down", "rt_search_path", "idem_inserts_twice",
        "idem_unguarded_do", "idem_clean", "enum_add_value", "self_managed", "bad_sql"}) {
    auto s = test::data_suite(name);
    s.idempotency = "on";
    test::temp_dir out;
    s.output_dir = out.path();
    auto line_of = [](const std::string& key, const check_result& r) {
      std::string line = key + " " + std::to_string(static_cast<int>(r.outcome));
      for (const auto& f : r.findings)
        if (f.find("full diff:") == std::string::npos) line += "\n" + f;
      return line;
    };
    std::vector<std::string> walked, cloned;
    engine eng(test::shared_server(), s, s.discover_migrations());
    eng.run([&](const std::string& key, const check_result& r) {
      if (key.find('.') != std::string::npos) walked.push_back(line_of(key, r));
    });
    test::scoped_env work("PGMT_WORK_DBS", "0");
    state_cache cache(test::shared_server(), s, s.discover_migrations());
    for (std::size_t i = 0; i < cache.migrations().migrations.size(); ++i)
      for (const auto& kind : checks_for(s, cache.migrations(), i)) {
        auto r = find_check(kind, check_kind::scope::migration)->run(cache, i, kind);
        cloned.push_back(line_of(cache.migrations().migrations[i].version + "." + kind, r));
      }
    EXPECT_EQ(walked, cloned) << name;
    EXPECT_FALSE(walked.empty()) << name;
  }
}

// The verdicts of an engine, in planned order, each as its key, outcome and
// findings (timings and diff file paths left out), and how many lanes it walked.
std::pair<std::size_t, std::vector<std::string>> engine_verdicts(const suite& s, const char* walkers) {
  test::scoped_env env("PGMT_WALKERS", walkers);
  engine eng(test::shared_server(), s, s.discover_migrations());
  std::vector<std::string> lines, keys;
  eng.run(in_order(eng.planned(), [&](const std::string& key, const check_result& r) {
    keys.push_back(key);
    std::string line = key + " " + std::to_string(static_cast<int>(r.outcome));
    for (const auto& f : r.findings)
      if (f.find("full diff:") == std::string::npos) line += "\n" + f;
    lines.push_back(line);
  }));
  EXPECT_EQ(keys, eng.planned()) << "every planned verdict, once";
  return {eng.lanes(), lines};
}

// Lanes (the chain cut into parts walked side by side, each on a database of
// its own that first applies the migrations below its part) give the verdicts
// of one walk: for every kind of mistake the test data holds, and on a longer
// chain with a lane boundary at each migration, past a migration that fails.
TEST_F(Checks, LanesGiveTheVerdictsOfOneWalk) {
  test::temp_dir dir;
  const char* ups[] = {
      "create table public.a (id int primary key, v text);\ninsert into public.a values (1, 'x');\n",
      "create index a_v_idx on public.a (v);\n",
      "create type public.mood as enum ('ok');\nalter table public.a add column m public.mood;\n",
      "alter type public.mood add value 'sad';\n",
      "-- pgmt:no-transaction\ncreate index concurrently a_m_idx on public.a (m);\n",
      "create table public.b (id int references public.a);\n",
      "insert into public.nowhere values (1);\n",
      "create table public.c (id int);\n",
  };
  const char* downs[] = {
      "drop table public.a;\n",
      "select 1;\n",  // forgets the index
      "alter table public.a drop column m;\ndrop type public.mood;\n",
      "select 1;\n",
      "-- pgmt:no-transaction\ndrop index concurrently public.a_m_idx;\n",
      "drop table public.b;\n",
      "select 1;\n",
      "drop table public.c;\n",
  };
  for (int i = 0; i < 8; ++i) {
    const std::string v = "000" + std::to_string(i + 1) + "_m" + std::to_string(i + 1);
    dir.write(v + ".up.sql", ups[i]);
    dir.write(v + ".down.sql", downs[i]);
  }
  suite chain;
  chain.name = "lanes";
  chain.migrations_dir = dir.path();
  chain.output_dir = dir.path();
  chain.idempotency = "on";
  std::vector<suite> suites{chain};
  for (const char* name : {"rt_down_fails", "rt_forgets_index", "idem_inserts_twice", "enum_add_value",
                           "self_managed", "bad_sql"}) {
    suites.push_back(test::data_suite(name));
    suites.back().idempotency = "on";
  }
  for (const auto& s : suites) {
    auto [one_lane, one] = engine_verdicts(s, "1");
    auto [lanes, many] = engine_verdicts(s, "64");
    EXPECT_EQ(one_lane, 1u) << s.name;
    EXPECT_EQ(lanes, s.discover_migrations().migrations.size()) << s.name << ": a lane per migration";
    EXPECT_EQ(one, many) << s.name;
    if (s.name == "lanes") {
      auto outcome = [&](const std::string& key) {
        for (const auto& line : many)
          if (line.rfind(key + " ", 0) == 0) return line.substr(key.size() + 1, 1);
        return std::string("none");
      };
      const auto failed = std::to_string(static_cast<int>(check_result::status::failed));
      const auto passed = std::to_string(static_cast<int>(check_result::status::passed));
      EXPECT_EQ(outcome("0002.roundtrip"), failed) << "the down forgets the index";
      EXPECT_EQ(outcome("0004.apply"), passed);
      EXPECT_EQ(outcome("0005.roundtrip"), passed);
      EXPECT_EQ(outcome("0007.apply"), failed);
      EXPECT_EQ(outcome("0008.apply"), std::to_string(static_cast<int>(check_result::status::skipped)));
    }
  }
}

// A chain in which one migration changes a role, or may, is walked in one lane.
TEST_F(Checks, AMigrationThatChangesRolesKeepsOneLane) {
  for (const char* role_sql :
       {"create role lanes_app nologin;\n",
        "do $$ begin if not exists (select from pg_roles where rolname = 'lanes_app') then create role lanes_app "
        "nologin; end if; end $$;\n",
        "select pg_terminate_backend(pid) from pg_stat_activity where false;\n"}) {
    test::temp_dir dir;
    dir.write("0001_a.sql", "create table public.a (id int);\n");
    dir.write("0002_role.sql", role_sql);
    dir.write("0003_b.sql", "create table public.b (id int);\n");
    suite s;
    s.name = "roles";
    s.migrations_dir = dir.path();
    test::scoped_env env("PGMT_WALKERS", "3");
    EXPECT_EQ(engine(test::shared_server(), s, s.discover_migrations()).lanes(), 1u) << role_sql;
  }
  test::temp_dir dir;
  dir.write("0001_a.sql", "create table public.a (id int);\n");
  suite s;
  s.name = "walkers";
  s.migrations_dir = dir.path();
  test::scoped_env env("PGMT_WALKERS", "two");
  try {
    (void)engine(test::shared_server(), s, s.discover_migrations()).lanes();
    ADD_FAILURE() << "PGMT_WALKERS=two accepted";
  } catch (const input_error& e) {
    EXPECT_NE(std::string(e.what()).find("PGMT_WALKERS must be a number from 1 to 64, not \"two\""), std::string::npos)
        << e.what();
  }
}

// A migration whose temporary table ON COMMIT DROP outlives its script when
// the script runs inside a larger transaction.
suite on_commit_drop_suite(const test::temp_dir& dir) {
  dir.write("0001_t.up.sql",
            "create table if not exists public.t (id int);\n"
            "create temp table staging on commit drop as select 1 as id;\n"
            "insert into public.t select id from staging where not exists (select from public.t);\n");
  dir.write("0001_t.down.sql", "drop table public.t;\n");
  suite s;
  s.name = "oncommit";
  s.migrations_dir = dir.path();
  s.output_dir = dir.path();
  return s;
}

// Inside one transaction a temporary table ON COMMIT DROP outlives its script,
// and the second up of a round trip trips on it; the check is judged again on
// a clone, where every script commits as in a deployment.
TEST_F(Checks, AFailureInsideOneTransactionIsJudgedOnAClone) {
  test::temp_dir dir;
  suite s = on_commit_drop_suite(dir);
  state_cache cache(test::shared_server(), s, s.discover_migrations());
  ASSERT_TRUE(check_apply(cache, 0).passed());
  auto rt = check_roundtrip(cache, 0);
  EXPECT_TRUE(rt.passed()) << (rt.findings.empty() ? rt.note : rt.findings[0]);
  auto idem = check_idempotency(cache, 0);
  EXPECT_TRUE(idem.passed()) << (idem.findings.empty() ? idem.note : idem.findings[0]);
}

// The same for assertion files: leaks, denials and refusals are found alike
// on the walk's database (the file's transaction rolled back) and on a clone.
TEST_F(Checks, RlsInTheEngineGivesTheVerdictsOfClones) {
  for (const char* name : {"rls_notes", "rls_leak", "rls_owner", "rls_tenants"}) {
    suite s;
    s.name = name;
    s.migrations_dir = std::filesystem::path(PGMT_TEST_DATA) / name / "migrations";
    s.rls_dir = std::filesystem::path(PGMT_TEST_DATA) / name / "rls";
    if (std::string(name) == "rls_notes" || std::string(name) == "rls_leak") s.profile = "supabase";
    auto line_of = [](const std::string& key, const check_result& r) {
      std::string line = key + " " + std::to_string(static_cast<int>(r.outcome)) + " " + r.note;
      for (const auto& f : r.findings) line += "\n" + f;
      return line;
    };
    std::vector<std::string> walked, cloned;
    engine eng(test::shared_server(), s, s.discover_migrations());
    eng.run([&](const std::string& key, const check_result& r) {
      if (key.size() > 4 && key.compare(key.size() - 4, 4, ".rls") == 0) walked.push_back(line_of(key, r));
    });
    test::scoped_env work("PGMT_WORK_DBS", "0");
    state_cache cache(test::shared_server(), s, s.discover_migrations());
    for (std::size_t i = 0; i < cache.migrations().migrations.size(); ++i) {
      const auto checks = checks_for(s, cache.migrations(), i);
      if (std::find(checks.begin(), checks.end(), "rls") == checks.end()) continue;
      cloned.push_back(line_of(cache.migrations().migrations[i].version + ".rls", check_rls(cache, i)));
    }
    EXPECT_EQ(walked, cloned) << name;
    EXPECT_FALSE(walked.empty()) << name;
  }
}

// A temporary table ON COMMIT DROP in the walk's transaction: judged again
// on a clone, the engine's verdicts are those of scripts that commit.
TEST_F(Checks, TheEngineJudgesAFailureInsideItsTransactionOnAClone) {
  test::temp_dir dir;
  suite s = on_commit_drop_suite(dir);
  s.idempotency = "on";
  engine eng(test::shared_server(), s, s.discover_migrations());
  std::map<std::string, check_result> got;
  eng.run([&](const std::string& key, const check_result& r) { got.emplace(key, r); });
  for (const char* key : {"0001.apply", "0001.roundtrip", "0001.idempotency", "reset"}) {
    ASSERT_TRUE(got.count(key)) << key;
    EXPECT_TRUE(got.at(key).passed()) << key << ": "
                                      << (got.at(key).findings.empty() ? got.at(key).note : got.at(key).findings[0]);
  }
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
