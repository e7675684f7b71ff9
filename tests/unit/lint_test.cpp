// Lint: for every rule, SQL that trips it (at the right line and column)
// and SQL that must not; lint-ignore, LINT_IGNORE, LINT_ERRORS; the manifest.
#include "pgmt/lint.hpp"

#include "pgmt/migration.hpp"

#include "pgmt/text.hpp"

#include <gtest/gtest.h>

#include <stdlib.h>

#include <algorithm>
#include <fstream>
#include <stdexcept>

namespace pgmt {
namespace {

namespace fs = std::filesystem;

sql_source source(const std::string& text, bool no_transaction = false) {
  sql_source s;
  s.path = "0002_change.sql";
  s.text = text;
  s.no_transaction = no_transaction;
  read_directives(s, nullptr);  // -- pgmt:no-transaction
  return s;
}

std::vector<lint_finding> lint(const std::string& text, lint_options o = {}) { return lint_source(source(text), o); }

// The findings of rule, as "line:column".
std::vector<std::string> places(const std::vector<lint_finding>& fs, const std::string& rule) {
  std::vector<std::string> out;
  for (const auto& f : fs)
    if (f.rule == rule) out.push_back(std::to_string(f.where.line) + ":" + std::to_string(f.where.column));
  return out;
}

struct rule_case {
  const char* rule;
  const char* trips;  // SQL with the hazard
  const char* where;  // line:column of the finding
  const char* clean;  // SQL that must not trip the rule
  bool robust;        // the migration runs twice
  const char* profile;
};

rule_case rc(const char* rule, const char* trips, const char* where, const char* clean, bool robust = false,
             const char* profile = "") {
  return {rule, trips, where, clean, robust, profile};
}

class LintRule : public ::testing::TestWithParam<rule_case> {};

TEST_P(LintRule, TripsOnTheHazardAndNotOnTheSafeForm) {
  const rule_case& c = GetParam();
  lint_options o;
  o.robust = c.robust;
  o.profile = c.profile;
  const auto found = lint(c.trips, o);
  EXPECT_EQ(places(found, c.rule), std::vector<std::string>{c.where}) << c.trips;
  for (const auto& f : found) {
    if (f.rule != c.rule) continue;
    EXPECT_EQ(f.where.message.rfind(std::string(c.rule) + ": ", 0), 0u) << f.where.message;
    EXPECT_FALSE(f.where.hint.empty());
    EXPECT_FALSE(f.where.source_line.empty());
  }
  EXPECT_TRUE(places(lint(c.clean, o), c.rule).empty()) << c.clean;
}

const rule_case rule_cases[] = {
    rc("adding-field-with-default", "alter table orders\n  add column token uuid default gen_random_uuid();\n", "2:14",
     "alter table orders add column created timestamptz default now();\n"
     "create table t (id int);\nalter table t add column token uuid default gen_random_uuid();\n"),
    rc("adding-not-nullable-field", "alter table orders alter column note set not null;\n", "1:33",
     "create table t (note text);\nalter table t alter column note set not null;\n"
     "alter table orders add constraint note_nn check (note is not null) not valid;\n"
     "alter table orders validate constraint note_nn;\nalter table orders alter column note set not null;\n"),
    rc("adding-required-field", "alter table orders add column owner bigint not null;\n", "1:31",
     "alter table orders add column owner bigint not null default 0;\nalter table orders add column note text;\n"
     "create table t (id int);\nalter table t add column owner bigint not null;\n"),
    rc("adding-foreign-key-constraint",
     "alter table orders add constraint orders_user_fk foreign key (user_id) references users (id);\n", "1:24",
     "alter table orders add constraint orders_user_fk foreign key (user_id) references users (id) not valid;\n"
     "alter table orders validate constraint orders_user_fk;\n"),
    rc("constraint-missing-not-valid", "alter table orders add constraint positive check (amount > 0);\n", "1:24",
     "alter table orders add constraint positive check (amount > 0) not valid;\n"),
    rc("disallowed-unique-constraint", "alter table orders add constraint orders_code_key unique (code);\n", "1:24",
     "create unique index concurrently orders_code_idx on orders (code);\n"
     "alter table orders add constraint orders_code_key unique using index orders_code_idx;\n"),
    rc("adding-serial-primary-key-field", "alter table orders add primary key (id);\n", "1:24",
     "create table t (id int);\nalter table t add primary key (id);\n"),
    rc("require-concurrent-index-creation", "select 1;\ncreate index orders_user_idx on orders (user_id);\n", "2:1",
     "create index concurrently orders_user_idx on orders (user_id);\n"
     "create table t (x int);\ncreate index t_x on t (x);\n"),
    rc("require-concurrent-index-deletion", "drop index orders_user_idx;\n", "1:1",
     "drop index concurrently orders_user_idx;\ncreate table t (x int);\ncreate index t_x on t (x);\n"
     "drop index t_x;\n"),
    rc("changing-column-type", "alter table orders alter column amount type bigint;\n", "1:33",
     "create table t (amount int);\nalter table t alter column amount type bigint;\n"),
    rc("ban-drop-table", "drop table orders;\n", "1:1", "create table t (x int);\ndrop table t;\n"),
    rc("ban-drop-column", "alter table orders drop column note;\n", "1:32",
     "create table t (note text);\nalter table t drop column note;\n"),
    rc("renaming-column", "alter table orders rename column note to notes;\n", "1:1",
     "create table t (note text);\nalter table t rename column note to notes;\n"),
    rc("renaming-table", "alter table orders rename to purchases;\n", "1:1",
     "create table t (x int);\nalter table t rename to u;\n"),
    rc("ban-truncate-cascade", "truncate orders cascade;\n", "1:1", "truncate orders;\n"),
    rc("prefer-repack", "vacuum full orders;\n", "1:1", "vacuum orders;\nanalyze orders;\n"),
    rc("require-enum-value-ordering", "alter type status add value 'pending';\n", "1:1",
     "alter type status add value 'pending' before 'approved';\n"),
    rc("enum-value-used-in-transaction",
     "alter type status add value 'pending' before 'approved';\nupdate orders set status = 'pending';\n", "2:1",
     "alter type status add value 'pending' before 'approved';\nupdate orders set status = 'approved';\n"),
    rc("ban-uncommitted-transaction", "begin;\ncreate table t (x int);\n", "1:1",
     "begin;\ncreate table t (x int);\ncommit;\n"),
    rc("transaction-commit-in-do",
     "do $$\nbegin\n  insert into t values (1);\n  commit;\nend $$;\n", "4:3",
     "do $$\nbegin\n  insert into t values (1);\nend $$;\n"),
    rc("ban-concurrent-index-creation-in-transaction",
     "begin;\ncreate index concurrently orders_user_idx on orders (user_id);\ncommit;\n", "2:1",
     "create index concurrently orders_user_idx on orders (user_id);\n"),
    rc("ban-non-transactional-in-transaction", "begin;\nvacuum analyze orders;\ncommit;\n", "2:1",
     "vacuum analyze orders;\n"),
    rc("non-transactional-with-others", "insert into orders (id) values (1);\nvacuum analyze orders;\n", "2:1",
     "-- pgmt:no-transaction\ninsert into orders (id) values (1);\nvacuum analyze orders;\n"),
    rc("require-lock-timeout", "alter table orders add column note text;\n", "1:13",
     "set lock_timeout = '2s';\nalter table orders add column note text;\n"),
    rc("identifier-too-long",
     "create table t (x int);\nalter table t add column "
     "a_column_name_that_goes_on_and_on_and_on_and_on_and_on_and_on_past_63 int;\n",
     "2:26",
     "create table t (a_column_name_that_goes_on_and_on_and_on_and_on_and_on_just_63_ int);\n"),
    rc("prefer-identity", "create table t (id serial primary key);\n", "1:20",
     "create table t (id bigint generated by default as identity primary key);\n"),
    rc("prefer-timestamptz", "create table t (at timestamp);\n", "1:20", "create table t (at timestamptz);\n"),
    rc("prefer-text-field", "create table t (name varchar(40));\n", "1:22",
     "create table t (name text check (length(name) <= 40), other varchar);\n"),
    rc("ban-char-field", "create table t (code char(2));\n", "1:22", "create table t (code text);\n"),
    rc("prefer-jsonb", "create table t (doc json);\n", "1:21", "create table t (doc jsonb);\n"),
    rc("security-definer-search-path",
     "create function f() returns int language sql security definer as 'select 1';\n", "1:1",
     "create function f() returns int language sql security definer set search_path = '' as 'select 1';\n"
     "create function g() returns int language sql as 'select 1';\n"),
    rc("rls-disabled-in-public", "create table public.notes (id int);\n", "1:14",
     "create table public.notes (id int);\nalter table public.notes enable row level security;\n"
     "create table private.keys (id int);\n",
     false, "supabase"),
    rc("prefer-robust-stmts", "create table t (x int);\n", "1:1",
     "create table if not exists t (x int);\ncreate index if not exists t_x on t (x);\n", true),
};

INSTANTIATE_TEST_SUITE_P(EveryRule, LintRule, ::testing::ValuesIn(rule_cases),
                         [](const ::testing::TestParamInfo<rule_case>& info) {
                           std::string n = info.param.rule;
                           for (auto& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

TEST(Lint, EveryRuleHasATestCaseOrIsAManifestRule) {
  for (const auto& r : lint_rules()) {
    const std::string id = r.id;
    // The manifest's rules and the trace's own have tests of their own (LintManifest, cli.lint_traced).
    if (id.rfind("manifest-", 0) == 0 || id == "lint-ignore-invalid" || id == "blocking-lock-on-existing-table")
      continue;
    bool found = false;
    for (const auto& c : rule_cases) found = found || id == c.rule;
    EXPECT_TRUE(found) << id << " has no case in rule_cases";
  }
}

TEST(Lint, RulesOutsideTheirScopeStayQuiet) {
  // prefer-robust-stmts only where the migration runs twice; RLS only under supabase.
  EXPECT_TRUE(places(lint("create table t (x int);\n"), "prefer-robust-stmts").empty());
  EXPECT_TRUE(places(lint("create table public.notes (id int);\n"), "rls-disabled-in-public").empty());
  // A file run without a transaction commits each statement: the label is there.
  EXPECT_TRUE(places(lint_source(source("alter type status add value 'pending' before 'a';\n"
                                        "update orders set status = 'pending';\n",
                                        true),
                                 {}),
                     "enum-value-used-in-transaction")
                  .empty());
}

TEST(Lint, EnumLabelUsedInsideADoBlock) {
  // The DO block's SQL is parsed for the label, statements and expressions alike.
  EXPECT_EQ(places(lint("alter type status add value 'pending' before 'a';\n"
                        "do $$\nbegin\n  update orders set status = 'pending';\nend $$;\n"),
                   "enum-value-used-in-transaction"),
            std::vector<std::string>{"2:1"});
  EXPECT_EQ(places(lint("alter type status add value 'pending' before 'a';\n"
                        "do $$\ndeclare s status;\nbegin\n  s := 'pending';\nend $$;\n"),
                   "enum-value-used-in-transaction"),
            std::vector<std::string>{"2:1"});
  EXPECT_TRUE(places(lint("alter type status add value 'pending' before 'a';\n"
                          "do $$\nbegin\n  update orders set status = 'approved';\nend $$;\n"),
                     "enum-value-used-in-transaction")
                  .empty());
}

TEST(Lint, WhatTheFirstRulesMissed) {
  // A serial added to an existing table rewrites it.
  EXPECT_EQ(places(lint("alter table orders add column n serial;\n"), "adding-field-with-default"),
            std::vector<std::string>{"1:31"});
  // lock_timeout = 0 is no limit.
  EXPECT_EQ(places(lint("set lock_timeout = 0;\nalter table orders add column n int;\n"), "require-lock-timeout"),
            std::vector<std::string>{"2:13"});
  EXPECT_TRUE(
      places(lint("set lock_timeout = '2s';\nalter table orders add column n int;\n"), "require-lock-timeout").empty());
  // DROP INDEX locks its table.
  EXPECT_EQ(places(lint("drop index orders_idx;\n"), "require-lock-timeout"), std::vector<std::string>{"1:1"});
  // A search_path given by ALTER FUNCTION later in the file; SECURITY DEFINER given by ALTER FUNCTION.
  EXPECT_TRUE(places(lint("create function f() returns int language sql security definer as 'select 1';\n"
                          "alter function f() set search_path = '';\n"),
                     "security-definer-search-path")
                  .empty());
  EXPECT_EQ(places(lint("alter function public.f2() security definer;\n"), "security-definer-search-path"),
            std::vector<std::string>{"1:1"});
  // CREATE TABLE AS in public under the supabase profile.
  lint_options supa;
  supa.profile = "supabase";
  EXPECT_EQ(places(lint("create table public.snap as select 1 as id;\n", supa), "rls-disabled-in-public"),
            std::vector<std::string>{"1:14"});
  // Idempotency: ADD/DROP COLUMN, views, functions, schemas, sequences.
  lint_options robust;
  robust.robust = true;
  const auto found = lint(
      "alter table t add column z int;\nalter table t drop column a;\ncreate view v as select 1;\n"
      "create function f() returns int language sql as 'select 1';\ncreate schema s;\ncreate sequence q;\n"
      "alter table t add column if not exists y int;\ncreate or replace view w as select 1;\n",
      robust);
  EXPECT_EQ(places(found, "prefer-robust-stmts"),
            (std::vector<std::string>{"1:26", "2:27", "3:1", "4:1", "5:1", "6:1"}));
  // A name cut at a character's start: 35 two-byte characters are 70 bytes.
  std::string long_name;
  for (int i = 0; i < 35; ++i) long_name += "\xc3\xa9";
  EXPECT_EQ(places(lint("create table \"" + long_name + "\" (id int);\n"), "identifier-too-long").size(), 1u);
}

// A default that wraps a volatile call names the volatile one.
TEST(Lint, AVolatileDefaultNamesTheVolatileCall) {
  const auto found = lint("alter table orders add column e text default md5(random()::text);\n");
  const auto it = std::find_if(found.begin(), found.end(),
                               [](const lint_finding& f) { return f.rule == "adding-field-with-default"; });
  ASSERT_NE(it, found.end());
  EXPECT_NE(it->where.message.find("with the default random()"), std::string::npos) << it->where.message;
}

// REINDEX CONCURRENTLY has no rule of squawk's: it is pgmt's.
TEST(Lint, ReindexConcurrentlyInsideTheFilesTransaction) {
  EXPECT_EQ(places(lint("begin;\nreindex index concurrently orders_pkey;\ncommit;\n"),
                   "ban-non-transactional-in-transaction"),
            std::vector<std::string>{"2:1"});
}

// SET LOCAL ends with the transaction it is in: the next one needs its own.
// After the file's own COMMIT: tools that send the file as one query still fail.
TEST(Lint, NonTransactionalAfterTheFilesOwnCommit) {
  EXPECT_EQ(places(lint("begin;\ninsert into orders (id) values (1);\ncommit;\nvacuum analyze orders;\n"),
                   "non-transactional-with-others"),
            std::vector<std::string>{"4:1"});
}

TEST(Lint, SetLocalLockTimeoutEndsWithItsTransaction) {
  const std::string two_blocks =
      "begin;\nset local lock_timeout = '5s';\nalter table orders add column note text;\ncommit;\n"
      "begin;\nalter table orders add column memo text;\ncommit;\n";
  EXPECT_EQ(places(lint(two_blocks), "require-lock-timeout"), std::vector<std::string>{"6:13"});
  // Outside any transaction (a file run statement by statement) it does nothing.
  EXPECT_EQ(places(lint("-- pgmt:no-transaction\nset local lock_timeout = '5s';\n"
                        "alter table orders add column note text;\n"),
                   "require-lock-timeout"),
            std::vector<std::string>{"3:13"});
  // In the transaction pgmt runs the file in, it lasts to the end.
  EXPECT_TRUE(places(lint("set local lock_timeout = '5s';\nalter table orders add column note text;\n"),
                     "require-lock-timeout")
                  .empty());
}

TEST(Lint, SQLThatDoesNotParseIsAnErrorAtItsPlace) {
  try {
    (void)lint("create table u (id int,);\ncreate table v (id serial);\n");
    ADD_FAILURE() << "a syntax error must not pass";
  } catch (const script_error& e) {
    EXPECT_EQ(e.diag().line, 1);
    EXPECT_EQ(e.diag().column, 24);
    EXPECT_NE(e.diag().message.find("syntax error"), std::string::npos);
  }
}

TEST(Lint, AStatementsLintIgnoreLiftsTheRuleThereOnly) {
  const auto found = lint(
      "-- pgmt:lint-ignore ban-drop-table the table was empty since 2024\n"
      "drop table legacy;\n"
      "drop table other;\n");
  EXPECT_EQ(places(found, "ban-drop-table"), std::vector<std::string>{"3:1"});
  EXPECT_TRUE(places(found, "lint-ignore-invalid").empty());
}

TEST(Lint, ABadLintIgnoreIsAnErrorAtItsLine) {
  auto found = lint("select 1;\n-- pgmt:lint-ignore no-such-rule because\ndrop table t;\n");
  ASSERT_EQ(places(found, "lint-ignore-invalid"), std::vector<std::string>{"2:1"});
  EXPECT_NE(found.front().where.message.find("\"no-such-rule\", which is no rule"), std::string::npos);
  EXPECT_TRUE(found.front().error);
  found = lint("-- pgmt:lint-ignore ban-drop-table\ndrop table t;\n");
  ASSERT_EQ(places(found, "lint-ignore-invalid"), std::vector<std::string>{"1:1"});
  EXPECT_NE(found.front().where.message.find("gives no reason"), std::string::npos);
  EXPECT_EQ(places(found, "ban-drop-table").size(), 1u) << "a lint-ignore without a reason lifts nothing";
}

TEST(Lint, LintIgnoreAndLintErrorsOfTheSuite) {
  lint_options o;
  o.ignore = {"ban-drop-table"};
  EXPECT_TRUE(lint("drop table t;\n", o).empty());
  auto found = lint("alter table t drop column c;\n");
  ASSERT_FALSE(found.empty());
  EXPECT_FALSE(found.front().error) << "ban-drop-column warns by default";
  o = {};
  o.errors = std::set<std::string>{"ban-drop-column"};
  found = lint("alter table t drop column c;\n", o);
  ASSERT_EQ(places(found, "ban-drop-column").size(), 1u);
  for (const auto& f : found) EXPECT_EQ(f.error, f.rule == "ban-drop-column") << f.rule;
  o.errors = std::set<std::string>{"all"};
  for (const auto& f : lint("alter table t drop column c;\n", o)) EXPECT_TRUE(f.error) << f.rule;
  // An error rule left out of LINT_ERRORS warns.
  o.errors = std::set<std::string>{};
  for (const auto& f : lint("begin;\n", o)) EXPECT_FALSE(f.error) << f.rule;
}

TEST(Lint, FindingsAreInFileOrderWithTheStatementsLine) {
  sql_source s = source("create table t (x int);\n\n-- a comment\nalter table orders\n  drop column note;\n");
  s.first_line = 10;  // a dbmate section that starts at line 10
  const auto found = lint_source(s, {});
  ASSERT_FALSE(found.empty());
  EXPECT_EQ(found.front().where.line, 13);
  EXPECT_EQ(found.front().where.path, "0002_change.sql");
}

TEST(Lint, RulesMarkdownListsEveryRule) {
  const std::string md = lint_rules_markdown();
  for (const auto& r : lint_rules()) EXPECT_NE(md.find(std::string("`") + r.id + "`"), std::string::npos) << r.id;
}

class LintManifest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "pgmt-unit-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path write(const std::string& text) {
    const fs::path p = dir_ / "manifest.json";
    std::ofstream(p) << text;
    return p;
  }
  fs::path dir_;
};

TEST_F(LintManifest, UnlistedAndDeprecatedTablesAndEnumsAreErrorsAtTheirLine) {
  const lint_manifest m = read_lint_manifest(write(R"({
    "tables": ["orders", "app.users"],
    "enums": ["status"],
    "deprecated": ["legacy_orders", "old_status"],
    "columns": {"orders": ["id", "amount"]}
  })"));
  lint_options o;
  o.manifest = &m;
  const auto found = lint(
      "create table orders (id int, amount int);\n"   // listed
      "create table app.users (id int);\n"            // listed, qualified
      "create table invoices (id int);\n"             // not listed
      "alter table legacy_orders add column x int;\n"  // deprecated
      "create type mood as enum ('a');\n"             // not listed
      "alter type old_status add value 'x' before 'a';\n"  // deprecated
      "alter table orders add column note text;\n",  // column not listed
      o);
  EXPECT_EQ(places(found, "manifest-unlisted-table"), std::vector<std::string>{"3:14"});
  EXPECT_EQ(places(found, "manifest-deprecated"), (std::vector<std::string>{"4:13", "6:1"}));
  EXPECT_EQ(places(found, "manifest-unlisted-enum"), std::vector<std::string>{"5:1"});
  EXPECT_EQ(places(found, "manifest-unlisted-column"), std::vector<std::string>{"7:31"});
  for (const auto& f : found)
    if (f.rule.rfind("manifest-", 0) == 0) {
      EXPECT_TRUE(f.error) << f.rule;
    }
}

TEST_F(LintManifest, ABadManifestSaysWhatIsWrong) {
  auto message = [&](const std::string& text) {
    try {
      (void)read_lint_manifest(write(text));
    } catch (const input_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("[1,2]").find("must be a JSON object"), std::string::npos);
  EXPECT_NE(message("{\"tables\": \"orders\"}").find("\"tables\" must be an array of names"), std::string::npos);
  EXPECT_NE(message("{\"tables\": [1]}").find("\"tables\" holds 1, not a name"), std::string::npos);
  EXPECT_NE(message("{\"tabels\": []}").find("unknown key \"tabels\""), std::string::npos);
  EXPECT_NE(message("{").find("not valid JSON"), std::string::npos);
  try {
    (void)read_lint_manifest(dir_ / "missing.json");
    ADD_FAILURE();
  } catch (const input_error& e) {
    EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos);
  }
}

}  // namespace
}  // namespace pgmt
