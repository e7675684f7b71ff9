#include "pgmt/profiles.hpp"

#include "pgmt/pg.hpp"
#include "pgmt/text.hpp"

#include <nlohmann/json.hpp>

#include <memory>
#include <regex>
#include <set>

namespace pgmt {

std::vector<std::string> profile_names() {
  std::set<std::string> names;
  for (const auto& f : profile_files()) names.insert(f.profile);
  return {names.begin(), names.end()};
}

std::vector<sql_source> profile_sources(const std::string& name) {
  std::vector<sql_source> out;
  for (const auto& f : profile_files()) {
    if (name != f.profile) continue;
    sql_source src;
    src.path = f.path;
    src.text = f.text;
    out.push_back(std::move(src));
  }
  if (out.empty()) {
    std::string known;
    for (const auto& n : profile_names()) known += (known.empty() ? "" : ", ") + n;
    throw input_error("unknown profile \"" + name + "\"; the profiles are: " + known);
  }
  return out;
}

std::function<bool(std::string_view)> profile_statement_filter(const std::string& name, connection& conn) {
  if (name != "supabase") return {};
  // Installed in every Supabase project; an extension a project chose (vector,
  // http, pg_net, ...) is not here: its migration fails with what to install.
  static const std::vector<std::string> platform = {"pgsodium", "pg_graphql", "supabase_vault", "pgjwt"};
  result r = conn.exec_params(
      "select name from pg_available_extensions where name in "
      "(select jsonb_array_elements_text($1::jsonb))",
      {nlohmann::json(platform).dump()});
  auto missing = std::make_shared<std::set<std::string>>(platform.begin(), platform.end());
  for (int i = 0; i < r.rows(); ++i) missing->erase(r.value(i, 0));
  if (missing->empty()) return {};
  return [missing](std::string_view text) {
    static const std::regex create_ext(
        "^\\s*(?:--[^\\n]*\\n\\s*)*create\\s+extension\\s+if\\s+not\\s+exists\\s+\"?([A-Za-z0-9_-]+)\"?",
        std::regex::icase);
    std::smatch m;
    std::string s(text);
    return std::regex_search(s, m, create_ext) && missing->count(m[1].str()) > 0;
  };
}

std::string profile_session_options(const std::string& name) {
  if (name == "supabase") return "-c search_path=\"$user\",public,extensions";
  return "";
}

}  // namespace pgmt
