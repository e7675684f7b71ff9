#include "pgmt/migration.hpp"

#include "pgmt/text.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <stdexcept>

#include <stdlib.h>
#include <sys/stat.h>

namespace pgmt {
namespace {

namespace fs = std::filesystem;
const fs::path data = PGMT_TEST_DATA;

std::string error_of(const fs::path& dir, layout forced = layout::automatic) {
  try {
    discover(dir, forced);
  } catch (const input_error& e) {
    return e.what();
  }
  return "(no error)";
}

class Layouts : public ::testing::TestWithParam<std::pair<const char*, layout>> {};

TEST_P(Layouts, DetectedWithUpsAndDowns) {
  auto [name, expected] = GetParam();
  migration_set set = discover(data / "layouts" / name);
  EXPECT_EQ(set.kind, expected);
  ASSERT_EQ(set.migrations.size(), 2u);
  EXPECT_EQ(set.migrations[0].version, "0001");
  EXPECT_EQ(set.migrations[0].name, "users");
  EXPECT_EQ(set.migrations[1].id(), "0002_posts");
  EXPECT_NE(set.migrations[0].up.text.find("public.users (id int primary key"), std::string::npos);
  if (expected == layout::flat) {
    EXPECT_FALSE(set.migrations[0].down);
  } else {
    ASSERT_TRUE(set.migrations[0].down);
    EXPECT_NE(set.migrations[0].down->text.find("drop table public.users"), std::string::npos);
  }
  EXPECT_EQ(set.migrations[0].checksum(), migration_checksum(set.migrations[0].up.text));
  // Forcing the layout it has gives the same result.
  EXPECT_EQ(discover(data / "layouts" / name, expected).migrations.size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(All, Layouts,
                         ::testing::Values(std::pair{"flat", layout::flat},
                                           std::pair{"paired", layout::paired},
                                           std::pair{"split", layout::split},
                                           std::pair{"folders", layout::folders},
                                           std::pair{"sections", layout::sections}),
                         [](const auto& info) { return std::string(info.param.first); });

TEST(Sections, SplitsUpAndDownKeepingFileLines) {
  migration_set set = discover(data / "layouts" / "sections");
  const migration& m = set.migrations[0];
  EXPECT_EQ(m.up.first_line, 2);
  EXPECT_EQ(m.down->first_line, 5);
  EXPECT_EQ(m.down->text, "drop table public.users;\n");
  EXPECT_FALSE(m.up.no_transaction);
  EXPECT_TRUE(set.migrations[1].up.no_transaction) << "dbmate's transaction:false";
}

TEST(Discover, ExampleSuiteIsPairedAndOrdered) {
  migration_set set = discover(fs::path(PGMT_SOURCE_DIR) / "migrations");
  EXPECT_EQ(set.kind, layout::paired);
  ASSERT_GE(set.migrations.size(), 5u);
  for (std::size_t i = 1; i < set.migrations.size(); ++i)
    EXPECT_LT(set.migrations[i - 1].version, set.migrations[i].version);
  EXPECT_TRUE(set.migrations.back().up.no_transaction);
}

TEST(Discover, DuplicateVersionNamesBothFiles) {
  auto e = error_of(data / "duplicate_version");
  EXPECT_NE(e.find("duplicate migration version \"0001\""), std::string::npos) << e;
  EXPECT_NE(e.find("duplicate_version/0001_a.sql"), std::string::npos) << e;
  EXPECT_NE(e.find("duplicate_version/0001_b.sql"), std::string::npos) << e;
}

TEST(Discover, DownWithoutUp) {
  auto e = error_of(data / "down_without_up");
  EXPECT_NE(e.find("down script \""), std::string::npos) << e;
  EXPECT_NE(e.find("0002_b.down.sql\" has no up script"), std::string::npos) << e;
}

// A folder of files made for one test, removed after it.
class scratch {
 public:
  scratch() {
    std::string tmpl = (fs::temp_directory_path() / "pgmt-unit-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~scratch() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  scratch(const scratch&) = delete;
  scratch& operator=(const scratch&) = delete;
  const scratch& file(const std::string& name, const std::string& text = "select 1;\n") const {
    std::ofstream(path_ / name) << text;
    return *this;
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string versions(const migration_set& set) {
  std::string out;
  for (const auto& m : set.migrations) out += (out.empty() ? "" : ",") + m.version;
  return out;
}

// golang-migrate and sqlx read a version of digits as a number; Supabase and
// dbmate compare names.
TEST(Discover, OrderFollowsTheLayoutsTools) {
  scratch paired;
  for (const char* v : {"1", "2", "9", "10"})
    paired.file(std::string(v) + "_m.up.sql").file(std::string(v) + "_m.down.sql");
  EXPECT_EQ(versions(discover(paired.path())), "1,2,9,10");
  scratch split;
  fs::create_directories(split.path() / "up");
  for (const char* v : {"10", "9", "2"}) split.file(std::string("up/") + v + "_m.sql");
  EXPECT_EQ(versions(discover(split.path())), "2,9,10");
  scratch flat;
  for (const char* v : {"1", "2", "10"}) flat.file(std::string(v) + "_m.sql");
  EXPECT_EQ(versions(discover(flat.path())), "1,10,2") << "Supabase applies files in name order";
  scratch dashes;
  for (const char* v : {"2024-01-10-000000", "2024-01-09-000000"}) {
    fs::create_directories(dashes.path() / (std::string(v) + "_m"));
    dashes.file(std::string(v) + "_m/up.sql");
  }
  EXPECT_EQ(versions(discover(dashes.path())), "2024-01-09-000000,2024-01-10-000000");
}

TEST(Discover, UpAndDownPairByVersion) {
  scratch dir;
  dir.file("0001_create_a.up.sql", "create table a ();\n").file("0001_create_b.down.sql", "drop table a;\n");
  auto set = discover(dir.path());
  ASSERT_EQ(set.migrations.size(), 1u);
  EXPECT_EQ(set.migrations[0].name, "create_a");
  ASSERT_TRUE(set.migrations[0].down);
  EXPECT_EQ(set.migrations[0].down->text, "drop table a;\n");
  dir.file("0001_create_c.down.sql");
  auto e = error_of(dir.path());
  EXPECT_NE(e.find("two down scripts for version \"0001\""), std::string::npos) << e;
  EXPECT_NE(e.find("0001_create_c.down.sql"), std::string::npos) << e;
}

TEST(Discover, OneNumberIsOneVersion) {
  scratch dir;
  dir.file("01_a.up.sql").file("1_b.up.sql");
  auto e = error_of(dir.path());
  EXPECT_NE(e.find("duplicate migration version"), std::string::npos) << e;
  EXPECT_NE(e.find("01_a.up.sql"), std::string::npos) << e;
  EXPECT_NE(e.find("1_b.up.sql"), std::string::npos) << e;
}

TEST(Discover, AVersionTestsCannotNameIsAnError) {
  scratch dir;
  dir.file("00 01_a.sql");
  auto e = error_of(dir.path());
  EXPECT_NE(e.find("00 01_a.sql: version \"00 01\" has a character test names cannot carry (' ')"),
            std::string::npos)
      << e;
}

TEST(Discover, EmptyFolder) {
  auto e = error_of(data / "empty");
  EXPECT_NE(e.find("no migrations found in"), std::string::npos) << e;
  EXPECT_NE(e.find("<version>_<name>.sql"), std::string::npos) << "says what is expected: " << e;
}

TEST(Discover, MixOfLayoutsNamesFilesOfEach) {
  auto e = error_of(data / "mixed_layouts");
  EXPECT_NE(e.find("mixes migration layouts"), std::string::npos) << e;
  EXPECT_NE(e.find("paired: \""), std::string::npos) << e;
  EXPECT_NE(e.find("0002_b.up.sql"), std::string::npos) << e;
  EXPECT_NE(e.find("flat: \""), std::string::npos) << e;
  EXPECT_NE(e.find("0001_a.sql"), std::string::npos) << e;
}

TEST(Discover, MissingFolder) {
  auto e = error_of(data / "no_such_folder");
  EXPECT_NE(e.find("does not exist"), std::string::npos) << e;
}

class TempSet : public ::testing::Test {
 protected:
  fs::path dir_ =
      fs::temp_directory_path() /
      ("pgmt-mig-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
  void SetUp() override {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& rel, const std::string& bytes) {
    fs::create_directories((dir_ / rel).parent_path());
    std::ofstream(dir_ / rel, std::ios::binary) << bytes;
  }
};

TEST_F(TempSet, NotUtf8NamesFileAndLine) {
  write("0001_a.sql", "select 1;\n");
  write("0002_b.sql", "-- caf\xE9\nselect 2;\n");
  auto e = error_of(dir_);
  EXPECT_NE(e.find("0002_b.sql:1:7: file is not valid UTF-8"), std::string::npos) << e;
}

TEST_F(TempSet, ByteOrderOfVersions) {
  write("2026-06-03-220228-0000_b.sql", "select 2;");
  write("2019-02-26-002946_a.sql", "select 1;");
  write("2026-06-03-220228-0001_c.sql", "select 3;");
  auto set = discover(dir_);
  ASSERT_EQ(set.migrations.size(), 3u);
  EXPECT_EQ(set.migrations[0].name, "a");
  EXPECT_EQ(set.migrations[1].name, "b");
  EXPECT_EQ(set.migrations[2].name, "c");
}

TEST_F(TempSet, IgnoresNonSqlAndHiddenFiles) {
  write("0001_a.sql", "select 1;");
  write("README.md", "# migrations");
  write(".0002_hidden.sql", "select 2;");
  EXPECT_EQ(discover(dir_).migrations.size(), 1u);
}

TEST_F(TempSet, FileWithoutVersionIsAnError) {
  write("0001_a.sql", "select 1;");
  write("schema.sql", "select 2;");
  auto e = error_of(dir_);
  EXPECT_NE(e.find("schema.sql: name does not start with a version"), std::string::npos) << e;
}

TEST_F(TempSet, Directives) {
  write("0001_a.sql",
        "-- Adds an index.\n-- pgmt:no-transaction\n--   pgmt:irreversible\n-- pgmt:not-idempotent seeds "
        "rows\n\n"
        "create index concurrently i on t (x);\n-- pgmt:ignored-after-sql\n");
  auto m = discover(dir_).migrations.at(0);
  EXPECT_TRUE(m.up.no_transaction);
  EXPECT_TRUE(m.irreversible);
  EXPECT_TRUE(m.not_idempotent);
  EXPECT_EQ(m.not_idempotent_reason, "seeds rows");
}

// A block comment among the leading lines (a license header) is read past.
TEST_F(TempSet, DirectivesAfterALeadingBlockComment) {
  write("0001_a.sql", "/* Copyright the authors.\n   Licensed as the project is. */\n-- pgmt:no-transaction\n"
                      "vacuum t;\nanalyze t;\n");
  EXPECT_TRUE(discover(dir_).migrations.at(0).up.no_transaction);
}

// A directive after the first SQL line would be ignored: an error at its line.
TEST_F(TempSet, ADirectiveAfterSqlIsAnErrorAtItsLine) {
  write("0001_a.sql", "select 1;\n-- pgmt:no-transaction\nvacuum t;\n");
  auto e = error_of(dir_);
  EXPECT_NE(e.find("0001_a.sql:2: \"-- pgmt:no-transaction\" comes after the first SQL line"), std::string::npos)
      << e;
}

TEST_F(TempSet, UnknownDirectiveAtItsLine) {
  write("0001_a.sql", "-- header\n-- pgmt:no-transactoin\nselect 1;\n");
  auto e = error_of(dir_);
  EXPECT_NE(e.find("0001_a.sql:2: unknown directive \"pgmt:no-transactoin\""), std::string::npos) << e;
}

TEST_F(TempSet, FoldersDownWithoutUp) {
  write("0001_a/up.sql", "select 1;");
  write("0002_b/down.sql", "select 2;");
  auto e = error_of(dir_);
  EXPECT_NE(e.find("0002_b/down.sql\" has no up script"), std::string::npos) << e;
}

TEST_F(TempSet, SplitDownWithoutUp) {
  write("up/0001_a.sql", "select 1;");
  write("down/0001_a.sql", "select 1;");
  write("down/0002_b.sql", "select 2;");
  auto e = error_of(dir_);
  EXPECT_NE(e.find("down/0002_b.sql\" has no up script"), std::string::npos) << e;
}

TEST_F(TempSet, SectionsWithTwoDownMarkers) {
  write("0001_a.sql", "-- migrate:up\nselect 1;\n-- migrate:down\nselect 2;\n-- migrate:down\nselect 3;\n");
  auto e = error_of(dir_);
  EXPECT_NE(e.find("0001_a.sql:5: a second \"-- migrate:down\" line"), std::string::npos) << e;
}

TEST_F(TempSet, SectionsMixedWithPlainFiles) {
  write("0001_a.sql", "-- migrate:up\nselect 1;\n");
  write("0002_b.sql", "select 2;\n");
  auto e = error_of(dir_);
  EXPECT_NE(e.find("mixes migration layouts (sections:"), std::string::npos) << e;
}

TEST_F(TempSet, ForcedFlatTakesUpDownNamesAsNames) {
  write("0001_a.up.sql", "select 1;");
  auto set = discover(dir_, layout::flat);
  EXPECT_EQ(set.kind, layout::flat);
  EXPECT_EQ(set.migrations.at(0).name, "a.up");
}

// An empty or comment-only down is a down that does nothing: the round trip
// runs it and reports what it leaves behind.
TEST_F(TempSet, DownWithoutStatementsIsADownThatDoesNothing) {
  write("0001_a.sql", "-- migrate:up\ncreate table a (id int);\n\n-- migrate:down\n\n");
  write("0002_b.sql", "-- migrate:up\ncreate table b (id int);\n-- migrate:down\ndrop table b;\n");
  auto set = discover(dir_);
  ASSERT_TRUE(set.migrations[0].down);
  EXPECT_EQ(skip_blanks_and_comments(set.migrations[0].down->text, 0), set.migrations[0].down->text.size());
  EXPECT_TRUE(set.migrations[1].down);
}

TEST_F(TempSet, CommentOnlyDownFileIsADown) {
  write("0001_a.up.sql", "create table a (id int);");
  write("0001_a.down.sql", "-- nothing to undo\n/* really */\n");
  EXPECT_TRUE(discover(dir_).migrations[0].down);
}

// Flyway: V<version>__<desc>, '_' read as '.', dotted numbers compared as
// numbers; U as the down; R__ after the versioned ones; nested folders.
TEST_F(TempSet, FlywayOrderUndoAndRepeatable) {
  write("V1__a.sql", "select 1;");
  write("V1_10__d.sql", "select 1;");
  write("V1_9__c.sql", "select 1;");
  write("nested/V1.2__b.sql", "select 1;");
  write("V2__e.sql", "select 1;");
  write("U2__e.sql", "select 2;");
  write("R__views.sql", "select 3;");
  write("R__a_first.sql", "select 3;");
  write("README.md", "not a migration");
  auto set = discover(dir_);
  EXPECT_EQ(set.kind, layout::flyway);
  std::vector<std::string> order;
  for (const auto& m : set.migrations) order.push_back(m.version);
  EXPECT_EQ(order, (std::vector<std::string>{"1", "1.2", "1.9", "1.10", "2", "R.a_first", "R.views"}));
  ASSERT_TRUE(set.migrations[4].down);
  EXPECT_EQ(set.migrations[4].down->text, "select 2;");
  EXPECT_TRUE(set.migrations[6].repeatable);
  EXPECT_FALSE(set.migrations[0].repeatable);
}

TEST_F(TempSet, FlywayErrorsNameTheFile) {
  write("V1__a.sql", "select 1;");
  write("U3__gone.sql", "select 1;");
  EXPECT_NE(error_of(dir_).find("undo script \"" + display_path(dir_ / "U3__gone.sql") +
                                "\" has no versioned migration 3"),
            std::string::npos)
      << error_of(dir_);
  fs::remove(dir_ / "U3__gone.sql");
  write("V1.0__same.sql", "select 1;");
  EXPECT_NE(error_of(dir_).find("two Flyway migrations with version"), std::string::npos) << error_of(dir_);
  fs::remove(dir_ / "V1.0__same.sql");
  write("V2_x__bad.sql", "select 1;");
  EXPECT_NE(error_of(dir_).find("\"2_x\" is not a Flyway version"), std::string::npos) << error_of(dir_);
}

TEST_F(TempSet, FlywayConfigLocationsAndPlaceholders) {
  write("flyway.conf",
        "# comment\nflyway.locations=filesystem:db/one,\\\n  filesystem:db/two\nflyway.placeholders.owner=app\n");
  write("db/one/V1__a.sql", "create schema ${owner};");
  write("db/two/V2__b.sql", "create table ${owner}.t (x int);\nselect '${missing}';");
  write("ignored/V3__c.sql", "select 1;");
  EXPECT_NE(error_of(dir_).find("V2__b.sql:2:9: no value for the placeholder ${missing}"), std::string::npos)
      << error_of(dir_);
  write("db/two/V2__b.sql", "create table ${owner}.t (x int);");
  auto set = discover(dir_);
  ASSERT_EQ(set.migrations.size(), 2u);
  EXPECT_EQ(set.migrations[0].up.text, "create schema app;");
  write("flyway.toml", "[flyway]\nlocations = [\"filesystem:db/two\"]\nsqlMigrationPrefix = \"M\"\n");
  write("db/two/M5__m.sql", "select 1;");
  set = discover(dir_);  // flyway.toml comes first
  ASSERT_EQ(set.migrations.size(), 1u);
  EXPECT_EQ(set.migrations[0].version, "5");
  write("flyway.toml", "[flyway\nlocations = 1\n");
  EXPECT_NE(error_of(dir_).find("flyway.toml:1:"), std::string::npos) << error_of(dir_);
}

// sqitch: the plan's order, reworked changes by tag, verify scripts,
// dependencies checked at their plan line.
TEST_F(TempSet, SqitchPlanOrderReworkAndVerify) {
  write("sqitch.plan",
        "%syntax-version=1.0.0\n%project=p\n\nzeta 2024-01-01T00:00:00Z A <a@b> # first\n"
        "alpha [zeta] 2024-01-01T00:00:00Z A <a@b>\n@v1 2024-01-01T00:00:00Z A <a@b>\n"
        "alpha [alpha@v1] 2024-01-02T00:00:00Z A <a@b> # reworked\n");
  write("deploy/zeta.sql", "create schema z;");
  write("deploy/alpha@v1.sql", "create table z.a (x int);");
  write("deploy/alpha.sql", "alter table z.a add column y int;");
  write("revert/alpha.sql", "alter table z.a drop column y;");
  write("verify/zeta.sql", "select 1;");
  auto set = discover(dir_);
  EXPECT_EQ(set.kind, layout::sqitch);
  ASSERT_EQ(set.migrations.size(), 3u);
  EXPECT_EQ(set.migrations[0].version, "zeta");
  EXPECT_EQ(set.migrations[1].version, "alpha@v1");
  EXPECT_EQ(set.migrations[1].up.text, "create table z.a (x int);");
  EXPECT_EQ(set.migrations[2].version, "alpha");
  EXPECT_TRUE(set.migrations[2].down);
  EXPECT_FALSE(set.migrations[1].down);
  EXPECT_TRUE(set.migrations[0].verify);
  EXPECT_FALSE(set.migrations[2].verify);
}

// sqitch rework names the earlier scripts after the latest tag; sqitch takes
// the first tag between the change and its rework whose file exists. A
// sqitch.conf with top_dir is a sqitch project too.
TEST_F(TempSet, SqitchReworkedScriptsNamedByALaterTagAndTopDir) {
  write("sqitch.conf", "[core]\n\tengine = pg\n[engine \"pg\"]\n\ttop_dir = db\n");
  write("db/sqitch.plan",
        "%project=p\nf 2024-01-01T00:00:00Z A <a@b>\n@dev1 2024-01-01T00:00:00Z A <a@b>\n"
        "g 2024-01-01T00:00:00Z A <a@b>\n@dev2 2024-01-01T00:00:00Z A <a@b>\n"
        "f [f@dev2] 2024-01-02T00:00:00Z A <a@b>\n");
  write("db/deploy/f@dev2.sql", "select 1;");
  write("db/deploy/g.sql", "select 2;");
  write("db/deploy/f.sql", "select 3;");
  auto set = discover(dir_);
  EXPECT_EQ(set.kind, layout::sqitch);
  ASSERT_EQ(set.migrations.size(), 3u);
  EXPECT_EQ(set.migrations[0].version, "f@dev2");
  EXPECT_EQ(set.migrations[0].up.text, "select 1;");
  EXPECT_EQ(set.migrations[2].up.text, "select 3;");
}

TEST_F(TempSet, FlywayConfInConfFolderReadsLocationsFromTheProject) {
  write("conf/flyway.conf", "flyway.locations=filesystem:sql\n");
  write("sql/V1__a.sql", "select 1;");
  auto set = discover(dir_);
  EXPECT_EQ(set.kind, layout::flyway);
  ASSERT_EQ(set.migrations.size(), 1u);
  write("sql/V2__b.sql", "select '${flyway:user}';");
  EXPECT_NE(error_of(dir_).find("V2__b.sql:1:9: pgmt cannot give Flyway's ${flyway:user}"), std::string::npos)
      << error_of(dir_);
}

TEST_F(TempSet, SqitchPlanErrorsAtTheirLine) {
  write("deploy/a.sql", "select 1;");
  write("deploy/b.sql", "select 1;");
  write("sqitch.plan", "%project=p\na [b] 2024-01-01T00:00:00Z A <a@b>\nb 2024-01-01T00:00:00Z A <a@b>\n");
  EXPECT_NE(error_of(dir_).find("sqitch.plan:2: change \"a\" requires \"b\", which is not earlier in the plan"),
            std::string::npos)
      << error_of(dir_);
  write("sqitch.plan", "%project=p\na 2024-01-01T00:00:00Z A <a@b>\nb [!a] 2024-01-01T00:00:00Z A <a@b>\n");
  EXPECT_NE(error_of(dir_).find("sqitch.plan:3: change \"b\" conflicts with \"a\""), std::string::npos)
      << error_of(dir_);
  write("sqitch.plan", "%project=p\na 2024-01-01T00:00:00Z A <a@b>\nc 2024-01-01T00:00:00Z A <a@b>\n");
  EXPECT_NE(error_of(dir_).find("sqitch.plan:3: change \"c\" has no deploy script"), std::string::npos)
      << error_of(dir_);
  write("sqitch.plan", "%project=p\na 2024-01-01T00:00:00Z A <a@b>\na 2024-01-01T00:00:00Z A <a@b>\n");
  EXPECT_NE(error_of(dir_).find("sqitch.plan:3: change \"a\" is reworked without a tag"), std::string::npos)
      << error_of(dir_);
}

TEST(Layout, ParseAndPrint) {
  EXPECT_EQ(parse_layout("folders"), layout::folders);
  EXPECT_EQ(to_string(layout::sections), "sections");
  EXPECT_THROW(parse_layout("diesel"), input_error);
  EXPECT_EQ(parse_layout("flyway"), layout::flyway);
  EXPECT_EQ(to_string(layout::sqitch), "sqitch");
}

// What is named like a migration but is no file of text: an error naming it,
// never a wait (a FIFO) or a silent skip (a folder).
TEST(Discover, NamesThatAreNotFilesAreErrors) {
  std::string tmpl = (fs::temp_directory_path() / "pgmt-unit-XXXXXX").string();
  ASSERT_TRUE(mkdtemp(tmpl.data()));
  const fs::path dir = tmpl;
  std::ofstream(dir / "0001_a.sql") << "select 1;\n";
  fs::create_directory(dir / "0002_dir.sql");
  EXPECT_NE(error_of(dir).find("0002_dir.sql\" is a folder, not a SQL file"), std::string::npos) << error_of(dir);
  fs::remove(dir / "0002_dir.sql");
  ASSERT_EQ(mkfifo((dir / "0002_fifo.sql").c_str(), 0600), 0);
  EXPECT_NE(error_of(dir).find("0002_fifo.sql\" is not a regular file"), std::string::npos) << error_of(dir);
  fs::remove(dir / "0002_fifo.sql");
  ASSERT_EQ(mkfifo((dir / "0002_b.up.sql").c_str(), 0600), 0);
  std::ofstream(dir / "0002_b.down.sql") << "select 1;\n";
  fs::remove(dir / "0001_a.sql");
  std::ofstream(dir / "0001_a.up.sql") << "select 1;\n";
  EXPECT_NE(error_of(dir).find("0002_b.up.sql\" is not a regular file"), std::string::npos) << error_of(dir);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace pgmt
