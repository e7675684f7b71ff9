// Running SQL on a real server: transactions, diagnostics at file:line:column,
// timeouts, and the tracking table.
#include "pgmt/migration.hpp"
#include "pgmt/pg.hpp"
#include "pgmt/script.hpp"
#include "pgmt/server.hpp"
#include "pgmt/state.hpp"
#include "pgmt/text.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace pgmt {
namespace {

using namespace std::chrono_literals;

class ScriptRun : public ::testing::Test {
 protected:
  void SetUp() override {
    PGMT_REQUIRE_POSTGRES();
    db_ = test::fresh_database("script");
    conn_ = std::make_unique<connection>(test::shared_server().conninfo(db_));
    ensure_tracking_table(*conn_);
  }

  bool table_exists(const std::string& name) {
    return conn_->exec_params("select to_regclass($1) is not null", {name}).value(0, 0) == "t";
  }

  // Applies the migrations of tests/data/<set> up to (not including) index stop.
  void apply_data_set(const std::string& set_name, std::size_t stop, const suite& s) {
    auto set = discover(test::data_dir() / set_name);
    for (std::size_t i = 0; i < stop; ++i) apply_migration(*conn_, set.migrations.at(i), s);
  }

  diagnostic failure_of(const std::string& set_name, std::size_t index, const suite& s) {
    auto set = discover(test::data_dir() / set_name);
    return failure_of(set.migrations.at(index), s);
  }

  // What applying m fails with.
  diagnostic failure_of(const migration& m, const suite& s) {
    try {
      apply_migration(*conn_, m, s);
    } catch (const script_error& e) {
      return e.diag();
    }
    ADD_FAILURE() << "migration " << m.id() << " did not fail";
    return {};
  }

  std::string db_;
  std::unique_ptr<connection> conn_;
};

TEST_F(ScriptRun, MissingReferencePointsAtTheName) {
  auto s = test::data_suite("bad_sql");
  apply_data_set("bad_sql", 1, s);
  auto d = failure_of("bad_sql", 1, s);
  EXPECT_EQ(d.path.filename(), "0002_books.sql");
  EXPECT_EQ(d.line, 6);
  EXPECT_EQ(d.column, 24);
  EXPECT_EQ(d.message, "relation \"public.isbns\" does not exist");
  EXPECT_EQ(d.sqlstate, "42P01");
  EXPECT_EQ(d.source_line, "  isbn text references public.isbns (code)");
  EXPECT_FALSE(table_exists("public.books")) << "the failed migration must be rolled back";
}

TEST_F(ScriptRun, SyntaxErrorAtServerPositionNamesServerVersion) {
  sql_source src;
  src.path = "0001_typo.sql";
  src.text = "create table a (id int);\n\ncreate tabel b (id int);\n";
  try {
    run_script(*conn_, src, {});
    FAIL();
  } catch (const script_error& e) {
    EXPECT_EQ(e.diag().line, 3);
    EXPECT_EQ(e.diag().column, 8);
    EXPECT_EQ(e.diag().sqlstate, "42601");
    ASSERT_FALSE(e.diag().notes.empty());
    EXPECT_NE(
        e.diag().notes[0].find("the server is PostgreSQL " + test::shared_server().version.substr(0, 2)),
        std::string::npos);
  }
  EXPECT_FALSE(table_exists("public.a")) << "one transaction: nothing stays";
}

TEST_F(ScriptRun, MetaCommandIsRefusedBeforeAnythingRuns) {
  auto d = failure_of("meta_command", 0, test::data_suite("meta_command"));
  EXPECT_EQ(d.line, 3);
  EXPECT_EQ(d.column, 1);
  EXPECT_EQ(d.message, "psql meta-command \"\\set\" in a migration; migrations must be plain SQL");
  EXPECT_FALSE(table_exists("public.t"));
}

TEST_F(ScriptRun, DoBlockErrorMapsToTheLineInTheBody) {
  auto d = failure_of("do_block_error", 0, test::data_suite("do_block_error"));
  EXPECT_EQ(d.line, 8);
  EXPECT_EQ(d.column, 3);
  EXPECT_EQ(d.message, "counters must not be empty (found 0)");
  EXPECT_EQ(d.sqlstate, "P0001");
}

TEST_F(ScriptRun, AnErrorInADoBlockInsideAnotherIsAtItsOwnLine) {
  sql_source src;
  src.path = "0001_nested.sql";
  src.text =
      "do $$\nbegin\n  perform 1;\n  do $inner$\n  begin\n    perform 1/0;\n  end $inner$;\nend $$;\n";
  try {
    run_script(*conn_, src, {});
    FAIL() << "division by zero expected";
  } catch (const script_error& e) {
    EXPECT_EQ(e.diag().line, 6) << "the inner block's line, not the outer's";
    EXPECT_EQ(e.diag().column, 5);
  }
  // A DO block run by EXECUTE is not followed into: the outer line stays.
  src.text = "do $$\nbegin\n  perform 1;\n  execute 'do $i$ begin perform 1/0; end $i$';\nend $$;\n";
  try {
    run_script(*conn_, src, {});
    FAIL() << "division by zero expected";
  } catch (const script_error& e) {
    EXPECT_EQ(e.diag().line, 4);
    EXPECT_EQ(e.diag().column, 3);
  }
}

// The traced locks of src, one line each: "<line> <table> <mode>[ rewritten] after <statements>".
std::vector<std::string> locks_of(const sql_source& src, const lock_trace& t) {
  std::vector<std::string> out;
  for (const auto& l : t.locks)
    out.push_back(std::to_string(position_of(src.text, l.start).line) + " " + l.table + " " + l.mode +
                  (l.rewritten ? " rewritten" : "") + " after " + std::to_string(l.statements_after));
  return out;
}

TEST_F(ScriptRun, TracingRecordsBlockingLocksAndRewritesOfTablesThatExistedBefore) {
  conn_->exec("create table public.orders (id int primary key, code varchar(10), amount int);"
              "insert into public.orders select g, g::text, g from generate_series(1, 100) g");
  sql_source src;
  src.path = "0002_traced.sql";
  src.text =
      "create table public.fresh (id int);\n"                                       // new: never traced
      "alter table public.fresh add column v uuid default gen_random_uuid();\n"     // a rewrite of a new table
      "alter table public.orders alter column code type varchar(20);\n"            // no rewrite
      "alter table public.orders add column token uuid default gen_random_uuid();\n"  // a rewrite
      "select count(*) from public.orders;\n"                                       // nothing new
      "create index orders_amount on public.orders (amount);\n"                     // SHARE, weaker than held
      "select 1 -- a comment at the end of the statement\n";
  run_options o;
  o.trace = true;
  const run_stats stats = run_script(*conn_, src, o);
  ASSERT_TRUE(stats.trace.has_value());
  const lock_trace& t = *stats.trace;
  // Traced: the statements that name a table of the state before (lines 3 to 6).
  EXPECT_EQ(t.traced.size(), 4u);
  std::vector<std::string> seen = locks_of(src, t);
  EXPECT_EQ(seen, (std::vector<std::string>{"3 public.orders ACCESS EXCLUSIVE after 4",
                                            "4 public.orders  rewritten after 3"}));
  // Held from line 3 on: every traced statement after it holds the lock.
  EXPECT_EQ(t.holding.size(), 4u);
  EXPECT_TRUE(table_exists("public.orders_amount"));
}

// A file with its own BEGIN and COMMIT (every sqitch script): inside its
// transaction the locks hold to its COMMIT; outside it each statement commits.
TEST_F(ScriptRun, TracingFollowsAFilesOwnTransactions) {
  conn_->exec("create table public.orders (id int primary key, amount int);"
              "create table public.items (id int primary key);"
              "insert into public.orders select g, g from generate_series(1, 100) g");
  sql_source src;
  src.path = "deploy/orders.sql";
  src.text =
      "alter table public.items add column note text;\n"                         // 1: alone, ACCESS EXCLUSIVE
      "begin;\n"                                                                // 2
      "create table public.fresh (id int);\n"                                   // 3: new table: not traced
      "alter table public.orders add column token uuid default gen_random_uuid();\n"  // 4: rewrite, held
      "select count(*) from public.orders;\n"                                   // 5: holds it still
      "create index orders_amount on public.orders (amount);\n"                 // 6: SHARE, weaker than held
      "commit;\n"                                                               // 7
      "select count(*) from public.orders;\n";                                  // 8: after the commit: no lock
  run_options o;
  o.trace = true;
  const run_stats stats = run_script(*conn_, src, o);
  EXPECT_EQ(stats.mode, tx_mode::self_managed);
  ASSERT_TRUE(stats.trace.has_value());
  const lock_trace& t = *stats.trace;
  std::vector<std::string> seen = locks_of(src, t);
  EXPECT_EQ(seen, (std::vector<std::string>{"1 public.items ACCESS EXCLUSIVE after 0",
                                            "4 public.orders ACCESS EXCLUSIVE rewritten after 2"}));
  auto line_of = [&](std::size_t start) { return position_of(src.text, start).line; };
  std::vector<int> traced, holding;
  for (auto at : t.traced) traced.push_back(line_of(at));
  for (auto at : t.holding) holding.push_back(line_of(at));
  EXPECT_EQ(traced, (std::vector<int>{1, 4, 5, 6, 8}));
  EXPECT_EQ(holding, (std::vector<int>{1, 4, 5, 6})) << "line 8 runs after the COMMIT";
  EXPECT_TRUE(table_exists("public.orders_amount"));
  EXPECT_EQ(conn_->transaction_status(), tx_status::idle);
  // COMMIT AND CHAIN ends one transaction and opens the next: the locks of
  // each end with it, and the next takes them anew.
  src.text =
      "begin;\nalter table public.items add column a int;\ncommit and chain;\n"
      "alter table public.items add column b int;\ncommit;\n";
  const run_stats chained = run_script(*conn_, src, o);
  ASSERT_TRUE(chained.trace.has_value());
  seen = locks_of(src, *chained.trace);
  EXPECT_EQ(seen, (std::vector<std::string>{"2 public.items ACCESS EXCLUSIVE after 0",
                                            "4 public.items ACCESS EXCLUSIVE after 0"}));
  // ROLLBACK TO SAVEPOINT releases the locks taken after the savepoint; one
  // taken again after it is new; a ROLLBACK ends the rest.
  src.text =
      "begin;\nsavepoint try_it;\nalter table public.items add column c int;\nselect 1;\n"
      "rollback to savepoint try_it;\nselect 2;\nselect 3;\n"
      "do $$ begin execute 'alter table public.items add column d int'; end $$;\nselect 4;\nrollback;\n";
  const run_stats saved = run_script(*conn_, src, o);
  ASSERT_TRUE(saved.trace.has_value());
  seen.clear();
  for (const auto& l : saved.trace->locks)
    seen.push_back(std::to_string(position_of(src.text, l.start).line) + " " + l.mode + " after " +
                   std::to_string(l.statements_after) + " to " + (l.until.empty() ? "the commit" : l.until));
  EXPECT_EQ(seen, (std::vector<std::string>{"3 ACCESS EXCLUSIVE after 1 to the ROLLBACK TO at line 5",
                                            "8 ACCESS EXCLUSIVE after 1 to the rollback"}));
}

// A statement that cannot run in a transaction is watched from a second
// session: its rewrite is seen once it commits, and a lock too short for the
// watch to see leaves the statement among the untraced (no disproof).
TEST_F(ScriptRun, AWatchedStatementIsTracedOnlyWhereItWasSeen) {
  conn_->exec("create table public.big (id int); insert into public.big select generate_series(1, 20000);"
              "create table public.empty (id int)");
  sql_source src;
  src.path = "0003_vacuum.sql";
  src.no_transaction = true;
  src.text = "vacuum full public.big;\nvacuum full public.empty;\n";
  run_options o;
  o.trace = true;
  const run_stats stats = run_script(*conn_, src, o);
  ASSERT_TRUE(stats.trace.has_value());
  const lock_trace& t = *stats.trace;
  ASSERT_FALSE(t.locks.empty());
  EXPECT_EQ(t.locks.front().table, "public.big");
  EXPECT_TRUE(t.locks.front().rewritten) << "read after the commit, whatever the watch saw";
  for (const std::size_t start : {std::size_t{0}, src.text.find("vacuum full public.empty")})
    EXPECT_EQ(t.traced.count(start), t.holding.count(start))
        << "line " << position_of(src.text, start).line << ": traced only where a lock was seen";
}

// Code that commits (a DO block, a procedure) outside a transaction runs as
// it would untraced: it is watched, not sent with the query of the locks
// (one round trip is one implicit transaction, where COMMIT fails).
TEST_F(ScriptRun, TracedCodeThatCommitsOutsideATransactionStillRuns) {
  conn_->exec("create table public.orders (id int, x int); insert into public.orders values (1, 0)");
  run_options o;
  o.trace = true;
  sql_source each;
  each.path = "0002_batches.sql";
  each.no_transaction = true;
  each.text = "do $$ begin update public.orders set x = 1; commit; update public.orders set x = 2; end $$;\n";
  EXPECT_NO_THROW(run_script(*conn_, each, o));
  sql_source self;
  self.path = "deploy/batches.sql";
  self.text =
      "begin;\nupdate public.orders set x = 3;\ncommit;\n"
      "do $$ begin update public.orders set x = 4; commit; end $$;\n";
  EXPECT_NO_THROW(run_script(*conn_, self, o));
  EXPECT_EQ(conn_->exec("select x from public.orders").value(0, 0), "4");
}

TEST_F(ScriptRun, ConcurrentIndexRunsOutsideATransaction) {
  sql_source src;
  src.path = "0001_idx.sql";
  src.text = "create table t (x int);\ncreate index concurrently t_x on t (x);\n";
  auto stats = run_script(*conn_, src, {});
  EXPECT_EQ(stats.mode, tx_mode::per_statement);
  EXPECT_EQ(stats.statements, 2u);
  EXPECT_TRUE(table_exists("public.t_x"));
}

TEST_F(ScriptRun, PerStatementFailureSaysWhatStays) {
  sql_source src;
  src.path = "0001_nt.sql";
  src.text = "create table kept (x int);\nselect 1/0;\n";
  src.no_transaction = true;
  try {
    run_script(*conn_, src, {});
    FAIL();
  } catch (const script_error& e) {
    EXPECT_EQ(e.diag().line, 2);
    ASSERT_FALSE(e.diag().notes.empty());
    EXPECT_NE(e.diag().notes.back().find("the statements before this one stay applied"), std::string::npos);
  }
  EXPECT_TRUE(table_exists("public.kept"));
}

TEST_F(ScriptRun, FileWithItsOwnTransactions) {
  apply_data_set("self_managed", 1, test::data_suite("self_managed"));
  EXPECT_TRUE(table_exists("public.a"));
  EXPECT_TRUE(table_exists("public.b"));
  EXPECT_TRUE(table_exists("public.b_id_idx"));
  EXPECT_EQ(conn_->transaction_status(), tx_status::idle);
}

TEST_F(ScriptRun, UnclosedTransactionIsAnErrorAtItsBegin) {
  auto d = failure_of("unclosed_transaction", 0, test::data_suite("unclosed_transaction"));
  EXPECT_EQ(d.line, 2);
  EXPECT_EQ(d.message, "migration \"0001_open\" leaves a transaction open; it was rolled back");
  EXPECT_TRUE(table_exists("public.a")) << "ran before BEGIN, in autocommit";
  EXPECT_FALSE(table_exists("public.b"));
  EXPECT_EQ(conn_->transaction_status(), tx_status::idle);
}

TEST_F(ScriptRun, StatementTimeoutNamesTheMigration) {
  auto s = test::data_suite("slow_statement");
  s.statement_timeout = 200ms;
  auto t0 = std::chrono::steady_clock::now();
  auto d = failure_of("slow_statement", 0, s);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_EQ(d.line, 2);
  EXPECT_EQ(d.sqlstate, "57014");
  EXPECT_EQ(d.message, "migration \"0001_slow\" exceeded statement_timeout (200ms)");
}

TEST_F(ScriptRun, LockTimeoutNamesTheMigration) {
  auto s = test::data_suite("hung_lock");
  s.lock_timeout = 300ms;
  apply_data_set("hung_lock", 1, s);
  connection holder(test::shared_server().conninfo(db_));
  holder.exec("begin");
  holder.exec("lock table public.accounts in access exclusive mode");
  auto d = failure_of("hung_lock", 1, s);
  holder.exec("rollback");
  EXPECT_EQ(d.path.filename(), "0002_accounts_email.sql");
  EXPECT_EQ(d.line, 2);
  EXPECT_EQ(d.sqlstate, "55P03");
  EXPECT_EQ(d.message.rfind(
                "migration \"0002_accounts_email\" waited longer than lock_timeout (300ms) for a lock", 0),
            0u)
      << d.message;
}

// pgmt's own lock on roles is taken under the migration's lock_timeout:
// a migration never waits without limit for another one that changes roles.
TEST_F(ScriptRun, TheLockOnRolesIsTakenUnderLockTimeout) {
  test::temp_dir dir;
  dir.write("0001_role.sql",
            "create table public.r (id int);\n"
            "do $$ begin if not exists (select from pg_roles where rolname = 'pgmt_lock_probe') then\n"
            "  create role pgmt_lock_probe nologin; end if; end $$;\n");
  suite s = test::data_suite("hung_lock");
  s.lock_timeout = 300ms;
  auto set = discover(dir.path());
  connection holder(test::shared_server().conninfo(db_));
  holder.exec("begin");
  holder.exec("lock table pg_catalog.pg_authid in share row exclusive mode");
  const auto t0 = std::chrono::steady_clock::now();
  diagnostic d = failure_of(set.migrations.at(0), s);
  holder.exec("rollback");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(d.path.filename(), "0001_role.sql");
  EXPECT_EQ(d.line, 2) << "the first statement that changes roles";
  EXPECT_EQ(d.message.rfind("migration \"0001_role\" waited lock_timeout (300ms) for pgmt's lock on roles", 0), 0u)
      << d.message;
  EXPECT_FALSE(table_exists("public.r")) << "rolled back";
  apply_migration(*conn_, set.migrations.at(0), s);
  EXPECT_TRUE(table_exists("public.r")) << "applies once the lock is free";
}

// What a migration written for psql, or for running outside a transaction,
// gets: a note that says what to do.
TEST_F(ScriptRun, PsqlHabitsGetANote) {
  test::temp_dir dir;
  dir.write("0001_commit.sql", "create table public.c (id int);\ndo $$ begin commit; end $$;\n");
  dir.write("0002_var.sql", "create table public.v (id int);\nselect :'tenant' as tenant;\n");
  auto set = discover(dir.path());
  auto failure = [&](std::size_t i) { return failure_of(set.migrations.at(i), test::data_suite("bad_sql")).format(); };
  const std::string commit = failure(0);
  EXPECT_NE(commit.find("0001_commit.sql:2:"), std::string::npos) << commit;
  EXPECT_NE(commit.find("put -- pgmt:no-transaction in its first lines"), std::string::npos) << commit;
  const std::string var = failure(1);
  EXPECT_NE(var.find("0002_var.sql:2:8:"), std::string::npos) << var;
  EXPECT_NE(var.find("\":'tenant'\" is a psql variable"), std::string::npos) << var;
}

// A migration that lifts statement_timeout is still stopped, by pgmt, a
// grace after its limit, with the line that lifted it.
TEST_F(ScriptRun, AMigrationCannotLiftItsStatementTimeout) {
  test::temp_dir dir;
  dir.write("0001_sleep.sql", "set statement_timeout = 0;\nselect pg_sleep(60);\n");
  suite s = test::data_suite("hung_lock");
  s.statement_timeout = 1000ms;
  auto set = discover(dir.path());
  const auto t0 = std::chrono::steady_clock::now();
  diagnostic d = failure_of(set.migrations.at(0), s);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, 10s);
  EXPECT_GE(took, 1s);
  EXPECT_EQ(d.path.filename(), "0001_sleep.sql");
  EXPECT_EQ(d.line, 2);
  EXPECT_EQ(d.message, "migration \"0001_sleep\" ran past its statement_timeout (1s) and pgmt cancelled it");
  const std::string all = d.format();
  EXPECT_NE(all.find("changes statement_timeout itself at line 1"), std::string::npos) << all;
  // The connection is usable after.
  EXPECT_EQ(conn_->exec("select 1").value(0, 0), "1");
}

TEST_F(ScriptRun, EnumValueAddedInOneMigrationIsUsableInTheNext) {
  apply_data_set("enum_add_value", 3, test::data_suite("enum_add_value"));
  EXPECT_EQ(conn_->exec("select mood::text from public.people").value(0, 0), "happy");
}

TEST_F(ScriptRun, TrackingTableRecordsEachMigration) {
  auto s = test::data_suite("layouts/sections");
  auto set = discover(s.migrations_dir);
  for (const auto& m : set.migrations) apply_migration(*conn_, m, s);
  auto r =
      conn_->exec("select version, name, checksum, duration_ms >= 0 from pgmt.migrations order by version");
  ASSERT_EQ(r.rows(), 2);
  EXPECT_EQ(r.value(0, 0), "0001");
  EXPECT_EQ(r.value(0, 1), "users");
  EXPECT_EQ(r.value(0, 2), set.migrations[0].checksum());
  EXPECT_EQ(r.value(1, 1), "posts");
  EXPECT_EQ(r.value(1, 3), "t");
}

TEST_F(ScriptRun, DeferredConstraintFailsAtCommit) {
  sql_source src;
  src.path = "0001_deferred.sql";
  src.text =
      "create table p (id int primary key);\n"
      "create table c (p int references p deferrable initially deferred);\n"
      "insert into c values (42);\n";
  try {
    run_script(*conn_, src, {});
    FAIL();
  } catch (const script_error& e) {
    EXPECT_EQ(e.diag().sqlstate, "23503");
    ASSERT_FALSE(e.diag().notes.empty());
    EXPECT_NE(e.diag().notes.back().find("raised at COMMIT"), std::string::npos);
  }
  EXPECT_FALSE(table_exists("public.p"));
}

TEST_F(ScriptRun, SessionSettingsDoNotLeakIntoTheNextScript) {
  // apply runs each migration on a fresh connection; reset, idempotency and
  // roundtrip run several on one, so they must start equally clean.
  sql_source first;
  first.path = "0001_app.sql";
  first.text = "create schema app;\nset search_path = app;\nset role pg_read_all_data;\n";
  run_script(*conn_, first, {});
  sql_source second;
  second.path = "0002_t.sql";
  second.text = "create table t (id int);\n";
  run_script(*conn_, second, {});
  EXPECT_TRUE(table_exists("public.t"));
  EXPECT_FALSE(table_exists("app.t"));
  EXPECT_EQ(conn_->exec("select current_user = session_user").value(0, 0), "t");
}

TEST_F(ScriptRun, GuardedRoleCreationIsSafeInParallelDatabases) {
  // The guard and the create are apart in time: without pgmt's server-wide
  // lock both sessions see no role and one of them fails on a duplicate key.
  sql_source src;
  src.path = "0001_role.sql";
  src.text =
      "do $$\nbegin\n  if not exists (select from pg_roles where rolname = 'pgmt_race_role') then\n"
      "    perform pg_sleep(0.5);\n    create role pgmt_race_role nologin;\n  end if;\nend\n$$;\n";
  std::string other = test::fresh_database("script_race");
  std::string error_a, error_b;
  std::thread a([&] {
    try {
      connection c(test::shared_server().conninfo(db_));
      run_script(c, src, {});
    } catch (const std::exception& e) {
      error_a = e.what();
    }
  });
  std::thread b([&] {
    try {
      connection c(test::shared_server().conninfo(other));
      run_script(c, src, {});
    } catch (const std::exception& e) {
      error_b = e.what();
    }
  });
  a.join();
  b.join();
  conn_->exec("drop role if exists pgmt_race_role");
  EXPECT_EQ(error_a, "");
  EXPECT_EQ(error_b, "");
}

TEST_F(ScriptRun, UnguardedRoleCreationExplainsTheSharedServer) {
  conn_->exec("drop role if exists pgmt_dup_role");
  conn_->exec("create role pgmt_dup_role");
  sql_source src;
  src.path = "0001_role.sql";
  src.text = "create role pgmt_dup_role;\n";
  try {
    run_script(*conn_, src, {});
    ADD_FAILURE() << "expected an error";
  } catch (const script_error& e) {
    EXPECT_EQ(e.diag().sqlstate, "42710");
    ASSERT_FALSE(e.diag().notes.empty());
    EXPECT_NE(e.diag().notes[0].find("roles belong to the whole server"), std::string::npos);
  }
  conn_->exec("drop role pgmt_dup_role");
}

// A role set by a migration and left: pgmt's bookkeeping (the tracking table)
// still runs as the session's user, and the migration gets a warning at the line.
TEST_F(ScriptRun, ARoleLeftSetIsAWarningAndTheMigrationIsRecorded) {
  conn_->exec("do $$ begin if not exists (select from pg_roles where rolname = 'pgmt_left_role') then "
              "create role pgmt_left_role; end if; end $$");
  test::temp_dir dir;
  dir.write("0001_as_role.sql", "create table t (id int);\nset role pgmt_left_role;\nselect 1;\n");
  dir.write("0002_local.sql", "set local role pgmt_left_role;\nselect 1;\n");
  auto set = discover(dir.path());
  suite s;
  const run_stats left = apply_migration(*conn_, set.migrations.at(0), s);
  ASSERT_EQ(left.warnings.size(), 1u);
  EXPECT_EQ(left.warnings[0].line, 2);
  EXPECT_EQ(left.warnings[0].message.rfind("warning: SET ROLE stays in force after the migration", 0), 0u);
  const run_stats local = apply_migration(*conn_, set.migrations.at(1), s);
  EXPECT_TRUE(local.warnings.empty());
  EXPECT_EQ(conn_->exec("select count(*) from pgmt.migrations").value(0, 0), "2");
  EXPECT_EQ(conn_->exec("select current_user = session_user").value(0, 0), "t");
}

// On a server that is not pgmt's own, what would change it for good is
// refused at its line before anything runs.
TEST_F(ScriptRun, ServerWideStatementsAreRefusedOnASharedServer) {
  sql_source src;
  src.path = "0001_system.sql";
  src.text = "create table before_it (id int);\nalter system set work_mem = '8MB';\n";
  run_options o;
  o.shared_server = true;
  try {
    run_script(*conn_, src, o);
    ADD_FAILURE() << "expected a refusal";
  } catch (const script_error& e) {
    EXPECT_EQ(e.diag().headline().rfind("0001_system.sql:2:1: ALTER SYSTEM changes the configuration of the whole "
                                        "server",
                                        0),
              0u)
        << e.diag().headline();
    EXPECT_NE(e.diag().headline().find("pgmt does not run it on a server it does not own"), std::string::npos);
    EXPECT_NE(e.diag().hint.find("PGMT_SERVER=temp"), std::string::npos);
  }
  EXPECT_FALSE(table_exists("public.before_it"));
}

// On pgmt's own server a migration may make the server read-only for new
// sessions: pgmt's sessions still write (their startup options outrank it).
TEST_F(ScriptRun, ServerSettingsCannotStopPgmtsOwnSessions) {
  sql_source src;
  src.path = "0001_read_only.sql";
  src.text = "alter system set default_transaction_read_only = on;\nselect pg_reload_conf();\n";
  const run_stats stats = run_script(*conn_, src, {});
  ASSERT_EQ(stats.warnings.size(), 1u);
  EXPECT_EQ(stats.warnings[0].line, 1);
  EXPECT_NE(stats.warnings[0].format().find("pgmt puts the server's settings back"), std::string::npos);
  std::string error;
  try {
    connection c(test::shared_server().conninfo(db_));
    c.exec("create table written_after (id int)");
  } catch (const std::exception& e) {
    error = e.what();
  }
  conn_->exec("alter system reset all");
  conn_->exec("select pg_reload_conf()");
  EXPECT_EQ(error, "");
}

// A database a migration creates is dropped before each run of it on pgmt's
// own server; a second run meant to meet the first (idempotency) fails on it.
TEST_F(ScriptRun, ADatabaseAMigrationCreatesIsDroppedBeforeEachRun) {
  test::temp_dir dir;
  dir.write("0001_db.sql", "create database pgmt_test_created_by_migration;\n");
  dir.write("0002_other.sql", "create database script_test_other;\n");
  auto set = discover(dir.path());
  suite s;
  // pgmt's own prefix is never dropped for a migration: the second run fails.
  apply_migration(*conn_, set.migrations.at(0), s);
  EXPECT_EQ(failure_of(set.migrations.at(0), s).sqlstate, "42P04");
  const run_stats first = apply_migration(*conn_, set.migrations.at(1), s);
  EXPECT_EQ(first.warnings.size(), 1u);
  EXPECT_NO_THROW(apply_migration(*conn_, set.migrations.at(1), s));
  try {
    apply_migration(*conn_, set.migrations.at(1), s, false, true, true);
    ADD_FAILURE() << "the second run meets the database the first made";
  } catch (const script_error& e) {
    EXPECT_EQ(e.diag().sqlstate, "42P04");
  }
  conn_->exec("drop database pgmt_test_created_by_migration");
  conn_->exec("drop database script_test_other");
}

// pg_cron may only be created in the database cron.database_name names. On
// pgmt's own server each migration's database takes that name for the
// statement and gives it back; two at once wait for each other; nothing of it
// stays in pg_database.
TEST(LentDatabaseName, PgCronIsCreatedInEveryDatabaseOneAtATime) {
  PGMT_REQUIRE_POSTGRES();
  auto opts = server_options::from_environment();
  opts.kind = "temp";
  opts.settings = {"shared_preload_libraries=pg_cron"};
  auto srv = start_server(opts);
  connection admin(srv->info().conninfo());
  auto names = [&admin] {
    std::vector<std::string> out;
    result r = admin.exec("select datname from pg_database order by oid");
    for (int i = 0; i < r.rows(); ++i) out.push_back(r.value(i, 0));
    return out;
  };
  const std::size_t n = 4;
  for (std::size_t i = 0; i < n; ++i) admin.exec("create database cron_" + std::to_string(i));
  const auto before = names();
  sql_source src;
  src.path = "0001_cron.sql";
  src.text =
      "create table public.jobs_seen (id int);\n"
      "create extension pg_cron;\n"
      "select cron.schedule('nightly', '0 3 * * *', 'select 1');\n"
      "select pg_sleep(0.2);\n";
  std::vector<std::string> errors(n);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      try {
        connection c(srv->info().conninfo("cron_" + std::to_string(i)));
        run_script(c, src, {});
        if (c.exec("select current_database()").value(0, 0) != "cron_" + std::to_string(i))
          errors[i] = "current_database() changed";
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(errors[i], "") << "cron_" << i;
  EXPECT_EQ(names(), before) << "every database has its own name again";
  for (std::size_t i = 0; i < n; ++i) {
    connection c(srv->info().conninfo("cron_" + std::to_string(i)));
    EXPECT_EQ(c.exec("select count(*) from cron.job").value(0, 0), "1");
  }
  // A failing statement in the lent name rolls the names back with it.
  connection c(srv->info().conninfo("cron_0"));
  src.text = "create extension pg_cron;\n";
  EXPECT_THROW(run_script(c, src, {}), script_error);
  EXPECT_EQ(names(), before);
  // The renames are pgmt's, the statement the role's the migration set: its
  // own refusal, not one of pg_database.
  connection d(srv->info().conninfo("cron_1"));
  src.text = "drop extension pg_cron;\ncreate role cron_app nologin;\nset role cron_app;\ncreate extension pg_cron;\n";
  try {
    run_script(d, src, {});
    ADD_FAILURE() << "a role that is not a superuser created pg_cron";
  } catch (const script_error& e) {
    EXPECT_EQ(e.diag().line, 4);
    EXPECT_NE(e.diag().message.find("permission denied to create extension \"pg_cron\""), std::string::npos)
        << e.diag().message;
  }
  EXPECT_EQ(names(), before);
  srv->stop();
}

}  // namespace
}  // namespace pgmt
