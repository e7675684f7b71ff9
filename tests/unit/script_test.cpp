#include "pgmt/script.hpp"

#include "pgmt/text.hpp"

#include <gtest/gtest.h>

namespace pgmt {
namespace {

sql_source src(std::string text, int first_line = 1) {
  sql_source s;
  s.path = "m/0001_x.sql";
  s.text = std::move(text);
  s.first_line = first_line;
  return s;
}

std::string stmt_text(const sql_source& s, const statement& st) {
  return s.text.substr(st.start, st.offset + st.length - st.start);
}

TEST(Split, CommentsQuotesAndDollarBodies) {
  auto s =
      src("-- leading comment\ncreate table a (x text default ';');\n\n"
          "create function f() returns int language plpgsql as $body$ begin return 1; end $body$;\n"
          "/* block; comment */ select 'it''s; fine';\n-- trailing comment only\n");
  auto plan = plan_script(s);
  ASSERT_EQ(plan.statements.size(), 3u);
  EXPECT_EQ(stmt_text(s, plan.statements[0]), "create table a (x text default ';')");
  EXPECT_EQ(position_of(s.text, plan.statements[0].start).line, 2);
  EXPECT_EQ(plan.statements[1].kind, "CreateFunctionStmt");
  EXPECT_EQ(stmt_text(s, plan.statements[2]), "select 'it''s; fine'");
  EXPECT_EQ(plan.mode, tx_mode::single_transaction);
}

TEST(Split, LastStatementWithoutSemicolon) {
  auto plan = plan_script(src("select 1;\nselect 2"));
  ASSERT_EQ(plan.statements.size(), 2u);
}

TEST(Split, UnterminatedQuoteIsAnErrorAtItsPlace) {
  try {
    plan_script(src("select 1;\nselect 'oops;\n"));
    FAIL();
  } catch (const script_error& e) {
    EXPECT_EQ(e.diag().line, 2);
    EXPECT_EQ(e.diag().column, 8);
    EXPECT_NE(e.diag().message.find("unterminated quoted string"), std::string::npos) << e.what();
  }
}

std::string plan_error(const std::string& text) {
  try {
    plan_script(src(text));
  } catch (const script_error& e) {
    return e.diag().format();
  }
  return "(no error)";
}

// COPY ... FROM STDIN with its rows (pg_dump's default) is named as such, not
// as a meta-command at its "\." line.
TEST(MetaCommand, CopyFromStdinIsNamed) {
  const std::string e =
      plan_error("create table t (a int, b text);\ncopy public.t (a, b) from stdin;\n1\tx\n2\t\\N\n\\.\n");
  EXPECT_EQ(e.rfind("m/0001_x.sql:2:1: COPY ... FROM STDIN with its rows in the file; migrations must be plain SQL", 0),
            0u)
      << e;
  EXPECT_NE(e.find("INSERT statements"), std::string::npos) << e;
  EXPECT_EQ(plan_error("copy t from stdin;\n\\.\n").rfind("m/0001_x.sql:1:1: COPY ... FROM STDIN", 0), 0u);
  EXPECT_NE(plan_error("copy t from '/tmp/x';\n\\i y.sql\n").find("psql meta-command \"\\i\""), std::string::npos);
}

// pgmt's own schema holds its tracking table and is left out of snapshots:
// a migration that puts objects there, or drops it, is refused.
TEST(Plan, PgmtsOwnSchemaIsRefused) {
  EXPECT_EQ(plan_error("create table pgmt.users (id int);\n")
                .rfind("m/0001_x.sql:1:1: the statement uses the schema \"pgmt\", which pgmt keeps for itself", 0),
            0u);
  EXPECT_EQ(plan_error("select 1;\ncreate schema pgmt;\n").rfind("m/0001_x.sql:2:1: the statement uses the schema", 0),
            0u);
  EXPECT_EQ(plan_error("drop schema if exists pgmt cascade;\n")
                .rfind("m/0001_x.sql:1:1: the statement drops the schema \"pgmt\"", 0),
            0u);
  EXPECT_EQ(plan_error("alter schema pgmt rename to mine;\n")
                .rfind("m/0001_x.sql:1:1: the statement renames the schema \"pgmt\"", 0),
            0u);
  EXPECT_EQ(plan_error("select 1;\nset local search_path = pgmt, public;\n")
                .rfind("m/0001_x.sql:2:1: the statement puts the schema \"pgmt\" on the search_path", 0),
            0u);
  EXPECT_TRUE(plan_script(src("select set_config('role', 'r9', false);")).sets_role);
  EXPECT_EQ(plan_error("select count(*) from pgmt.migrations;\ncreate table app.pgmt (id int);\n"), "(no error)");
}

TEST(MetaCommand, FoundAtLineStartAndAfterSql) {
  auto s = src("select 1;\n\\i other.sql\n");
  try {
    plan_script(s);
    FAIL();
  } catch (const script_error& e) {
    EXPECT_EQ(e.diag().headline(),
              "m/0001_x.sql:2:1: psql meta-command \"\\i\" in a migration; migrations must be plain SQL");
  }
  EXPECT_EQ(find_meta_command("select 1 \\gset\n"), 9u);
  EXPECT_EQ(find_meta_command("\\c otherdb"), 0u);
}

TEST(MetaCommand, NotInsideQuotesCommentsOrBodies) {
  EXPECT_FALSE(find_meta_command("select 'C:\\path';"));
  EXPECT_FALSE(find_meta_command("select E'it\\'s \\n';"));
  EXPECT_FALSE(find_meta_command("-- \\set in a comment\nselect 1;"));
  EXPECT_FALSE(find_meta_command("/* \\i x */ select 1;"));
  EXPECT_FALSE(find_meta_command("select \"we\\ird\" from t;"));
  EXPECT_FALSE(find_meta_command("do $$ begin raise notice '\\'; end $$;"));
  EXPECT_FALSE(find_meta_command("create function f() returns text as $fn$ select '\\x' $fn$ language sql;"));
  EXPECT_TRUE(find_meta_command("select $1; \\set x"));  // $1 is no dollar quote
}

TEST(MetaCommand, DiagnosticKeepsSectionLines) {
  try {
    plan_script(src("select 1;\n\\set x 1\n", 10));
    FAIL();
  } catch (const script_error& e) {
    EXPECT_EQ(e.diag().line, 11);
  }
}

TEST(Plan, ConcurrentIndexRunsWithoutTransaction) {
  auto plan = plan_script(src("create table t (x int);\ncreate index concurrently t_x on t (x);\n"));
  EXPECT_EQ(plan.mode, tx_mode::per_statement);
  EXPECT_EQ(plan.mode_reason, "CREATE INDEX CONCURRENTLY at line 2 cannot run inside a transaction");
  EXPECT_EQ(plan.statements[1].no_transaction_reason, "CREATE INDEX CONCURRENTLY");
}

TEST(Plan, OtherStatementsThatRefuseTransactions) {
  for (const char* sql :
       {"vacuum;", "vacuum analyze t;", "reindex index concurrently i;", "drop index concurrently i;",
        "create database d;", "alter system set work_mem = '8MB';"}) {
    EXPECT_EQ(plan_script(src(sql)).mode, tx_mode::per_statement) << sql;
  }
  EXPECT_EQ(plan_script(src("analyze t;")).mode, tx_mode::single_transaction);
  EXPECT_EQ(plan_script(src("create index i on t (x);")).mode, tx_mode::single_transaction);
}

// Lock tracing reads the files of the tables an ALTER TABLE names only where
// it may rewrite or scan them.
TEST(Plan, AlterTableThatRewritesNothing) {
  auto may_rewrite = [](const std::string& sql) { return plan_script(src(sql)).statements.at(0).may_rewrite; };
  EXPECT_FALSE(may_rewrite("alter table t add column c text not null default 'x';"));
  EXPECT_FALSE(may_rewrite("alter table t add column c int;"));
  EXPECT_FALSE(may_rewrite("alter table t add column c bigint default 0, drop column d;"));
  EXPECT_FALSE(may_rewrite("alter table t add column c varchar(20) default 'a'::character varying;"));
  EXPECT_FALSE(may_rewrite("alter table t alter column c set default 1, alter column d drop not null;"));
  EXPECT_TRUE(may_rewrite("alter table t add column c uuid default gen_random_uuid();"));
  EXPECT_TRUE(may_rewrite("alter table t add column c int not null;"));
  EXPECT_TRUE(may_rewrite("alter table t add column c int not null default null;"));
  EXPECT_TRUE(may_rewrite("alter table t add column c app.money_amount default 0;"));
  EXPECT_TRUE(may_rewrite("alter table t add column c int check (c > 0);"));
  EXPECT_TRUE(may_rewrite("alter table t add column c int references p;"));
  EXPECT_TRUE(may_rewrite("alter table t add column c int generated always as identity;"));
  EXPECT_TRUE(may_rewrite("alter table t alter column c set not null;"));
  EXPECT_TRUE(may_rewrite("alter table t alter column c type bigint;"));
  EXPECT_TRUE(may_rewrite("alter table t add constraint k check (c > 0);"));
  EXPECT_TRUE(may_rewrite("alter table t set logged;"));
}

TEST(Plan, DirectiveForcesNoTransaction) {
  auto s = src("select 1;");
  s.no_transaction = true;
  auto plan = plan_script(s);
  EXPECT_EQ(plan.mode, tx_mode::per_statement);
  EXPECT_EQ(plan.mode_reason, "-- pgmt:no-transaction");
}

TEST(Plan, OwnTransactionsAreSelfManaged) {
  auto plan = plan_script(src("begin;\ncreate table a (x int);\ncommit;\n"));
  EXPECT_EQ(plan.mode, tx_mode::self_managed);
  EXPECT_TRUE(plan.statements[0].transaction_control);
  EXPECT_FALSE(plan.statements[1].transaction_control);
  // Savepoints inside our transaction are fine.
  EXPECT_EQ(plan_script(src("savepoint a; release savepoint a;")).mode, tx_mode::single_transaction);
}

TEST(Diagnostic, FormatsLikeACompiler) {
  diagnostic d;
  d.path = "migrations/0002_b.sql";
  d.line = 14;
  d.column = 5;
  d.message = "relation \"auth.users\" does not exist";
  d.sqlstate = "42P01";
  d.source_line = "\tid uuid references auth.users";
  d.hint = "create it first";
  d.notes = {"the server is PostgreSQL 15.18"};
  EXPECT_EQ(d.format(),
            "migrations/0002_b.sql:14:5: relation \"auth.users\" does not exist (SQLSTATE 42P01)\n"
            "  14 | \tid uuid references auth.users\n"
            "     | \t   ^\n"
            "  hint: create it first\n"
            "  note: the server is PostgreSQL 15.18\n");
}

// A long line (one INSERT of a whole table) is shown around the column only.
TEST(Diagnostic, ALongLineIsCutAroundTheColumn) {
  diagnostic d;
  d.path = "m.sql";
  d.line = 1;
  d.message = "syntax error at or near \"oops\"";
  d.source_line = "insert into t values " + std::string(1500000, 'x') + " oops";
  d.column = static_cast<int>(d.source_line.size()) - 3;
  const std::string out = d.format();
  EXPECT_LT(out.size(), 600u) << out.substr(0, 600);
  const std::string shown = "  1 | ..." + std::string(99, 'x') + " oops\n";
  EXPECT_NE(out.find(shown), std::string::npos) << out;
  EXPECT_NE(out.find("    | " + std::string(103, ' ') + "^\n"), std::string::npos) << out;
  d.column = 30;  // in the middle of the line, near its start
  const std::string mid = d.format();
  EXPECT_LT(mid.size(), 600u);
  EXPECT_NE(mid.find("  1 | insert into t values xxxxxxxx"), std::string::npos) << mid;
  EXPECT_NE(mid.find(std::string(129 - 30, 'x') + "...\n"), std::string::npos) << mid;
  EXPECT_NE(mid.find("    | " + std::string(29, ' ') + "^\n"), std::string::npos) << mid;
}

TEST(Diagnostic, WithoutPlace) {
  diagnostic d;
  d.message = "something broke";
  EXPECT_EQ(d.headline(), "something broke");
}

TEST(Durations, ParseAndFormat) {
  EXPECT_EQ(parse_duration("500ms").count(), 500);
  EXPECT_EQ(parse_duration("30s").count(), 30000);
  EXPECT_EQ(parse_duration("2min").count(), 120000);
  EXPECT_EQ(parse_duration("1h").count(), 3600000);
  EXPECT_EQ(parse_duration("250").count(), 250);
  EXPECT_THROW(parse_duration("fast"), input_error);
  EXPECT_THROW(parse_duration("5 days"), input_error);
  EXPECT_EQ(format_duration(std::chrono::milliseconds(500)), "500ms");
  EXPECT_EQ(format_duration(std::chrono::milliseconds(30000)), "30s");
  EXPECT_EQ(format_duration(std::chrono::milliseconds(120000)), "2min");
  EXPECT_EQ(format_server_version(150018), "15.18");
  EXPECT_EQ(format_server_version(90624), "9.6.24");
}

}  // namespace
}  // namespace pgmt

namespace pgmt {
namespace {

TEST(Plan, RoleStatementsAreMarked) {
  EXPECT_TRUE(plan_script(src("create role app_user nologin;")).touches_roles);
  EXPECT_TRUE(plan_script(src("grant app_user to someone;")).touches_roles);
  EXPECT_TRUE(plan_script(src("do $$ begin if not exists (select from pg_roles where rolname = 'x') then "
                              "create role x; end if; end $$;"))
                  .touches_roles);
  EXPECT_FALSE(plan_script(src("create table t (id int); grant select on t to app_user;")).touches_roles);
  EXPECT_FALSE(plan_script(src("do $$ begin perform 1; end $$;")).touches_roles);
}

// What every database of the server shares, or may: the engine walks such a
// set in one lane.
TEST(Plan, ServerWideStatementsAreMarked) {
  for (const char* sql : {
           "create role app_user nologin;",
           "alter user app_user set search_path = app;",
           "create database other;",
           "drop database if exists other;",
           "alter database postgres set timezone = 'UTC';",
           "create tablespace t location '/x';",
           "alter system set work_mem = '64MB';",
           "select pg_reload_conf();",
           "select pg_terminate_backend(pid) from pg_stat_activity where datname = 'x';",
           "select dblink_exec('dbname=x', 'select 1');",
           "reassign owned by a to b;",
           "do $$ begin execute 'alter role app set x = 1'; end $$;",
           "create function mk() returns void language plpgsql as $$ begin create user u; end $$;",
           "create subscription s connection 'dbname=x' publication p;",
           "do $$ begin grant authenticated to authenticator; end $$;",
           "do $$ begin execute format('grant %I to %I', 'a', 'b'); end $$;",
       })
    EXPECT_TRUE(plan_script(src(sql)).shares_server) << sql;
  for (const char* sql : {
           "create table t (id int); grant select on t to app_user;",
           "create policy p on t using (owner = current_user);",
           "create function f() returns trigger language plpgsql as $$ begin new.by := current_user; return new; "
           "end $$;",
           "do $$ begin perform 1; end $$;",
           "alter table t enable row level security;",
           "create function f() returns boolean language sql as $$ select auth.role() = 'authenticated' $$;",
           "do $$ begin execute 'grant select on t to anon'; end $$;",
           "create function d() returns text language sql as $$ select current_database()::text $$;",
       })
    EXPECT_FALSE(plan_script(src(sql)).shares_server) << sql;
}

// What reaches past the database is found at its statement, with what it
// does; what pgmt itself needs cannot be dropped.
TEST(Plan, ServerEffectsAreFoundAtTheirStatement) {
  struct want {
    const char* sql;
    const char* what;  // the start of server_effect::what
    bool refused_on_shared;
    bool changes_settings;
  };
  for (const want& w : std::vector<want>{
           {"alter system set work_mem = '64MB';", "ALTER SYSTEM changes the configuration of the whole server", true,
            true},
           {"alter role current_user set search_path = app;", "ALTER ROLE CURRENT_USER SET search_path changes", true,
            true},
           {"alter role app in database x set work_mem = '1MB';", "ALTER ROLE \"app\" SET work_mem changes", true,
            true},
           {"alter database postgres set timezone = 'UTC';", "ALTER DATABASE \"postgres\" SET timezone changes", true,
            true},
           {"create database other;", "CREATE DATABASE creates the database \"other\"", true, false},
           {"drop database if exists other;", "DROP DATABASE removes the database \"other\"", true, false},
           {"create tablespace t location '/x';", "CREATE TABLESPACE changes the server's tablespaces", true, false},
           {"select pg_terminate_backend(pid) from pg_stat_activity;", "pg_terminate_backend (or pg_cancel_backend)",
            true, false},
           {"set role app;", "SET ROLE stays in force after the migration", false, false},
           {"set session authorization app;", "SET SESSION AUTHORIZATION stays in force", false, false},
       }) {
    const auto plan = plan_script(src(std::string("select 1;\n") + w.sql + "\n"));
    ASSERT_EQ(plan.effects.size(), 1u) << w.sql;
    const auto& e = plan.effects[0];
    EXPECT_EQ(e.what.rfind(w.what, 0), 0u) << e.what;
    EXPECT_EQ(e.start, 10u) << w.sql;
    EXPECT_FALSE(e.instead.empty()) << w.sql;
    EXPECT_EQ(e.refused_on_shared, w.refused_on_shared) << w.sql;
    EXPECT_EQ(e.changes_settings, w.changes_settings) << w.sql;
  }
  EXPECT_EQ(plan_script(src("create database other;")).effects.at(0).created_database, "other");
  // A role set and put back, or set for the transaction only, stays in the migration.
  for (const char* sql : {"set role app; create table t (id int); reset role;", "set local role app;",
                          "set session authorization app; select 1; reset session authorization;",
                          "set role app; set role none;", "set role app; discard all;"}) {
    const auto plan = plan_script(src(sql));
    EXPECT_TRUE(plan.effects.empty()) << sql;
    EXPECT_TRUE(plan.sets_role) << sql;
  }
  for (const char* sql : {"create table t (id int);", "alter table t set (fillfactor = 50);",
                          "set search_path = app;", "select pg_reload_conf();"})
    EXPECT_TRUE(plan_script(src(sql)).effects.empty()) << sql;
  EXPECT_TRUE(plan_script(src("do $$ begin execute 'set role app'; end $$;")).sets_role);
}

// Text the splitter cannot read as a statement is kept, for the server to judge.
TEST(Plan, TextTheSplitterSkipsIsStillSent) {
  auto s = src("select 1; selec 2; select 3;");
  auto plan = plan_script(s);
  ASSERT_EQ(plan.statements.size(), 3u);
  EXPECT_EQ(stmt_text(s, plan.statements[1]), "selec 2");
  s = src("create table t (id int);\ncreate table o (id int, amount numeric(10,2);\ncreate index on o (id);\n");
  plan = plan_script(s);
  ASSERT_EQ(plan.statements.size(), 2u);
  EXPECT_EQ(stmt_text(s, plan.statements[1]).rfind("create table o (id int, amount numeric(10,2);\ncreate index", 0),
            0u);
  s = src("-- only a comment\n;\n;  /* and another */\n");
  EXPECT_TRUE(plan_script(s).statements.empty());
}

// An unterminated quote early in a large file: the message the scanner gives
// quotes the rest of the file; it is cut.
TEST(Plan, AMessageQuotingTheRestOfTheFileIsCut) {
  std::string text = "select 'x;";
  for (int i = 0; i < 20000; ++i) text += "insert into a values (1);";
  const std::string e = plan_error(text);
  EXPECT_EQ(e.rfind("m/0001_x.sql:1:8: unterminated quoted string at or near", 0), 0u) << e.substr(0, 300);
  EXPECT_LT(e.size(), 1000u);
  EXPECT_NE(e.find("bytes in all)"), std::string::npos);
}

TEST(Plan, DatabasesPgmtNeedsCannotBeDropped) {
  for (const char* db : {"postgres", "template1", "template0", "pgmt_s1_abc"}) {
    const std::string e = plan_error(std::string("select 1;\ndrop database if exists ") + db + " with (force);\n");
    EXPECT_EQ(e.rfind(std::string("m/0001_x.sql:2:1: the statement drops the database \"") + db + "\"", 0), 0u) << e;
  }
  EXPECT_EQ(plan_error("drop database if exists other;\n"), "(no error)");
}

}  // namespace
}  // namespace pgmt
