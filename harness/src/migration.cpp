#include "pgmt/migration.hpp"

#include "layouts.hpp"
#include "pgmt/text.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <set>

namespace fs = std::filesystem;

namespace pgmt {

namespace {

using detail::ends_with;

const char* const layout_help =
    "expected one of: <version>_<name>.sql (flat), <version>_<name>.up.sql + .down.sql (paired), "
    "up/<file>.sql + down/<file>.sql (split), <version>_<name>/up.sql + down.sql (folders), "
    "files with -- migrate:up / -- migrate:down (sections), V<version>__<desc>.sql (flyway), "
    "or sqitch.plan with deploy/ and revert/ (sqitch)";

bool hidden(const fs::path& p) { return p.filename().string().rfind('.', 0) == 0; }

// Splits "20260101_create_users" into version and name. The version must start with a digit.
std::pair<std::string, std::string> version_and_name(const std::string& stem, const fs::path& file) {
  auto us = stem.find('_');
  std::string version = stem.substr(0, us);
  std::string name = us == std::string::npos ? "" : stem.substr(us + 1);
  if (version.empty() || !std::isdigit(static_cast<unsigned char>(version[0])))
    throw input_error(
        display_path(file) +
        ": name does not start with a version; name migrations <version>_<name> "
        "(for example 20260101120000_create_users), or move this file out of the migrations folder");
  // The version names the migration's tests (<suite>.<version>.apply).
  for (char ch : version)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '-' && ch != '+')
      throw input_error(display_path(file) + ": version \"" + version + "\" has a character test names cannot carry ('" +
                        std::string(1, ch) + "'); use digits, letters, '.', '-' or '+' before the first '_'");
  return {version, name};
}

sql_source load(const fs::path& file) {
  sql_source s;
  s.path = file;
  s.text = read_sql_file(file);
  return s;
}

std::vector<fs::path> sorted_entries(const fs::path& dir) {
  // Byte order of the names (comparing paths goes component by component, far slower).
  std::vector<std::pair<std::string, fs::path>> named;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (hidden(e.path())) continue;
    named.emplace_back(e.path().filename().string(), e.path());
  }
  if (ec) throw input_error("could not list folder \"" + display_path(dir) + "\": " + ec.message());
  std::sort(named.begin(), named.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<fs::path> out;
  out.reserve(named.size());
  for (auto& [name, path] : named) out.push_back(std::move(path));
  return out;
}

bool has_section_markers(const std::string& text) {
  std::size_t p = 0;
  while (p < text.size()) {
    std::size_t e = text.find('\n', p);
    if (e == std::string::npos) e = text.size();
    std::string_view line(text.data() + p, e - p);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front()))) line.remove_prefix(1);
    if (line.rfind("-- migrate:up", 0) == 0) return true;
    p = e + 1;
  }
  return false;
}

// A dbmate file: header, `-- migrate:up [options]`, up SQL, `-- migrate:down [options]`, down SQL.
void split_sections(const fs::path& file, const std::string& text, migration& m) {
  struct marker {
    std::size_t line_start, next;
    int line;
    std::string kind, options;
  };
  std::vector<marker> markers;
  std::size_t p = 0;
  int line = 1;
  while (p <= text.size()) {
    std::size_t e = text.find('\n', p);
    std::size_t next = e == std::string::npos ? text.size() + 1 : e + 1;
    std::string_view l(text.data() + p, (e == std::string::npos ? text.size() : e) - p);
    std::string_view trimmed = l;
    while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front())))
      trimmed.remove_prefix(1);
    for (const char* kind : {"up", "down"}) {
      std::string tag = std::string("-- migrate:") + kind;
      if (trimmed.rfind(tag, 0) == 0 &&
          (trimmed.size() == tag.size() || std::isspace(static_cast<unsigned char>(trimmed[tag.size()])))) {
        std::string opts(trimmed.substr(tag.size()));
        markers.push_back({p, std::min(next, text.size()), line, kind, opts});
      }
    }
    if (e == std::string::npos) break;
    p = next;
    ++line;
  }
  auto count = [&](const char* k) {
    return std::count_if(markers.begin(), markers.end(), [&](const marker& mk) { return mk.kind == k; });
  };
  if (count("up") != 1)
    throw input_error(display_path(file) +
                      ": a sections file needs exactly one \"-- migrate:up\" line, found " +
                      std::to_string(count("up")));
  if (count("down") > 1) {
    const auto& second =
        *std::find_if(markers.rbegin(), markers.rend(), [](const marker& mk) { return mk.kind == "down"; });
    throw input_error(
        display_path(file) + ":" + std::to_string(second.line) +
        ": a second \"-- migrate:down\" line; a sections file has one up and at most one down section");
  }
  if (markers.size() == 2 && markers[0].kind == "down")
    throw input_error(display_path(file) + ":" + std::to_string(markers[0].line) +
                      ": \"-- migrate:down\" comes before \"-- migrate:up\"; put the up section first");
  auto section = [&](std::size_t i) {
    sql_source s;
    s.path = file;
    std::size_t begin = markers[i].next;
    std::size_t end = i + 1 < markers.size() ? markers[i + 1].line_start : text.size();
    s.text = text.substr(begin, end > begin ? end - begin : 0);
    s.first_line = markers[i].line + 1;
    if (markers[i].options.find("transaction:false") != std::string::npos) s.no_transaction = true;
    return s;
  };
  m.up = section(0);
  // Directives may sit in the header above the up marker as well.
  sql_source header;
  header.path = file;
  header.text = text.substr(0, markers[0].line_start);
  read_directives(header, &m);
  if (header.no_transaction) m.up.no_transaction = true;
  read_directives(m.up, &m);
  if (markers.size() == 2) {
    m.down = section(1);
    read_directives(*m.down, nullptr);
  }
}

// Migrations from up and down scripts keyed by stem, paired by version (as
// golang-migrate does: 0001_a.up.sql goes with 0001_b.down.sql); a down
// without its up is an error that names the up file it expects (up_name).
template <typename UpName>
void pair_up(const std::map<std::string, fs::path>& ups, const std::map<std::string, fs::path>& downs,
             UpName up_name, std::vector<migration>& out) {
  std::map<std::string, std::pair<std::string, fs::path>> down_by_version;  // version -> (stem, file)
  std::set<std::string> up_versions;
  for (const auto& [stem, f] : ups) up_versions.insert(version_and_name(stem, f).first);
  for (const auto& [stem, f] : downs) {
    const std::string version = version_and_name(stem, f).first;
    if (!up_versions.count(version))
      throw input_error("down script \"" + display_path(f) + "\" has no up script; add \"" + up_name(stem) +
                        "\" or remove it");
    auto [it, fresh] = down_by_version.emplace(version, std::make_pair(stem, f));
    if (!fresh)
      throw input_error("two down scripts for version \"" + version + "\": \"" + display_path(it->second.second) +
                        "\" and \"" + display_path(f) + "\"; keep one");
  }
  for (const auto& [stem, f] : ups) {
    migration m;
    std::tie(m.version, m.name) = version_and_name(stem, f);
    m.up = load(f);
    if (auto d = down_by_version.find(m.version); d != down_by_version.end()) m.down = load(d->second.second);
    out.push_back(std::move(m));
  }
}

bool all_digits(const std::string& v) {
  return !v.empty() && std::all_of(v.begin(), v.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

// A version of digits as a number: no leading zeros ("0010" is "10").
std::string numeric(const std::string& v) {
  const auto nz = v.find_first_not_of('0');
  return nz == std::string::npos ? "0" : v.substr(nz);
}

void check_duplicates(const std::vector<migration>& ms, bool by_number) {
  std::map<std::string, const migration*> seen;
  for (const auto& m : ms) {
    auto [it, fresh] = seen.emplace(by_number ? numeric(m.version) : m.version, &m);
    if (!fresh)
      throw input_error("duplicate migration version \"" + m.version + "\": \"" +
                        display_path(it->second->up.path) + "\" and \"" + display_path(m.up.path) +
                        "\"; give one of them a new version");
  }
}

std::string list_some(const std::vector<fs::path>& files) {
  std::string out;
  for (std::size_t i = 0; i < files.size() && i < 3; ++i)
    out += (i ? ", " : "") + std::string("\"") + display_path(files[i]) + "\"";
  if (files.size() > 3) out += " and " + std::to_string(files.size() - 3) + " more";
  return out;
}

}  // namespace

std::string to_string(layout l) {
  switch (l) {
  case layout::automatic: return "auto";
  case layout::flat: return "flat";
  case layout::paired: return "paired";
  case layout::split: return "split";
  case layout::folders: return "folders";
  case layout::sections: return "sections";
  case layout::flyway: return "flyway";
  case layout::sqitch: return "sqitch";
  }
  return "auto";
}

layout parse_layout(std::string_view name) {
  for (layout l : {layout::automatic, layout::flat, layout::paired, layout::split, layout::folders,
                   layout::sections, layout::flyway, layout::sqitch})
    if (to_string(l) == name) return l;
  throw input_error("unknown layout \"" + std::string(name) +
                    "\"; use one of auto, flat, paired, split, folders, sections, flyway, sqitch");
}

void read_directives(sql_source& src, migration* m) {
  std::size_t p = 0;
  int line = src.first_line;
  bool leading = true;  // still in the leading comment lines
  while (p < src.text.size()) {
    std::size_t e = src.text.find('\n', p);
    if (e == std::string::npos) e = src.text.size();
    std::string_view l(src.text.data() + p, e - p);
    while (!l.empty() && std::isspace(static_cast<unsigned char>(l.front()))) l.remove_prefix(1);
    while (!l.empty() && std::isspace(static_cast<unsigned char>(l.back()))) l.remove_suffix(1);
    if (leading && l.rfind("/*", 0) == 0) {
      // A block comment among the leading lines (a license header): skipped whole.
      const std::size_t close = src.text.find("*/", p + (l.data() - (src.text.data() + p)) + 2);
      if (close == std::string::npos) break;
      for (std::size_t i = p; i < close; ++i) line += src.text[i] == '\n' ? 1 : 0;
      p = close + 2;
      continue;
    }
    if (!leading) {
      // A directive after the first SQL line would be ignored: say so.
      if (l.rfind("--", 0) == 0) {
        std::string_view c = l.substr(2);
        while (!c.empty() && std::isspace(static_cast<unsigned char>(c.front()))) c.remove_prefix(1);
        for (const char* d : {"pgmt:no-transaction", "pgmt:irreversible", "pgmt:not-idempotent"})
          if (c.rfind(d, 0) == 0 && (c.size() == std::strlen(d) || std::isspace(static_cast<unsigned char>(c[std::strlen(d)]))))
            throw input_error(display_path(src.path) + ":" + std::to_string(line) + ": \"-- " + d +
                              "\" comes after the first SQL line, where pgmt does not read it; move it to the "
                              "comment lines at the top of the file");
      }
      p = e + 1;
      ++line;
      continue;
    }
    if (!l.empty()) {
      if (l.rfind("--", 0) != 0) {  // first line of SQL: the leading comment is over
        leading = false;
        p = e + 1;
        ++line;
        continue;
      }
      std::string_view c = l.substr(2);
      while (!c.empty() && std::isspace(static_cast<unsigned char>(c.front()))) c.remove_prefix(1);
      if (c.rfind("pgmt:", 0) == 0) {
        std::string_view rest = c.substr(5);
        std::size_t sp = 0;
        while (sp < rest.size() && !std::isspace(static_cast<unsigned char>(rest[sp]))) ++sp;
        std::string word(rest.substr(0, sp));
        std::string arg(rest.substr(sp));
        while (!arg.empty() && std::isspace(static_cast<unsigned char>(arg.front()))) arg.erase(0, 1);
        if (word == "no-transaction") {
          src.no_transaction = true;
        } else if (word == "irreversible" && m) {
          m->irreversible = true;
        } else if (word == "not-idempotent" && m) {
          m->not_idempotent = true;
          m->not_idempotent_reason = arg;
        } else if (word == "lint-ignore") {
          // Lifts a lint rule for the statement after it (lint reads it there).
        } else {
          throw input_error(display_path(src.path) + ":" + std::to_string(line) +
                            ": unknown directive \"pgmt:" + word + "\"" + (m ? "" : " in a down script") +
                            "; known directives: pgmt:no-transaction" +
                            (m ? ", pgmt:irreversible, pgmt:not-idempotent <reason>" : "") +
                            ", pgmt:lint-ignore <rule> <reason>");
        }
      }
    }
    p = e + 1;
    ++line;
  }
}

const migration* migration_set::find(std::string_view key) const {
  for (const auto& m : migrations)
    if (m.version == key || m.id() == key) return &m;
  return nullptr;
}

std::size_t migration_set::index_of(std::string_view key) const {
  for (std::size_t i = 0; i < migrations.size(); ++i)
    if (migrations[i].version == key || migrations[i].id() == key) return i;
  throw input_error("no migration \"" + std::string(key) + "\" in \"" + display_path(dir) + "\"");
}

namespace {

// A set of a tool that orders it itself (Flyway, sqitch): its directives read.
migration_set finish(const fs::path& dir, layout kind, std::vector<migration> ms) {
  if (ms.empty())
    throw input_error("no migrations found in \"" + display_path(dir) + "\" for layout " + to_string(kind) +
                      "; " + layout_help);
  for (auto& m : ms) {
    read_directives(m.up, &m);
    if (m.down) read_directives(*m.down, nullptr);
    if (m.verify) read_directives(*m.verify, nullptr);
  }
  migration_set set;
  set.dir = dir;
  set.kind = kind;
  set.migrations = std::move(ms);
  return set;
}

migration_set flyway_set(const fs::path& dir, const detail::flyway_config& config) {
  detail::flyway_project project = detail::discover_flyway(dir, config);
  migration_set set = finish(dir, layout::flyway, std::move(project.migrations));
  set.before_all = std::move(project.before_all);
  set.after_all = std::move(project.after_all);
  set.notes = std::move(project.notes);
  return set;
}

}  // namespace

migration_set discover(const fs::path& dir, layout forced) {
  std::error_code ec;
  if (!fs::exists(dir, ec))
    throw input_error("migrations folder \"" + display_path(dir) + "\" does not exist");
  if (!fs::is_directory(dir, ec))
    throw input_error("\"" + display_path(dir) +
                      "\" is not a folder; point MIGRATIONS_DIR at the folder that holds the migrations");

  // A project folder of a tool with its own plan or configuration.
  if (forced == layout::sqitch || (forced == layout::automatic && (fs::is_regular_file(dir / "sqitch.plan", ec) ||
                                                                    fs::is_regular_file(dir / "sqitch.conf", ec))))
    return finish(dir, layout::sqitch, detail::discover_sqitch(dir));
  if (auto conf = detail::read_flyway_config(dir); conf && (forced == layout::automatic || forced == layout::flyway))
    return flyway_set(dir, *conf);
  if (forced == layout::flyway) return flyway_set(dir, {});

  // Sort what the folder holds into the layouts it could belong to.
  std::vector<fs::path> flat_files, paired_files, section_files, folder_dirs, flyway_files, flyway_callbacks;
  bool has_up_dir = false, has_down_dir = false;
  std::map<fs::path, std::string> texts;
  for (const auto& p : sorted_entries(dir)) {
    const std::string fname = p.filename().string();
    if (fs::is_directory(p, ec)) {
      if (fname == "up") {
        has_up_dir = true;
      } else if (fname == "down") {
        has_down_dir = true;
      } else if (fs::exists(p / "up.sql", ec) || fs::exists(p / "down.sql", ec)) {
        folder_dirs.push_back(p);
      } else if (ends_with(fname, ".sql")) {
        throw input_error("\"" + display_path(p) +
                          "\" is a folder, not a SQL file; a migration is a file (or, in diesel's layout, a "
                          "folder holding up.sql and down.sql)");
      }
      continue;
    }
    if (!ends_with(fname, ".sql")) continue;
    if (detail::flyway_file_name(fname)) {
      flyway_files.push_back(p);
    } else if (detail::flyway_callback_name(fname) && forced != layout::flat && forced != layout::sections) {
      flyway_callbacks.push_back(p);
    } else if (ends_with(fname, ".up.sql") || ends_with(fname, ".down.sql")) {
      paired_files.push_back(p);
    } else {
      std::string text = read_sql_file(p);
      if (forced == layout::sections || (forced == layout::automatic && has_section_markers(text)))
        section_files.push_back(p);
      else
        flat_files.push_back(p);
      texts[p] = std::move(text);
    }
  }
  // Flyway's callbacks (afterMigrate.sql) belong to its layout; beside no
  // Flyway migration they are files like any other.
  if (flyway_files.empty())
    for (auto& p : flyway_callbacks) {
      texts[p] = read_sql_file(p);
      flat_files.push_back(p);
    }
  if (forced == layout::flat) {
    for (auto& p : paired_files) {
      texts[p] = read_sql_file(p);
      flat_files.push_back(p);
    }
    paired_files.clear();
    std::sort(flat_files.begin(), flat_files.end());
  }

  std::vector<std::pair<layout, std::vector<fs::path>>> present;
  if (has_up_dir || has_down_dir) present.push_back({layout::split, {dir / (has_up_dir ? "up" : "down")}});
  if (!folder_dirs.empty()) present.push_back({layout::folders, folder_dirs});
  if (!paired_files.empty()) present.push_back({layout::paired, paired_files});
  if (!section_files.empty()) present.push_back({layout::sections, section_files});
  if (!flat_files.empty()) present.push_back({layout::flat, flat_files});
  if (!flyway_files.empty()) present.push_back({layout::flyway, flyway_files});

  layout kind = forced;
  if (forced == layout::automatic) {
    if (present.empty())
      throw input_error("no migrations found in \"" + display_path(dir) + "\"; " + layout_help);
    if (present.size() > 1) {
      std::string what;
      for (const auto& [l, files] : present)
        what += (what.empty() ? "" : "; ") + to_string(l) + ": " + list_some(files);
      throw input_error("\"" + display_path(dir) + "\" mixes migration layouts (" + what +
                        "); keep one layout per folder, or force one with LAYOUT");
    }
    kind = present.front().first;
    if (kind == layout::flyway) return flyway_set(dir, {});
  }

  migration_set set;
  set.dir = dir;
  set.kind = kind;
  auto& out = set.migrations;

  switch (kind) {
  case layout::flyway:
  case layout::sqitch:  // returned above
  case layout::automatic:
  case layout::flat:
    for (const auto& f : flat_files) {
      migration m;
      std::tie(m.version, m.name) = version_and_name(f.stem().string(), f);
      m.up.path = f;
      m.up.text = texts.at(f);
      out.push_back(std::move(m));
    }
    break;
  case layout::sections:
    for (const auto& f : section_files) {
      migration m;
      std::tie(m.version, m.name) = version_and_name(f.stem().string(), f);
      split_sections(f, texts.at(f), m);
      out.push_back(std::move(m));
    }
    break;
  case layout::paired: {
    std::map<std::string, fs::path> ups, downs;
    for (const auto& f : paired_files) {
      std::string fname = f.filename().string();
      if (ends_with(fname, ".up.sql"))
        ups[fname.substr(0, fname.size() - 7)] = f;
      else
        downs[fname.substr(0, fname.size() - 9)] = f;
    }
    pair_up(
        ups, downs, [](const std::string& stem) { return stem + ".up.sql"; }, out);
    break;
  }
  case layout::split: {
    if (!has_up_dir)
      throw input_error("\"" + display_path(dir / "down") +
                        "\" has no \"up\" folder beside it; down scripts need up scripts");
    std::map<std::string, fs::path> ups, downs;
    for (const auto& f : sorted_entries(dir / "up"))
      if (ends_with(f.filename().string(), ".sql")) ups[f.stem().string()] = f;
    if (has_down_dir)
      for (const auto& f : sorted_entries(dir / "down"))
        if (ends_with(f.filename().string(), ".sql")) downs[f.stem().string()] = f;
    pair_up(
        ups, downs, [](const std::string& stem) { return "up/" + stem + ".sql"; }, out);
    break;
  }
  case layout::folders:
    for (const auto& d : folder_dirs) {
      if (!fs::exists(d / "up.sql", ec))
        throw input_error("down script \"" + display_path(d / "down.sql") + "\" has no up script; add \"" +
                          display_path(d / "up.sql") + "\" or remove the folder");
      migration m;
      std::tie(m.version, m.name) = version_and_name(d.filename().string(), d);
      m.up = load(d / "up.sql");
      if (fs::exists(d / "down.sql", ec)) m.down = load(d / "down.sql");
      out.push_back(std::move(m));
    }
    break;
  }

  if (out.empty())
    throw input_error("no migrations found in \"" + display_path(dir) + "\" for layout " + to_string(kind) +
                      "; " + layout_help);

  for (auto& m : out) {
    if (kind != layout::sections) {
      read_directives(m.up, &m);
      if (m.down) read_directives(*m.down, nullptr);
    }
    // A down script with no statement (a file of comments) is a down that
    // does nothing: the round trip runs it and reports what stays behind.
    // dbmate's "-- migrate:down" with nothing under it is the same.
  }
  // The order of the layout's tools: golang-migrate and sqlx (up and down
  // files or folders) read a version of digits as a number (1, 2, 10);
  // Supabase, dbmate and diesel (one file a migration, or dashes in the
  // version) compare names byte by byte, as they do.
  const bool by_number = (kind == layout::paired || kind == layout::split || kind == layout::folders) &&
                         std::all_of(out.begin(), out.end(), [](const migration& m) { return all_digits(m.version); });
  if (by_number)
    std::stable_sort(out.begin(), out.end(), [](const migration& a, const migration& b) {
      const std::string x = numeric(a.version), y = numeric(b.version);
      return x.size() != y.size() ? x.size() < y.size() : x < y;
    });
  else
    std::stable_sort(out.begin(), out.end(),
                     [](const migration& a, const migration& b) { return a.version < b.version; });
  check_duplicates(out, by_number);
  return set;
}

std::string migration::checksum() const { return migration_checksum(up.text); }

}  // namespace pgmt
