#include "pgmt/pg.hpp"

#include <gtest/gtest.h>

namespace pgmt {
namespace {

TEST(Conninfo, QuotesValues) {
  EXPECT_EQ(make_conninfo({{"host", "/tmp/a b"}, {"dbname", "it's"}}), R"(host='/tmp/a b' dbname='it\'s')");
}

TEST(Conninfo, MasksPasswords) {
  EXPECT_EQ(mask_password("postgresql://app:s3cret@db.local:5432/x"),
            "postgresql://app:********@db.local:5432/x");
  EXPECT_EQ(mask_password("host=h password='s e c' user=u"), "host=h password=******** user=u");
  EXPECT_EQ(mask_password("postgres://h/db?password=s3cret&sslmode=off"),
            "postgres://h/db?password=********&sslmode=off");
  EXPECT_EQ(mask_password("host=h user=u"), "host=h user=u");
}

TEST(SqlError, CarriesStatementAndState) {
  server_diagnostics d;
  d.sqlstate = "55P03";
  d.message = "canceling statement due to lock timeout";
  try {
    throw_sql_error(d, "alter table t add column x int");
  } catch (const lock_not_available& e) {
    EXPECT_EQ(e.sqlstate(), "55P03");
    EXPECT_EQ(e.statement(), "alter table t add column x int");
    EXPECT_STREQ(e.what(), "canceling statement due to lock timeout (SQLSTATE 55P03)");
  }
  d.sqlstate = "42P01";
  EXPECT_THROW(throw_sql_error(d, ""), syntax_or_access_error);
  d.sqlstate = "23505";
  EXPECT_THROW(throw_sql_error(d, ""), integrity_violation);
  d.sqlstate = "57014";
  EXPECT_THROW(throw_sql_error(d, ""), query_canceled);
  d.sqlstate = "XX000";
  EXPECT_THROW(throw_sql_error(d, ""), sql_error);
}

}  // namespace
}  // namespace pgmt
