// Flyway's layout: V<version>__<desc>.sql in Flyway's version order,
// U<version>__<desc>.sql as their downs, R__<desc>.sql run after them; the
// locations, prefixes and placeholders of flyway.conf or flyway.toml.
#include "layouts.hpp"

#include "pgmt/text.hpp"

#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 1
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace pgmt::detail {

namespace {

std::vector<std::string> split_list(const std::string& value) {
  std::vector<std::string> out;
  std::stringstream in(value);
  for (std::string part; std::getline(in, part, ',');)
    if (auto t = trim(part); !t.empty()) out.push_back(t);
  return out;
}

// "filesystem:sql", "classpath:db/migration" or a bare path, relative to the
// configuration's folder. A classpath location of a Maven or Gradle project
// is under src/main/resources.
fs::path location_path(const std::string& location, const fs::path& base, const fs::path& config) {
  std::string path = location;
  bool classpath = false;
  if (path.rfind("filesystem:", 0) == 0) {
    path = path.substr(11);
  } else if (path.rfind("classpath:", 0) == 0) {
    path = path.substr(10);
    classpath = true;
  } else if (auto colon = path.find(':'); colon != std::string::npos && colon > 1) {
    throw input_error(display_path(config) + ": location \"" + location +
                      "\" is not on the file system; pgmt reads filesystem: and classpath: locations");
  }
  fs::path p(path);
  if (p.is_absolute()) return p;
  std::error_code ec;
  if (classpath && fs::is_directory(base / "src" / "main" / "resources" / p, ec))
    return (base / "src" / "main" / "resources" / p).lexically_normal();
  return (base / p).lexically_normal();
}

// A setting of the configuration, by Flyway's name (without "flyway.").
void apply_setting(flyway_config& c, const std::string& key, const std::string& value, const fs::path& base,
                   const std::string& where) {
  if (key == "locations") {
    c.locations.clear();
    for (const auto& l : split_list(value)) c.locations.push_back(location_path(l, base, c.file));
  } else if (key == "callbackLocations") {
    c.callback_locations.clear();
    for (const auto& l : split_list(value)) c.callback_locations.push_back(location_path(l, base, c.file));
  } else if (key == "sqlMigrationPrefix") {
    c.versioned = value;
  } else if (key == "undoSqlMigrationPrefix") {
    c.undo = value;
  } else if (key == "repeatableSqlMigrationPrefix") {
    c.repeatable = value;
  } else if (key == "sqlMigrationSeparator") {
    c.separator = value;
  } else if (key == "sqlMigrationSuffixes") {
    c.suffixes = split_list(value);
  } else if (key == "placeholderReplacement") {
    c.replace_placeholders = value != "false";
  } else if (key == "placeholderPrefix") {
    c.placeholder_prefix = value;
  } else if (key == "placeholderSuffix") {
    c.placeholder_suffix = value;
  } else if (key.rfind("placeholders.", 0) == 0) {
    c.placeholders[key.substr(13)] = value;
  } else if (key == "defaultSchema") {
    c.placeholders["flyway:defaultSchema"] = value;
  } else if (key == "schemas") {
    auto list = split_list(value);
    if (!list.empty() && !c.placeholders.count("flyway:defaultSchema"))
      c.placeholders["flyway:defaultSchema"] = list.front();
  } else if (key == "table") {
    c.placeholders["flyway:table"] = value;
  }
  if ((key == "sqlMigrationSeparator" || key == "sqlMigrationPrefix" || key == "repeatableSqlMigrationPrefix") &&
      value.empty())
    throw input_error(where + ": " + key + " is empty; Flyway needs it to tell migrations apart");
}

// flyway.conf: Java properties (key=value or key: value, # and ! comments,
// a trailing backslash continues the line).
void read_properties(flyway_config& c, const fs::path& file, const fs::path& project) {
  std::ifstream in(file);
  if (!in) throw input_error("could not read \"" + display_path(file) + "\": " + std::strerror(errno));
  std::string line, logical;
  int number = 0, start = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (logical.empty()) {
      start = number;
      const std::string t = trim(line);
      if (t.empty() || t[0] == '#' || t[0] == '!') continue;
    }
    if (!line.empty() && line.back() == '\\') {
      logical += trim(line.substr(0, line.size() - 1));
      continue;
    }
    logical += logical.empty() ? line : trim(line);
    const std::string entry = trim(logical);
    logical.clear();
    const auto sep = entry.find_first_of("=:");
    if (sep == std::string::npos) continue;
    const std::string key = trim(entry.substr(0, sep)), value = trim(entry.substr(sep + 1));
    if (key.rfind("flyway.", 0) != 0) continue;
    apply_setting(c, key.substr(7), value, project, display_path(file) + ":" + std::to_string(start));
  }
}

// flyway.toml: the [flyway] table (and its placeholders).
void read_toml(flyway_config& c, const fs::path& file, const fs::path& project) {
  toml::table doc;
  try {
    doc = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    throw input_error(display_path(file) + ":" + std::to_string(e.source().begin.line) + ":" +
                      std::to_string(e.source().begin.column) + ": " + std::string(e.description()) +
                      "; flyway.toml must be TOML");
  }
  const toml::table* fw = doc["flyway"].as_table();
  if (!fw) return;
  for (const auto& [k, node] : *fw) {
    const std::string key(k.str());
    const std::string where = display_path(file) + ":" + std::to_string(node.source().begin.line);
    auto text = [&](const toml::node& n) -> std::string {
      if (auto s = n.value<std::string>()) return *s;
      if (auto b = n.value<bool>()) return *b ? "true" : "false";
      if (auto i = n.value<int64_t>()) return std::to_string(*i);
      throw input_error(where + ": flyway." + key + " must be a string");
    };
    if (const toml::array* a = node.as_array()) {
      std::string joined;
      for (const auto& item : *a) joined += (joined.empty() ? "" : ",") + text(item);
      apply_setting(c, key, joined, project, where);
    } else if (const toml::table* t = node.as_table()) {
      if (key == "placeholders")
        for (const auto& [pk, pv] : *t) c.placeholders[std::string(pk.str())] = text(pv);
    } else {
      apply_setting(c, key, text(node), project, where);
    }
  }
}

struct parsed_name {
  char kind = 0;  // 'V', 'U' or 'R'
  std::string version, description;
};

// V1_1__initial.sql → {V, "1.1", "initial"}; nullopt when it is not a migration name.
std::optional<parsed_name> parse_name(const std::string& file, const flyway_config& c, const fs::path& path) {
  std::string stem;
  for (const auto& suffix : c.suffixes)
    if (ends_with(file, suffix) && file.size() > suffix.size()) stem = file.substr(0, file.size() - suffix.size());
  if (stem.empty()) return std::nullopt;
  parsed_name n;
  std::string rest;
  if (!c.repeatable.empty() && stem.rfind(c.repeatable + c.separator, 0) == 0) {
    n.kind = 'R';
    n.description = stem.substr(c.repeatable.size() + c.separator.size());
    return n;
  }
  // The longer prefix first (a "V" and a "VU" say).
  std::vector<std::pair<char, std::string>> prefixes = {{'V', c.versioned}, {'U', c.undo}};
  std::sort(prefixes.begin(), prefixes.end(),
            [](const auto& a, const auto& b) { return a.second.size() > b.second.size(); });
  for (const auto& [kind, prefix] : prefixes)
    if (!prefix.empty() && stem.rfind(prefix, 0) == 0 && stem.size() > prefix.size() &&
        std::isdigit(static_cast<unsigned char>(stem[prefix.size()]))) {
      n.kind = kind;
      rest = stem.substr(prefix.size());
      break;
    }
  if (!n.kind) return std::nullopt;
  const auto sep = rest.find(c.separator);
  if (sep == std::string::npos)
    throw input_error(display_path(path) + ": no \"" + c.separator + "\" between the version and the description; " +
                      "name Flyway migrations " + c.versioned + "<version>" + c.separator + "<description>" +
                      c.suffixes.front() + " (for example " + c.versioned + "1_1" + c.separator + "initial.sql)");
  std::string version = rest.substr(0, sep);
  n.description = rest.substr(sep + c.separator.size());
  std::replace(version.begin(), version.end(), '_', '.');
  // Digits in parts separated by dots: Flyway compares them as numbers.
  bool ok = !version.empty() && version.front() != '.' && version.back() != '.' &&
            version.find("..") == std::string::npos;
  for (char ch : version) ok = ok && (std::isdigit(static_cast<unsigned char>(ch)) || ch == '.');
  if (!ok)
    throw input_error(display_path(path) + ": \"" + rest.substr(0, sep) +
                      "\" is not a Flyway version; write digits separated by '.' or '_' (1, 1.1, 2_3_1)");
  n.version = version;
  return n;
}

std::vector<std::string> parts(const std::string& v) {
  std::vector<std::string> out;
  std::stringstream in(v);
  for (std::string p; std::getline(in, p, '.');) {
    const auto nz = p.find_first_not_of('0');
    out.push_back(nz == std::string::npos ? "0" : p.substr(nz));
  }
  while (out.size() > 1 && out.back() == "0") out.pop_back();
  return out;
}

// A description as a test name can carry it (letters, digits, '_', '.', '-', '+').
std::string name_safe(const std::string& s) {
  std::string out;
  for (char ch : s) out += std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '+' || ch == '_' ? ch : '-';
  return out;
}

// ${name} replaced by the configuration's value; an unknown one is an error at its line.
void replace_placeholders(sql_source& src, const flyway_config& c) {
  if (!c.replace_placeholders || c.placeholder_prefix.empty()) return;
  std::string out;
  std::size_t p = 0;
  while (true) {
    const auto at = src.text.find(c.placeholder_prefix, p);
    if (at == std::string::npos) break;
    const auto end = src.text.find(c.placeholder_suffix, at + c.placeholder_prefix.size());
    if (end == std::string::npos) break;
    const std::string name = src.text.substr(at + c.placeholder_prefix.size(), end - at - c.placeholder_prefix.size());
    if (name.find('\n') != std::string::npos) break;
    auto it = c.placeholders.find(name);
    std::string value;
    if (it != c.placeholders.end()) {
      value = it->second;
    } else if (name == "flyway:defaultSchema") {
      value = "public";
    } else if (name == "flyway:table") {
      value = "flyway_schema_history";
    } else if (name == "flyway:filename") {
      value = src.path.filename().string();
    } else if (name == "flyway:timestamp") {
      char buf[32];
      const std::time_t now = std::time(nullptr);
      std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::gmtime(&now));
      value = buf;
    } else if (name.rfind("flyway:", 0) == 0) {
      const auto pos = position_of(src.text, at);
      throw input_error(display_path(src.path) + ":" + std::to_string(src.first_line + pos.line - 1) + ":" +
                        std::to_string(pos.column) + ": pgmt cannot give Flyway's " + c.placeholder_prefix + name +
                        c.placeholder_suffix +
                        ": it depends on the connection, and pgmt runs each migration in databases of its own "
                        "(it gives ${flyway:defaultSchema}, ${flyway:table}, ${flyway:filename} and "
                        "${flyway:timestamp}); write the value itself");
    } else {
      const auto pos = position_of(src.text, at);
      throw input_error(display_path(src.path) + ":" + std::to_string(src.first_line + pos.line - 1) + ":" +
                        std::to_string(pos.column) + ": no value for the placeholder " + c.placeholder_prefix + name +
                        c.placeholder_suffix + "; give one in flyway.conf (flyway.placeholders." + name +
                        "=...) or flyway.toml ([flyway.placeholders]), or set placeholderReplacement to false");
    }
    out += src.text.substr(p, at - p) + value;
    p = end + c.placeholder_suffix.size();
  }
  if (p == 0) return;
  src.text = out + src.text.substr(p);
}

void collect(const fs::path& dir, std::vector<fs::path>& out) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw input_error("Flyway location \"" + display_path(dir) + "\" is not a folder; fix flyway.locations");
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind('.', 0) == 0) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec)) out.push_back(it->path());
  }
  if (ec) throw input_error("could not list folder \"" + display_path(dir) + "\": " + ec.message());
}

}  // namespace

std::optional<flyway_config> read_flyway_config(const fs::path& dir) {
  for (const fs::path& f : {dir / "flyway.toml", dir / "flyway.conf", dir / "conf" / "flyway.conf"}) {
    std::error_code ec;
    if (!fs::is_regular_file(f, ec)) continue;
    flyway_config c;
    c.file = f;
    // Relative locations: from the project's folder (Flyway's working
    // folder), conf/flyway.conf included.
    if (f.extension() == ".toml")
      read_toml(c, f, dir);
    else
      read_properties(c, f, dir);
    return c;
  }
  return std::nullopt;
}

bool flyway_file_name(const std::string& name) {
  try {
    return parse_name(name, flyway_config{}, name).has_value();
  } catch (const input_error&) {
    return name.size() > 1 && (name[0] == 'V' || name[0] == 'U') && std::isdigit(static_cast<unsigned char>(name[1]));
  }
}

int compare_flyway_versions(const std::string& a, const std::string& b) {
  const auto x = parts(a), y = parts(b);
  for (std::size_t i = 0; i < std::max(x.size(), y.size()); ++i) {
    const std::string p = i < x.size() ? x[i] : "0", q = i < y.size() ? y[i] : "0";
    if (p.size() != q.size()) return p.size() < q.size() ? -1 : 1;
    if (p != q) return p < q ? -1 : 1;
  }
  return 0;
}

namespace {

// Flyway's callback events, and what pgmt does with each SQL callback.
enum class callback_use { before_all, after_all, not_run, not_migrate };
const std::map<std::string, callback_use>& callback_events() {
  static const std::map<std::string, callback_use> events = {
      {"beforeMigrate", callback_use::before_all},
      {"afterMigrate", callback_use::after_all},
      {"afterMigrateApplied", callback_use::after_all},
      {"beforeRepeatables", callback_use::not_run},
      {"afterVersioned", callback_use::not_run},
      {"beforeEachMigrate", callback_use::not_run},
      {"beforeEachMigrateStatement", callback_use::not_run},
      {"afterEachMigrateStatement", callback_use::not_run},
      {"afterEachMigrateStatementError", callback_use::not_migrate},
      {"afterEachMigrate", callback_use::not_run},
      {"afterEachMigrateError", callback_use::not_migrate},
      {"afterMigrateError", callback_use::not_migrate},
      {"beforeUndo", callback_use::not_migrate},
      {"beforeEachUndo", callback_use::not_migrate},
      {"beforeEachUndoStatement", callback_use::not_migrate},
      {"afterEachUndoStatement", callback_use::not_migrate},
      {"afterEachUndoStatementError", callback_use::not_migrate},
      {"afterEachUndo", callback_use::not_migrate},
      {"afterEachUndoError", callback_use::not_migrate},
      {"afterUndo", callback_use::not_migrate},
      {"afterUndoError", callback_use::not_migrate},
      {"beforeClean", callback_use::not_migrate},
      {"afterClean", callback_use::not_migrate},
      {"afterCleanError", callback_use::not_migrate},
      {"beforeInfo", callback_use::not_migrate},
      {"afterInfo", callback_use::not_migrate},
      {"afterInfoError", callback_use::not_migrate},
      {"beforeValidate", callback_use::not_migrate},
      {"afterValidate", callback_use::not_migrate},
      {"afterValidateError", callback_use::not_migrate},
      {"beforeBaseline", callback_use::not_migrate},
      {"afterBaseline", callback_use::not_migrate},
      {"afterBaselineError", callback_use::not_migrate},
      {"beforeRepair", callback_use::not_migrate},
      {"afterRepair", callback_use::not_migrate},
      {"afterRepairError", callback_use::not_migrate},
      {"createSchema", callback_use::not_migrate},
      {"beforeConnect", callback_use::not_migrate},
      {"afterConnect", callback_use::not_migrate},
      {"beforeEachConnect", callback_use::not_migrate},
      {"afterEachConnect", callback_use::not_migrate}};
  return events;
}

// The event of a callback file name, or nullopt.
std::optional<callback_use> callback_of(const std::string& name, const flyway_config& config) {
  for (const auto& suffix : config.suffixes) {
    if (!ends_with(name, suffix)) continue;
    std::string event = name.substr(0, name.size() - suffix.size());
    if (auto sep = event.find(config.separator); sep != std::string::npos) event.resize(sep);
    if (auto e = callback_events().find(event); e != callback_events().end()) return e->second;
  }
  return std::nullopt;
}

}  // namespace

bool flyway_callback_name(const std::string& name) { return callback_of(name, flyway_config{}).has_value(); }

flyway_project discover_flyway(const fs::path& dir, const flyway_config& config) {
  std::vector<fs::path> files, callback_files;
  if (config.locations.empty())
    collect(dir, files);
  else
    for (const auto& l : config.locations) collect(l, files);
  // Callbacks come from callbackLocations when it is set, else from the
  // locations, as Flyway reads them; a file found twice (overlapping
  // folders) counts once.
  for (const auto& l : config.callback_locations) collect(l, callback_files);
  auto once = [](std::vector<fs::path>& paths) {
    std::set<fs::path> seen;
    std::vector<fs::path> out;
    for (auto& p : paths) {
      std::error_code ec;
      fs::path key = fs::weakly_canonical(p, ec);
      if (seen.insert(ec ? p : key).second) out.push_back(std::move(p));
    }
    paths = std::move(out);
  };
  once(files);
  once(callback_files);
  flyway_project project;
  std::vector<migration> versioned, repeatable;
  std::vector<std::pair<parsed_name, fs::path>> undos;
  std::vector<std::pair<callback_use, fs::path>> callbacks;
  for (const auto& f : callback_files)
    if (auto use = callback_of(f.filename().string(), config)) callbacks.emplace_back(*use, f);
  for (const auto& f : files) {
    if (auto use = callback_of(f.filename().string(), config)) {
      if (config.callback_locations.empty()) callbacks.emplace_back(*use, f);
      continue;
    }
    auto n = parse_name(f.filename().string(), config, f);
    if (!n) continue;
    sql_source src;
    src.path = f;
    src.text = read_sql_file(f);
    if (n->kind == 'U') {
      undos.emplace_back(*n, f);
      continue;
    }
    replace_placeholders(src, config);
    migration m;
    m.name = n->description;
    m.up = std::move(src);
    if (n->kind == 'R') {
      m.version = "R." + name_safe(n->description);
      m.name.clear();  // the version says it: R.<description>
      m.repeatable = true;
      repeatable.push_back(std::move(m));
    } else {
      m.version = n->version;
      versioned.push_back(std::move(m));
    }
  }
  std::stable_sort(versioned.begin(), versioned.end(), [](const migration& a, const migration& b) {
    return compare_flyway_versions(a.version, b.version) < 0;
  });
  for (std::size_t i = 1; i < versioned.size(); ++i)
    if (compare_flyway_versions(versioned[i - 1].version, versioned[i].version) == 0)
      throw input_error("two Flyway migrations with version " + versioned[i].version + ": \"" +
                        display_path(versioned[i - 1].up.path) + "\" and \"" + display_path(versioned[i].up.path) +
                        "\"; give one of them a new version");
  for (auto& [n, f] : undos) {
    auto it = std::find_if(versioned.begin(), versioned.end(), [&n = n](const migration& m) {
      return compare_flyway_versions(m.version, n.version) == 0;
    });
    if (it == versioned.end())
      throw input_error("undo script \"" + display_path(f) + "\" has no versioned migration " + n.version + "; add \"" +
                        config.versioned + n.version + config.separator + n.description + config.suffixes.front() +
                        "\" or remove it");
    if (it->down)
      throw input_error("two undo scripts for version " + n.version + ": \"" + display_path(it->down->path) +
                        "\" and \"" + display_path(f) + "\"; keep one");
    sql_source src;
    src.path = f;
    src.text = read_sql_file(f);
    replace_placeholders(src, config);
    it->down = std::move(src);
  }
  // Repeatable migrations: after every versioned one, in the order of their descriptions.
  std::stable_sort(repeatable.begin(), repeatable.end(),
                   [](const migration& a, const migration& b) { return a.up.path.filename() < b.up.path.filename(); });
  std::set<std::string> seen;
  for (const auto& m : repeatable)
    if (!seen.insert(m.version).second)
      throw input_error("two repeatable migrations are both " + m.version + " in test names: \"" +
                        display_path(m.up.path) + "\" and another; give one of them another description");
  for (auto& m : repeatable) versioned.push_back(std::move(m));
  project.migrations = std::move(versioned);
  // Callbacks of one event run in the order of their names, as Flyway runs them.
  std::sort(callbacks.begin(), callbacks.end(),
            [](const auto& a, const auto& b) { return a.second.filename() < b.second.filename(); });
  for (const auto& [use, f] : callbacks) {
    if (use == callback_use::not_migrate) continue;  // other commands' (clean, info, undo, ...)
    if (use == callback_use::not_run) {
      project.notes.push_back("the Flyway callback \"" + display_path(f) +
                              "\" is not run: pgmt runs beforeMigrate callbacks before the first migration and "
                              "afterMigrate callbacks after the last, not those of each migration or of the "
                              "repeatables; put what it does in the migrations, or in a beforeMigrate or "
                              "afterMigrate callback");
      continue;
    }
    sql_source src;
    src.path = f;
    src.text = read_sql_file(f);
    replace_placeholders(src, config);
    (use == callback_use::before_all ? project.before_all : project.after_all).push_back(std::move(src));
  }
  return project;
}

}  // namespace pgmt::detail
