#include "pgmt/suite.hpp"

#include "layouts.hpp"

#include "pgmt/lint.hpp"
#include "pgmt/lock.hpp"
#include "pgmt/profiles.hpp"
#include "pgmt/text.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace fs = std::filesystem;

namespace pgmt {

std::vector<sql_source> load_sources(const std::vector<fs::path>& paths, const char* what) {
  std::vector<sql_source> out;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(p, ec))
        if (e.path().extension() == ".sql" && e.path().filename().string().rfind('.', 0) != 0)
          files.push_back(e.path());
      std::sort(files.begin(), files.end());
      if (files.empty())
        throw input_error(std::string(what) + " folder \"" + display_path(p) + "\" holds no .sql file");
      for (const auto& f : files) {
        sql_source s;
        s.path = f;
        s.text = read_sql_file(f);
        out.push_back(std::move(s));
      }
    } else if (fs::exists(p, ec)) {
      sql_source s;
      s.path = p;
      s.text = read_sql_file(p);
      out.push_back(std::move(s));
    } else {
      throw input_error(std::string(what) + " \"" + display_path(p) + "\" does not exist");
    }
  }
  return out;
}

suite suite::from_file(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw input_error("could not read suite file \"" + display_path(file) + "\": " + std::strerror(errno));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw input_error(display_path(file) + ": not valid JSON: " + e.what());
  }
  const fs::path base = file.parent_path();
  auto abs = [&](const std::string& p) {
    return (fs::path(p).is_absolute() ? fs::path(p) : base / p).lexically_normal();
  };
  suite s;
  try {
    s.name = j.value("name", s.name);
    s.migrations_dir = abs(j.at("migrations_dir").get<std::string>());
    s.forced_layout = parse_layout(j.value("layout", std::string("auto")));
    s.profile = j.value("profile", std::string());
    if (!s.profile.empty()) {
      try {
        profile_sources(s.profile);
      } catch (const input_error& e) {
        throw input_error(display_path(file) + ": " + e.what());
      }
    }
    for (const auto& f : j.value("fixtures", std::vector<std::string>{})) s.fixtures.push_back(abs(f));
    for (const auto& f : j.value("seeds", std::vector<std::string>{})) s.seeds.push_back(abs(f));
    if (j.contains("statement_timeout"))
      s.statement_timeout = parse_duration(j["statement_timeout"].get<std::string>());
    if (j.contains("lock_timeout")) s.lock_timeout = parse_duration(j["lock_timeout"].get<std::string>());
    s.output_dir = j.contains("output_dir") ? abs(j["output_dir"].get<std::string>()) : base;
    if (j.contains("snapshot") && !j["snapshot"].get<std::string>().empty())
      s.snapshot_file = abs(j["snapshot"].get<std::string>());
    if (j.contains("data_dir") && !j["data_dir"].get<std::string>().empty())
      s.data_dir = abs(j["data_dir"].get<std::string>());
    if (j.contains("rls_dir") && !j["rls_dir"].get<std::string>().empty())
      s.rls_dir = abs(j["rls_dir"].get<std::string>());
    if (j.contains("pgtap_dir") && !j["pgtap_dir"].get<std::string>().empty())
      s.pgtap_dir = abs(j["pgtap_dir"].get<std::string>());
    s.pgtap_helpers = j.value("pgtap_helpers", std::string());
    if (const std::string lock = j.value("lock_file", std::string()); lock == "OFF")
      s.lock_off = true;
    else if (!lock.empty())
      s.lock_file = abs(lock);
    if (const std::string lint = j.value("lint", std::string("on")); lint == "off" || lint == "OFF")
      s.lint_off = true;
    else if (lint != "on" && lint != "ON")
      throw input_error(display_path(file) + ": lint must be on or off, not \"" + lint + "\"");
    s.lint_ignore = j.value("lint_ignore", std::vector<std::string>{});
    if (j.contains("lint_errors") && !j["lint_errors"].is_null())
      s.lint_errors = j["lint_errors"].get<std::vector<std::string>>();
    if (j.contains("lint_manifest") && !j["lint_manifest"].get<std::string>().empty())
      s.lint_manifest = abs(j["lint_manifest"].get<std::string>());
    s.validate(display_path(file) + ": ");
    s.idempotency = j.value("idempotency", std::string("auto"));
    if (s.idempotency != "auto" && s.idempotency != "on" && s.idempotency != "off")
      throw input_error(display_path(file) + ": idempotency must be auto, on or off, not \"" + s.idempotency +
                        "\"");
    s.irreversible = j.value("irreversible", std::vector<std::string>{});
    s.not_idempotent = j.value("not_idempotent", std::vector<std::string>{});
    s.column_order = j.value("column_order", std::string("strict"));
    s.pgtap_order = j.value("pgtap_order", std::string("isolated"));
    s.server_settings = j.value("server_settings", std::vector<std::string>{});
    s.validate(display_path(file) + ": ");
  } catch (const nlohmann::json::exception& e) {
    throw input_error(display_path(file) + ": " + e.what());
  }
  return s;
}

nlohmann::json suite::to_json() const {
  nlohmann::json j;
  j["name"] = name;
  j["migrations_dir"] = migrations_dir.string();
  j["layout"] = to_string(forced_layout);
  j["profile"] = profile;
  j["fixtures"] = nlohmann::json::array();
  for (const auto& f : fixtures) j["fixtures"].push_back(f.string());
  j["seeds"] = nlohmann::json::array();
  for (const auto& f : seeds) j["seeds"].push_back(f.string());
  j["statement_timeout"] = format_duration(statement_timeout);
  j["lock_timeout"] = format_duration(lock_timeout);
  j["output_dir"] = output_dir.string();
  j["snapshot"] = snapshot_file.string();
  j["data_dir"] = data_dir.string();
  j["idempotency"] = idempotency;
  j["rls_dir"] = rls_dir.string();
  j["pgtap_dir"] = pgtap_dir.string();
  j["pgtap_helpers"] = pgtap_helpers;
  j["lock_file"] = lock_off ? std::string("OFF") : lock_file.string();
  j["lint"] = lint_off ? "off" : "on";
  j["lint_ignore"] = lint_ignore;
  j["lint_errors"] = lint_errors ? nlohmann::json(*lint_errors) : nlohmann::json();
  j["lint_manifest"] = lint_manifest.string();
  j["irreversible"] = irreversible;
  j["not_idempotent"] = not_idempotent;
  j["column_order"] = column_order;
  j["pgtap_order"] = pgtap_order;
  j["server_settings"] = server_settings;
  return j;
}

std::vector<sql_source> suite::fixture_sources() const {
  std::vector<sql_source> out;
  if (!profile.empty()) out = profile_sources(profile);
  for (auto& src : load_sources(fixtures, "fixture")) out.push_back(std::move(src));
  return out;
}

void suite::validate(const std::string& where) const {
  auto known_rules = [&](const std::vector<std::string>& ids, const char* what) {
    for (const auto& id : ids)
      if (!find_lint_rule(id) && !(id == "all" && std::string(what) == "LINT_ERRORS"))
        throw input_error(where + what + " names \"" + id + "\", which is no rule of pgmt lint (pgmt lint --rules lists them)");
  };
  known_rules(lint_ignore, "LINT_IGNORE");
  if (lint_errors) known_rules(*lint_errors, "LINT_ERRORS");
  if (!pgtap_helpers.empty() && pgtap_helpers != "supabase")
    throw input_error(where + "pgTAP helpers \"" + pgtap_helpers +
                      "\" are not known; the helpers are: supabase");
  if (column_order != "strict" && column_order != "ignore")
    throw input_error(where + "COLUMN_ORDER (--column-order) must be strict or ignore, not \"" + column_order + "\"");
  if (pgtap_order != "isolated" && pgtap_order != "sequential")
    throw input_error(where + "PGTAP_ORDER (--pgtap-order) must be isolated or sequential, not \"" + pgtap_order + "\"");
  for (const auto& setting : server_settings) {
    const auto eq = setting.find('=');
    if (eq == std::string::npos || eq == 0)
      throw input_error(where + "SERVER_SETTINGS (--server-setting) \"" + setting +
                        "\" is not name=value (for example shared_preload_libraries=pg_cron)");
    for (char ch : setting.substr(0, eq))
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '.')
        throw input_error(where + "SERVER_SETTINGS (--server-setting) \"" + setting + "\": \"" + setting.substr(0, eq) +
                          "\" is not a setting's name");
  }
  if (pgtap_helpers == "supabase" && profile != "supabase")
    throw input_error(where +
                      "the supabase pgTAP helpers need the supabase profile (auth.users, the anon and "
                      "authenticated roles): add PROFILE supabase (--profile supabase)");
}

std::filesystem::path suite::lock_path() const {
  if (lock_off) return {};
  if (!lock_file.empty()) return lock_file;
  std::error_code ec;
  const auto p = default_lock_file(migrations_dir);
  return std::filesystem::exists(p, ec) ? p : std::filesystem::path();
}

std::string suite::session_options() const { return profile.empty() ? "" : profile_session_options(profile); }
std::vector<sql_source> suite::seed_sources() const { return load_sources(seeds, "seed"); }

std::vector<sql_source> suite::fixture_sources(const migration_set& set) const {
  std::vector<sql_source> out = fixture_sources();
  out.insert(out.end(), set.before_all.begin(), set.before_all.end());
  return out;
}

std::vector<sql_source> suite::seed_sources(const migration_set& set) const {
  std::vector<sql_source> out = set.after_all;
  for (auto& src : seed_sources()) out.push_back(std::move(src));
  return out;
}
migration_set suite::discover_migrations() const {
  migration_set set = discover(migrations_dir, forced_layout);
  // IRREVERSIBLE and NOT_IDEMPOTENT: as the directives in the files would say.
  auto mark = [&](const std::vector<std::string>& versions, const char* what, auto apply) {
    for (const auto& v : versions) {
      // Flyway's 1.1 is its 1.1.0 and 1_1 too.
      std::string dotted = v;
      std::replace(dotted.begin(), dotted.end(), '_', '.');
      auto it = std::find_if(set.migrations.begin(), set.migrations.end(), [&](const migration& m) {
        return m.version == v || m.id() == v ||
               (set.kind == layout::flyway && !m.repeatable && !dotted.empty() &&
                dotted.find_first_not_of("0123456789.") == std::string::npos &&
                detail::compare_flyway_versions(m.version, dotted) == 0);
      });
      if (it == set.migrations.end())
        throw input_error(std::string(what) + " names \"" + v + "\", which is no migration of \"" +
                          display_path(migrations_dir) + "\"; name migrations by version");
      apply(*it);
    }
  };
  mark(irreversible, "IRREVERSIBLE (--irreversible)", [](migration& m) { m.irreversible = true; });
  mark(not_idempotent, "NOT_IDEMPOTENT (--not-idempotent)", [](migration& m) {
    m.not_idempotent = true;
    if (m.not_idempotent_reason.empty()) m.not_idempotent_reason = "NOT_IDEMPOTENT of the suite";
  });
  return set;
}

}  // namespace pgmt
