#include "pgmt/profiles.hpp"

#include "pgmt/text.hpp"

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

std::string profile_session_options(const std::string& name) {
  if (name == "supabase") return "-c search_path=\"$user\",public,extensions";
  return "";
}

}  // namespace pgmt
