#pragma once
/// profiles: fixtures pgmt carries for a kind of project (fixtures/<name>/ in
/// the source tree, compiled into the executable), loaded before the suite's
/// own fixtures, and the session settings the project's servers have.

#include "pgmt/script.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace pgmt {

class connection;

/// One SQL file of a profile.
struct profile_file {
  const char* profile;
  const char* path;  ///< fixtures/<profile>/<file>.sql, as messages show it
  const char* text;
};

/// Every profile's files, by profile then file name.
const std::vector<profile_file>& profile_files();

/// The names of the profiles, sorted.
std::vector<std::string> profile_names();

/// A profile's files in load order. Throws input_error for a name that is
/// not a profile, listing the ones there are.
std::vector<sql_source> profile_sources(const std::string& name);

/// Settings every session of a suite with this profile starts with, as a
/// libpq options string ("" for none): the supabase profile puts the
/// extensions schema on the search_path, as Supabase does.
std::string profile_session_options(const std::string& name);

/// Statements of migrations the profile leaves out on this server, or an
/// empty function. Under supabase: CREATE EXTENSION IF NOT EXISTS of an
/// extension every Supabase project has (pgsodium, pg_graphql, supabase_vault,
/// pgjwt) when the server lacks it, as `supabase db dump` writes them into the
/// first migration.
std::function<bool(std::string_view)> profile_statement_filter(const std::string& name, connection& conn);

}  // namespace pgmt
