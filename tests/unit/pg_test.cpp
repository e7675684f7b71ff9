#include "pgmt/pg.hpp"
#include "pgmt/server.hpp"

#include <gtest/gtest.h>

namespace pgmt {
namespace {

TEST(Conninfo, QuotesValues) {
  EXPECT_EQ(make_conninfo({{"host", "/tmp/a b"}, {"dbname", "it's"}}), R"(host='/tmp/a b' dbname='it\'s')");
}

// A message about a URL (libpq's parse error quotes the token it could not
// read) never shows its password.
TEST(MaskPassword, InMessagesAboutTheUrl) {
  EXPECT_EQ(mask_password_in("invalid percent-encoded token: \"se%zzret\"", "postgresql://app:se%zzret@db/x"),
            "invalid percent-encoded token: \"********\"");
  EXPECT_EQ(mask_password_in("bad: s e c", "host=h password='s e c'"), "bad: ********");
  EXPECT_EQ(mask_password_in("nothing secret", "host=h"), "nothing secret");
  // As libpq reads it: percent-decoded from a URL, unquoted from key/value.
  EXPECT_EQ(mask_password_in("saw p@ss:1 and p%40ss%3A1", "postgresql://app:p%40ss%3A1@db/x"),
            "saw ******** and ********");
  EXPECT_EQ(mask_password_in("it's here", R"(host=h password='it\'s')"), "******** here");
  try {
    (void)parse_connection_url("postgresql://app:se%zzret@db.local/x");
    ADD_FAILURE() << "parsed";
  } catch (const std::exception& e) {
    EXPECT_EQ(std::string(e.what()).find("se%zzret"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("is not a connection URL"), std::string::npos) << e.what();
  }
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
