// PGMT_SERVER=external: the example suite on an existing server, as a role
// that is not a superuser; pgmt creates and drops only its own databases and
// never prints the password.
#include "pgmt/pg.hpp"
#include "pgmt/process.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>

namespace fs = std::filesystem;

namespace pgmt {
namespace {

const char* const password = "s3cr3t-pw-do-not-print";

std::string url_for(const std::string& user, const std::string& extra = "") {
  const auto& s = test::shared_server();
  return "postgresql://" + user + ":" + password + "@/postgres?host=" + s.host +
         "&port=" + std::to_string(s.port) + extra;
}

detail::run_result run_external(const std::string& url, std::vector<std::string> args) {
  std::vector<std::string> argv = {"env", "PGMT_SERVER=external", "PGMT_DATABASE_URL=" + url, PGMT_EXE};
  argv.insert(argv.end(), args.begin(), args.end());
  return detail::run(argv);
}

std::set<std::string> databases(connection& c) {
  std::set<std::string> out;
  result r = c.exec("select datname from pg_database");
  for (int i = 0; i < r.rows(); ++i) out.insert(r.value(i, 0));
  return out;
}

class ExternalServer : public ::testing::Test {
 protected:
  void SetUp() override {
    PGMT_REQUIRE_POSTGRES();
    admin_ = std::make_unique<connection>(test::shared_server().conninfo());
    admin_->exec(
        "do $$ begin "
        "if not exists (select from pg_roles where rolname = 'pgmt_ext') then "
        "  create role pgmt_ext login createdb createrole password 's3cr3t-pw-do-not-print'; end if; "
        "if not exists (select from pg_roles where rolname = 'pgmt_ext_nocreatedb') then "
        "  create role pgmt_ext_nocreatedb login; end if; "
        "if not exists (select from pg_roles where rolname = 'app_user') then create role app_user nologin; "
        "end if; "
        "end $$");
    // To assert row level security as app_user, pgmt's role must be able to become it.
    admin_->exec("grant app_user to pgmt_ext");
    admin_->exec("drop database if exists precious");
    admin_->exec("create database precious");
    connection p(test::shared_server().conninfo("precious"));
    p.exec("create table keep (id int); insert into keep values (42)");
    // A database named like pgmt's, but another run's.
    admin_->exec("drop database if exists pgmt_0123abcd_s0_feedfacefeedface");
    admin_->exec("create database pgmt_0123abcd_s0_feedfacefeedface");
  }
  std::unique_ptr<connection> admin_;
};

TEST_F(ExternalServer, RunsTheExampleAndTouchesNothingElse) {
  const std::set<std::string> before = databases(*admin_);
  const fs::path root = fs::path(PGMT_TEST_DATA).parent_path().parent_path();
  auto r = run_external(
      url_for("pgmt_ext"),
      {"test", "--migrations", (root / "migrations").string(), "--seed", (root / "seed/seed.sql").string(),
       "--data", (root / "seed/roundtrip").string(), "--rls", (root / "rls").string(), "--name", "example"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("on PostgreSQL " + test::shared_server().version + " (external)"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("PASS example.20260126120000.rls"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find(password), std::string::npos) << "the password was printed:\n" << r.output;
  // Only pgmt's own databases came and went.
  EXPECT_EQ(databases(*admin_), before);
  connection p(test::shared_server().conninfo("precious"));
  EXPECT_EQ(p.exec("select id from keep").value(0, 0), "42");
}

TEST_F(ExternalServer, ARoleWithoutCreatedbIsToldWhatToDo) {
  auto r = run_external(url_for("pgmt_ext_nocreatedb"),
                        {"test", "--migrations", (fs::path(PGMT_TEST_DATA) / "bad_sql").string()});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("the role \"pgmt_ext_nocreatedb\" of PGMT_DATABASE_URL"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("lacks CREATEDB"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("postgresql://pgmt_ext_nocreatedb:********@"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find(password), std::string::npos) << r.output;
}

TEST_F(ExternalServer, AnUnreachableServerMasksThePassword) {
  const auto& s = test::shared_server();
  std::string url =
      "postgresql://pgmt_ext:" + std::string(password) + "@/postgres?host=" + s.host + "&port=1";
  auto r = run_external(url, {"test", "--migrations", (fs::path(PGMT_TEST_DATA) / "bad_sql").string()});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("could not use the server of PGMT_DATABASE_URL"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find(password), std::string::npos) << r.output;
  auto bad = run_external("postgresql://x:" + std::string(password) + "@host:notaport/db",
                          {"test", "--migrations", (fs::path(PGMT_TEST_DATA) / "bad_sql").string()});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_EQ(bad.output.find(password), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace pgmt
