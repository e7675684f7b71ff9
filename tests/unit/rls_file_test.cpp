// Assertion files: every kind of malformed content is an error naming the
// file and the JSON path; valid files give users and expectations.
#include "pgmt/rls.hpp"
#include "pgmt/text.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace pgmt {
namespace {

class RlsFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    // One folder, whatever the test's name holds ("IsAnError/3" for a parameter).
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '-');
    dir_ = fs::temp_directory_path() / ("pgmt-unit-rls-" + std::to_string(getpid()) + "-" + name);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& name, const std::string& text) {
    fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p;
  }
  // The message load_rls_file gives for text, or "" when it loads.
  std::string load_error(const std::string& text, const std::string& profile = "supabase") {
    fs::path p = write("0001_t.json", text);
    try {
      rls_dir d;
      d.dir = dir_;
      load_rls_file(p, "0001", suite_rls_users(d, profile), profile);
      return "";
    } catch (const input_error& e) {
      return e.what();
    }
  }
  fs::path dir_;
};

const char* const alice = R"j("users": {"alice": {"role": "authenticated"}})j";

TEST_F(RlsFiles, AValidFile) {
  fs::path p = write("0001_t.json", std::string("{") + alice + R"j(, "setup": ["insert into t values (1)"],
    "expect": [{"as": "alice", "sql": "select * from public.t join s using (id)", "rows": [{"id": 1}]},
               {"as": "anon", "sql": "delete from public.t", "affected": 0, "it": "anon deletes nothing"},
               {"as": "alice", "sql": "insert into t values (2)", "error": "denied"}]})j");
  rls_dir d;
  rls_file f = load_rls_file(p, "0001", suite_rls_users(d, "supabase"), "supabase");
  ASSERT_EQ(f.expect.size(), 3u);
  EXPECT_EQ(f.expect[0].command, "SELECT");
  EXPECT_EQ(f.expect[0].relations, (std::vector<std::string>{"public.t", "s"}));
  EXPECT_EQ(f.expect[1].command, "DELETE");
  EXPECT_EQ(f.expect[1].relations, (std::vector<std::string>{"public.t"}));
  EXPECT_EQ(f.expect[2].relations, (std::vector<std::string>{"t"}));
  EXPECT_EQ(f.expect[2].sqlstate, "42501");
  // Supabase users get their role and a stable sub in the claims; the profile adds anon and service_role.
  const rls_user& a = f.users.at("alice");
  EXPECT_EQ((*a.claims)["role"], "authenticated");
  EXPECT_EQ((*a.claims)["sub"].get<std::string>().size(), 36u);
  EXPECT_TRUE(f.users.at("service_role").bypass);
  EXPECT_FALSE(f.users.at("anon").bypass);
  EXPECT_EQ(f.setup, "insert into t values (1);\n");
}

struct bad_file {
  const char* name;
  std::string text;
  std::string message;
};

// Test names show the case, not the bytes of the struct.
void PrintTo(const bad_file& c, std::ostream* os) { *os << c.name; }

class MalformedRlsFile : public RlsFiles, public ::testing::WithParamInterface<bad_file> {};

TEST_P(MalformedRlsFile, IsAnErrorWithFileAndPath) {
  const bad_file& c = GetParam();
  std::string msg = load_error(c.text);
  ASSERT_FALSE(msg.empty()) << "loaded without an error";
  EXPECT_NE(msg.find("0001_t.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find(c.message), std::string::npos) << msg;
}

std::string with_alice(const std::string& expect) { return std::string("{") + alice + ", \"expect\": " + expect + "}"; }

INSTANTIATE_TEST_SUITE_P(
    Cases, MalformedRlsFile,
    ::testing::Values(
        bad_file{"invalid_json", "{\n  \"expect\": [\n    {\"as\": }\n", "0001_t.json:3:12: not valid JSON"},
        bad_file{"not_an_object", "[1, 2]", "must be an object with users, setup and expect"},
        bad_file{"unknown_key", R"j({"colour": "blue", "expect": []})j", "colour: unknown key; the keys here are expect, setup, users"},
        bad_file{"no_expect", std::string("{") + alice + "}", "expect: missing or empty"},
        bad_file{"expectation_not_object", with_alice("[42]"), "expect[0]: must be an object"},
        bad_file{"no_as", with_alice(R"j([{"sql": "select 1", "count": 1}])j"), "expect[0].as: missing"},
        bad_file{"unknown_user",
                 with_alice(R"j([{"as": "alice", "sql": "select 1", "count": 1}, {"as": "alice", "sql": "select 1", "count": 1},
                                {"as": "anon", "sql": "select 1", "count": 1}, {"as": "carol", "sql": "select 1", "count": 1}])j"),
                 "expect[3].as: unknown user \"carol\"; the users are alice, anon, service_role"},
        bad_file{"no_sql", with_alice(R"j([{"as": "alice", "count": 1}])j"), "expect[0].sql: missing"},
        bad_file{"nothing_expected", with_alice(R"j([{"as": "alice", "sql": "select 1"}])j"),
                 "expect[0]: says nothing to expect; give one of rows, count, affected or error"},
        bad_file{"two_expectations", with_alice(R"j([{"as": "alice", "sql": "select 1", "count": 1, "error": "denied"}])j"),
                 "expect[0]: gives more than one of rows, count, affected and error"},
        bad_file{"negative_count", with_alice(R"j([{"as": "alice", "sql": "select 1", "count": -1}])j"),
                 "expect[0].count: must be a whole number of rows"},
        bad_file{"bad_sqlstate", with_alice(R"j([{"as": "alice", "sql": "select 1", "error": "nope"}])j"),
                 "expect[0].error: \"nope\" is not a SQLSTATE"},
        bad_file{"rows_not_array", with_alice(R"j([{"as": "alice", "sql": "select 1", "rows": {"a": 1}}])j"),
                 "expect[0].rows: must be an array"},
        bad_file{"row_not_object", with_alice(R"j([{"as": "alice", "sql": "select 1", "rows": [1]}])j"),
                 "expect[0].rows[0]: must be an object"},
        bad_file{"ordered_without_rows", with_alice(R"j([{"as": "alice", "sql": "select 1", "count": 1, "ordered": true}])j"),
                 "expect[0].ordered: only goes with rows"},
        bad_file{"two_statements", with_alice(R"j([{"as": "alice", "sql": "select 1; select 2", "count": 1}])j"),
                 "expect[0].sql: 2 statements; an expectation runs one"},
        bad_file{"sql_does_not_parse", with_alice(R"j([{"as": "alice", "sql": "selec 1", "count": 1}])j"),
                 "expect[0].sql: does not parse: syntax error"},
        bad_file{"unknown_expectation_key", with_alice(R"j([{"as": "alice", "sql": "select 1", "rowz": []}])j"),
                 "expect[0].rowz: unknown key"},
        bad_file{"user_without_role", R"j({"users": {"bob": {"claims": {}}}, "expect": [{"as": "bob", "sql": "select 1", "count": 1}]})j",
                 "users.bob.role: missing"},
        bad_file{"sub_not_uuid", R"j({"users": {"bob": {"role": "authenticated", "claims": {"sub": "bob"}}}, "expect": [{"as": "bob", "sql": "select 1", "count": 1}]})j",
                 "users.bob.claims.sub: must be a UUID"},
        bad_file{"setting_without_prefix", R"j({"users": {"bob": {"role": "app", "settings": {"tenant": "1"}}}, "expect": [{"as": "bob", "sql": "select 1", "count": 1}]})j",
                 "users.bob.settings.tenant: a custom setting needs a prefix with a dot"},
        bad_file{"setup_not_sql", std::string("{") + alice + R"j(, "setup": 5, "expect": [{"as": "alice", "sql": "select 1", "count": 1}]})j",
                 "setup: must be SQL"}),
    [](const ::testing::TestParamInfo<bad_file>& i) { return std::string(i.param.name); });

TEST_F(RlsFiles, AFolderFileMustMatchAMigration) {
  migration_set set;
  migration m;
  m.version = "0001";
  set.migrations.push_back(m);
  write("0001_t.json", "{}");
  write("users.json", "{}");
  write("final.json", "{}");
  rls_dir d = scan_rls_dir(dir_, set);
  EXPECT_TRUE(d.users_file && d.final_file);
  EXPECT_EQ(d.by_version.count("0001"), 1u);
  write("0001_again.json", "{}");
  try {
    scan_rls_dir(dir_, set);
    FAIL() << "two files for one version";
  } catch (const input_error& e) {
    EXPECT_NE(std::string(e.what()).find("a second assertion file for migration 0001"), std::string::npos);
  }
  fs::remove(dir_ / "0001_again.json");
  write("0002_later.json", "{}");
  try {
    scan_rls_dir(dir_, set);
    FAIL() << "a file of no migration";
  } catch (const input_error& e) {
    EXPECT_NE(std::string(e.what()).find("0002_later.json: matches no migration"), std::string::npos);
  }
}

TEST_F(RlsFiles, UsersFileErrorsNameIt) {
  write("users.json", R"j({"users": {"eve": {"role": 7}}})j");
  rls_dir d;
  d.dir = dir_;
  d.users_file = dir_ / "users.json";
  try {
    suite_rls_users(d, "");
    FAIL() << "a role that is not a string";
  } catch (const input_error& e) {
    EXPECT_NE(std::string(e.what()).find("users.json: users.eve.role: missing"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pgmt
