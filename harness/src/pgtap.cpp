#include "pgmt/pgtap.hpp"

#include "pgmt/pg.hpp"
#include "pgmt/text.hpp"

#include <algorithm>
#include <regex>
#include <sstream>

namespace fs = std::filesystem;

namespace pgmt {

tap_report parse_tap(const std::string& text) {
  tap_report r;
  static const std::regex plan_re("^1\\.\\.(\\d+)");
  static const std::regex point_re("^(not )?ok (\\d+)(?: - ?| )?([^#]*?)\\s*(?:#\\s*((?:TODO|SKIP)\\b.*))?$",
                                   std::regex::icase);
  std::istringstream in(text);
  std::string line;
  bool after_failure = false;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    std::string trimmed = line;
    trimmed.erase(0, trimmed.find_first_not_of(" \t") == std::string::npos
                         ? trimmed.size()
                         : trimmed.find_first_not_of(" \t"));
    std::smatch m;
    if (trimmed.empty()) continue;
    if (trimmed[0] == '#') {
      std::string note = trimmed.substr(1);
      if (!note.empty() && note[0] == ' ') note.erase(0, 1);
      if (after_failure && !r.points.empty())
        r.points.back().diagnostics.push_back(note);
      else
        r.notes.push_back(note);
      continue;
    }
    if (std::regex_search(trimmed, m, plan_re)) {
      r.planned = std::stoi(m[1].str());
      after_failure = false;
      continue;
    }
    if (std::regex_match(trimmed, m, point_re)) {
      tap_point p;
      p.ok = !m[1].matched;
      p.number = std::stoi(m[2].str());
      p.description = m[3].str();
      p.directive = m[4].matched ? m[4].str() : "";
      after_failure = !p.ok;
      r.points.push_back(std::move(p));
      continue;
    }
    // Any other line continues the last diagnostic block.
    if (after_failure && !r.points.empty()) r.points.back().diagnostics.push_back(trimmed);
  }
  return r;
}

std::vector<std::string> judge_tap(const tap_report& r, const std::string& file) {
  std::vector<std::string> out;
  int failed = 0;
  for (const auto& p : r.points) {
    const bool todo = p.directive.rfind("TODO", 0) == 0 || p.directive.rfind("todo", 0) == 0;
    if (p.ok || todo) continue;
    ++failed;
    std::string f = file + ": test " + std::to_string(p.number) +
                    (p.description.empty() ? "" : " (" + p.description + ")") + " failed";
    for (const auto& d : p.diagnostics) f += "\n    " + d;
    out.push_back(f);
  }
  const int ran = static_cast<int>(r.points.size());
  if (!r.planned) {
    if (ran == 0)
      out.push_back(
          file +
          ": printed no TAP; a pgTAP file calls select plan(N), its tests, then select * from finish()");
    else
      out.push_back(file + ": ran " + std::to_string(ran) + " tests without a plan; call select plan(" +
                    std::to_string(ran) + ") first");
  } else if (*r.planned != ran) {
    out.push_back(file + ": planned " + std::to_string(*r.planned) + " tests but ran " + std::to_string(ran) +
                  "; correct plan(), or check for tests that did not run");
  }
  (void)failed;
  return out;
}

std::vector<fs::path> pgtap_files(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw input_error("pgTAP folder \"" + display_path(dir) + "\" is not a folder");
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const auto ext = e.path().extension();
    if ((ext == ".sql" || ext == ".pg") && e.path().filename().string().rfind('.', 0) != 0)
      out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  if (out.empty()) throw input_error("pgTAP folder \"" + display_path(dir) + "\" holds no .sql file");
  return out;
}

std::string pgtap_test_name(const fs::path& file) { return file.stem().string(); }

const std::string& supabase_test_helpers_sql() {
  // Compatible with the Supabase test helpers' functions and what they do:
  // users are found by the test_identifier in their user metadata, and
  // authenticating sets the role and request.jwt.claims for the transaction.
  static const std::string sql = R"sql(
create schema if not exists tests;
create schema if not exists test_overrides;
grant usage on schema tests, test_overrides to anon, authenticated, service_role;

create or replace function tests.create_supabase_user(identifier text, email text default null,
                                                      phone text default null, metadata jsonb default null)
returns uuid language plpgsql security definer set search_path = auth, pg_temp as $$
declare
  new_id uuid := extensions.gen_random_uuid();
begin
  insert into auth.users (id, email, phone, raw_user_meta_data, raw_app_meta_data, created_at, updated_at)
  values (new_id, coalesce(email, new_id::text || '@test.com'), phone,
          jsonb_build_object('test_identifier', identifier) || coalesce(metadata, '{}'::jsonb), '{}'::jsonb,
          now(), now());
  return new_id;
end
$$;

create or replace function tests.get_supabase_user(identifier text)
returns json language plpgsql security definer set search_path = auth, pg_temp as $$
declare
  found json;
begin
  select json_build_object('id', u.id, 'email', u.email, 'phone', u.phone,
                           'raw_user_meta_data', u.raw_user_meta_data,
                           'raw_app_meta_data', u.raw_app_meta_data)
    into found
    from auth.users u
   where u.raw_user_meta_data ->> 'test_identifier' = identifier
   limit 1;
  if found is null then
    raise exception 'User with identifier % not found', identifier;
  end if;
  return found;
end
$$;

create or replace function tests.get_supabase_uid(identifier text)
returns uuid language plpgsql security definer set search_path = auth, pg_temp as $$
declare
  found uuid;
begin
  select u.id into found from auth.users u where u.raw_user_meta_data ->> 'test_identifier' = identifier limit 1;
  if found is null then
    raise exception 'User with identifier % not found', identifier;
  end if;
  return found;
end
$$;

create or replace function tests.authenticate_as(identifier text)
returns void language plpgsql as $$
declare
  u json := tests.get_supabase_user(identifier);
begin
  perform set_config('role', 'authenticated', true);
  perform set_config('request.jwt.claims',
                     json_build_object('sub', u ->> 'id', 'email', u ->> 'email', 'phone', u ->> 'phone',
                                       'user_metadata', u -> 'raw_user_meta_data',
                                       'app_metadata', u -> 'raw_app_meta_data',
                                       'role', 'authenticated', 'aud', 'authenticated',
                                       'exp', extract(epoch from (current_timestamp + interval '1 hour')))::text,
                     true);
end
$$;

create or replace function tests.authenticate_as_service_role()
returns void language plpgsql as $$
begin
  perform set_config('role', 'service_role', true);
  perform set_config('request.jwt.claims', null, true);
end
$$;

create or replace function tests.clear_authentication()
returns void language plpgsql as $$
begin
  perform set_config('role', 'anon', true);
  perform set_config('request.jwt.claims', null, true);
end
$$;

create or replace function tests.rls_enabled(testing_schema text)
returns text language sql as $$
  select is((select count(*)::integer from pg_catalog.pg_class c
              join pg_catalog.pg_namespace n on n.oid = c.relnamespace
             where n.nspname = testing_schema and c.relkind in ('r', 'p') and not c.relrowsecurity),
            0,
            'All tables in the' || testing_schema || ' schema should have row level security enabled');
$$;

create or replace function tests.rls_enabled(testing_schema text, testing_table text)
returns text language sql as $$
  select is((select count(*)::integer from pg_catalog.pg_class c
              join pg_catalog.pg_namespace n on n.oid = c.relnamespace
             where n.nspname = testing_schema and c.relname = testing_table and c.relrowsecurity),
            1,
            testing_table || 'table in the' || testing_schema || ' schema should have row level security enabled');
$$;

create or replace function test_overrides.now()
returns timestamp with time zone language plpgsql as $$
begin
  if nullif(current_setting('tests.frozen_time', true), '') is not null then
    return current_setting('tests.frozen_time')::timestamptz;
  end if;
  return pg_catalog.now();
end
$$;

create or replace function tests.freeze_time(frozen_time timestamp with time zone)
returns void language plpgsql as $$
begin
  if current_setting('search_path') not like 'test_overrides,%' then
    perform set_config('tests.original_search_path', current_setting('search_path'), true);
    perform set_config('search_path', 'test_overrides,' || current_setting('search_path') || ',pg_catalog', true);
  end if;
  perform set_config('tests.frozen_time', frozen_time::text, true);
end
$$;

create or replace function tests.unfreeze_time()
returns void language plpgsql as $$
begin
  perform set_config('tests.frozen_time', null, true);
  perform set_config('search_path', current_setting('tests.original_search_path', true), true);
end
$$;

revoke execute on all functions in schema tests, test_overrides from public;
grant execute on all functions in schema tests, test_overrides to anon, authenticated, service_role;
)sql";
  return sql;
}

std::string run_pgtap_file(connection& conn, const sql_source& src, const std::string& helpers,
                           const run_options& base) {
  std::string tap;
  run_options opts = base;
  opts.on_result = [&tap](const result& r) {
    for (int i = 0; i < r.rows(); ++i)
      if (r.columns() > 0 && !r.is_null(i, 0)) tap += r.value(i, 0) + "\n";
  };
  if (helpers == "supabase") {
    static const std::regex create_helpers(
        "^\\s*(--[^\\n]*\\n\\s*)*create\\s+extension\\s+(if\\s+not\\s+exists\\s+)?\"?(basejump-)?supabase_"
        "test_"
        "helpers\"?",
        std::regex::icase);
    opts.skip_statement = [](std::string_view text) {
      return std::regex_search(std::string(text), create_helpers);
    };
  }
  run_script(conn, src, opts);
  return tap;
}

}  // namespace pgmt
