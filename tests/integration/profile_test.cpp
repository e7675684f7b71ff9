// The supabase profile on a real server: what Supabase migrations and
// policies take for granted behaves as on Supabase.
#include "pgmt/pg.hpp"
#include "pgmt/profiles.hpp"
#include "pgmt/state.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <memory>

namespace pgmt {
namespace {

class SupabaseProfile : public ::testing::Test {
 protected:
  void SetUp() override {
    PGMT_REQUIRE_POSTGRES();
    db_ = test::fresh_database("supabase");
    suite s;
    s.profile = "supabase";
    // As pgmt connects for a suite with the profile.
    conninfo_ = test::shared_server().conninfo(db_) + " " + make_conninfo({{"options", s.session_options()}});
    conn_ = std::make_unique<connection>(conninfo_);
    run_sources(*conn_, s.fixture_sources(), s, "fixture");
  }
  std::string value(const std::string& sql) { return conn_->exec(sql).value(0, 0); }
  std::string db_, conninfo_;
  std::unique_ptr<connection> conn_;
};

TEST_F(SupabaseProfile, RolesSchemasAndExtensions) {
  EXPECT_EQ(value("select string_agg(rolname, ',' order by rolname) from pg_roles where rolname in "
                  "('anon', 'authenticated', 'service_role', 'authenticator', 'supabase_admin')"),
            "anon,authenticated,authenticator,service_role,supabase_admin");
  EXPECT_EQ(value("select rolbypassrls from pg_roles where rolname = 'service_role'"), "t");
  EXPECT_EQ(value("select rolbypassrls from pg_roles where rolname = 'authenticated'"), "f");
  EXPECT_EQ(value("select pg_has_role('authenticator', 'anon', 'member')"), "t");
  EXPECT_EQ(value("select string_agg(extname || '@' || extnamespace::regnamespace, ',' order by extname) "
                  "from pg_extension where extname in ('uuid-ossp', 'pgcrypto')"),
            "pgcrypto@extensions,uuid-ossp@extensions");
  // On the search_path, unqualified, as on Supabase.
  EXPECT_EQ(value("select length(uuid_generate_v4()::text)"), "36");
  EXPECT_EQ(value("select length(encode(digest('x', 'sha256'), 'hex'))"), "64");
  EXPECT_EQ(value("select count(*) from pg_publication where pubname = 'supabase_realtime'"), "1");
}

TEST_F(SupabaseProfile, AuthFunctionsReadTheClaims) {
  conn_->exec("begin");
  conn_->exec("set local role authenticated");
  conn_->exec(
      "select set_config('request.jwt.claims', '{\"sub\": \"00000000-0000-0000-0000-00000000000a\", "
      "\"role\": \"authenticated\", \"email\": \"a@x.test\", \"app_metadata\": {\"plan\": \"pro\"}}', true)");
  EXPECT_EQ(value("select auth.uid()"), "00000000-0000-0000-0000-00000000000a");
  EXPECT_EQ(value("select auth.role()"), "authenticated");
  EXPECT_EQ(value("select auth.email()"), "a@x.test");
  EXPECT_EQ(value("select auth.jwt() -> 'app_metadata' ->> 'plan'"), "pro");
  conn_->exec("rollback");
  // The older request.jwt.claim.* settings.
  conn_->exec("begin");
  conn_->exec("select set_config('request.jwt.claim.sub', '00000000-0000-0000-0000-00000000000b', true)");
  conn_->exec("select set_config('request.jwt.claim.role', 'anon', true)");
  EXPECT_EQ(value("select auth.uid()"), "00000000-0000-0000-0000-00000000000b");
  EXPECT_EQ(value("select auth.role()"), "anon");
  conn_->exec("rollback");
  // No claims: no user.
  EXPECT_TRUE(conn_->exec("select auth.uid()").is_null(0, 0));
}

TEST_F(SupabaseProfile, AuthUsersTakesWhatGoTrueWrites) {
  conn_->exec(
      "insert into auth.users (instance_id, id, aud, role, email, email_confirmed_at, phone_confirmed_at, "
      "raw_app_meta_data, raw_user_meta_data, created_at, updated_at, is_anonymous) values "
      "('00000000-0000-0000-0000-000000000000', '00000000-0000-0000-0000-00000000000a', 'authenticated', "
      "'authenticated', 'a@x.test', '2024-01-02', '2024-01-01', '{}', '{}', now(), now(), false)");
  // confirmed_at is generated: the earlier of the two confirmations.
  EXPECT_EQ(value("select confirmed_at::date from auth.users"), "2024-01-01");
  conn_->exec(
      "insert into auth.identities (provider_id, user_id, identity_data, provider) values "
      "('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-00000000000a', "
      "'{\"email\": \"A@X.test\"}', 'email')");
  EXPECT_EQ(value("select email from auth.identities"), "a@x.test");
}

TEST_F(SupabaseProfile, StorageHelpers) {
  EXPECT_EQ(value("select storage.foldername('user-1/avatars/me.png')::text"), "{user-1,avatars}");
  EXPECT_EQ(value("select storage.filename('user-1/avatars/me.png')"), "me.png");
  EXPECT_EQ(value("select storage.extension('user-1/avatars/me.png')"), "png");
  EXPECT_EQ(value("select relrowsecurity from pg_class where oid = 'storage.objects'::regclass"), "t");
  conn_->exec("insert into storage.buckets (id, name) values ('avatars', 'avatars')");
  conn_->exec("insert into storage.objects (bucket_id, name) values ('avatars', 'a/b.png')");
  EXPECT_EQ(value("select path_tokens::text from storage.objects"), "{a,b.png}");
}

TEST_F(SupabaseProfile, DefaultPrivilegesOnPublic) {
  conn_->exec("create table public.notes (id int)");
  EXPECT_EQ(value("select has_table_privilege('anon', 'public.notes', 'select')"), "t");
  EXPECT_EQ(value("select has_table_privilege('authenticated', 'public.notes', 'insert')"), "t");
}

// Fixtures run in every state build and every reset on a shared server.
TEST_F(SupabaseProfile, LoadsAgainWhereItWasLoaded) {
  suite s;
  s.profile = "supabase";
  EXPECT_NO_THROW(run_sources(*conn_, s.fixture_sources(), s, "fixture"));
  const std::string other = test::fresh_database("supabase2");
  connection c(test::shared_server().conninfo(other));
  EXPECT_NO_THROW(run_sources(c, s.fixture_sources(), s, "fixture"));
}

}  // namespace
}  // namespace pgmt
