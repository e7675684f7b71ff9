#include "pgmt/lock.hpp"

#include "pgmt/process.hpp"
#include "pgmt/script.hpp"
#include "pgmt/text.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

namespace pgmt {

namespace fs = std::filesystem;

namespace {

std::string short_sum(const std::string& sum) { return sum.substr(0, 12); }

// A private temporary folder, removed with the object.
class scratch_folder {
 public:
  scratch_folder() {
    std::string tmpl = (fs::temp_directory_path() / "pgmt-lock-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw harness_error("could not create a temporary folder for the lock check");
    path_ = tmpl;
  }
  ~scratch_folder() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  scratch_folder(const scratch_folder&) = delete;
  scratch_folder& operator=(const scratch_folder&) = delete;
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write_file(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

// The lines of old and now that differ, as `git diff` finds them: "  -3 | ..."
// and "  +3 | ...", and the first line of now that changed (0 if none).
std::vector<std::string> changed_lines(const std::string& old_text, const std::string& now_text, int* first) {
  scratch_folder tmp;
  // As the checksum reads them: no BOM, LF line ends.
  auto normal = [](std::string t) {
    if (t.rfind("\xEF\xBB\xBF", 0) == 0) t.erase(0, 3);
    std::string out;
    for (std::size_t i = 0; i < t.size(); ++i)
      if (!(t[i] == '\r' && i + 1 < t.size() && t[i + 1] == '\n')) out += t[i];
    return out;
  };
  write_file(tmp.path() / "a", normal(old_text));
  write_file(tmp.path() / "b", normal(now_text));
  std::vector<std::string> out;
  detail::run_result r;
  try {
    r = detail::run({"git", "diff", "--no-index", "--no-color", "-U0", (tmp.path() / "a").string(),
                     (tmp.path() / "b").string()});
  } catch (const std::exception&) {
    return out;  // no git: the checksums say it all
  }
  static const std::regex hunk(R"(^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@)");
  int old_line = 0, new_line = 0;
  std::istringstream in(r.output);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_search(l, m, hunk)) {
      old_line = std::stoi(m[1].str());
      new_line = std::stoi(m[2].str());
      if (first && *first == 0) *first = std::max(1, new_line);
      continue;
    }
    if (l.rfind("---", 0) == 0 || l.rfind("+++", 0) == 0 || l.empty()) continue;
    if (l[0] == '-') out.push_back("  -" + std::to_string(old_line++) + " | " + l.substr(1));
    if (l[0] == '+') out.push_back("  +" + std::to_string(new_line++) + " | " + l.substr(1));
    if (out.size() >= 40) {
      out.push_back("  ... (more lines changed)");
      break;
    }
  }
  return out;
}

// git's answer for argv, run in dir; nullopt when git fails or is missing.
std::optional<std::string> git(const fs::path& dir, std::vector<std::string> args) {
  args.insert(args.begin(), {"git", "-C", dir.string()});
  try {
    auto r = detail::run(args);
    if (r.exit_code != 0) return std::nullopt;
    return r.output;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

fs::path default_lock_file(const fs::path& migrations_dir) { return migrations_dir / "pgmt.lock"; }

std::vector<lock_entry> read_lock_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    throw input_error("could not read lock file \"" + display_path(file) + "\": " + std::strerror(errno));
  std::vector<lock_entry> out;
  std::map<std::string, int> seen;
  static const std::regex line_re(R"(^(\S+) (\S*) ([0-9a-f]{64})$)");
  int n = 0;
  for (std::string l; std::getline(in, l);) {
    ++n;
    if (!l.empty() && l.back() == '\r') l.pop_back();
    if (n == 1 && l.rfind("\xEF\xBB\xBF", 0) == 0) l.erase(0, 3);
    if (l.empty() || l[0] == '#') continue;
    // A merge that kept both sides' lines leaves conflict markers.
    std::smatch m;
    if (!std::regex_match(l, m, line_re))
      throw input_error(display_path(file) + ":" + std::to_string(n) +
                        ": not a lock line (\"<version> <name> <sha256>\"): \"" + l.substr(0, 80) +
                        "\"; write it again with `pgmt lock --update`" +
                        (l.rfind("<<<<<<<", 0) == 0 || l.rfind(">>>>>>>", 0) == 0 || l.rfind("=======", 0) == 0
                             ? " (a merge conflict: keep both sides' lines)"
                             : ""));
    if (auto was = seen.find(m[1].str()); was != seen.end())
      throw input_error(display_path(file) + ":" + std::to_string(n) + ": version \"" + m[1].str() +
                        "\" is locked twice (also at line " + std::to_string(was->second) + ")");
    seen.emplace(m[1].str(), n);
    out.push_back({m[1].str(), m[2].str(), m[3].str(), n});
  }
  return out;
}

std::string format_lock_file(const migration_set& set) {
  std::string out =
      "# pgmt lock: one line per released migration, <version> <name> <sha256 of its up script>.\n"
      "# Written by `pgmt lock --update`; the <suite>.lock test fails when a locked migration changes.\n";
  for (const auto& m : set.migrations)
    if (!m.repeatable)  // Flyway's R__ files change by design: they run again when they do
      out += m.version + " " + m.name + " " + m.checksum() + "\n";
  return out;
}

check_result check_lock(const migration_set& set, const lock_basis& basis, const std::set<std::string>& allowed) {
  std::vector<std::string> findings, waived;
  auto report = [&](const std::string& version, std::string text) {
    if (allowed.count("*") || allowed.count(version))
      waived.push_back(std::move(text));
    else
      findings.push_back(std::move(text));
  };
  auto where_locked = [&](const lock_entry& e) {
    return e.line > 0 ? basis.where + ":" + std::to_string(e.line) : basis.where;
  };
  std::map<std::string, const lock_entry*> locked;
  for (const auto& e : basis.entries) locked.emplace(e.version, &e);
  // The newest locked migration still there, by the set's order.
  std::optional<std::size_t> newest;
  for (std::size_t i = 0; i < set.migrations.size(); ++i)
    if (locked.count(set.migrations[i].version)) newest = i;

  for (const auto& e : basis.entries) {
    const migration* m = set.find(e.version);
    if (!m) {
      const migration* moved = nullptr;
      for (const auto& x : set.migrations)
        if (!locked.count(x.version) && x.checksum() == e.checksum) moved = &x;
      if (moved)
        report(e.version, display_path(moved->up.path) + ":1:1: migration \"" + moved->id() +
                              "\" is the locked migration \"" + (e.name.empty() ? e.version : e.version + "_" + e.name) +
                              "\" (" + where_locked(e) +
                              ") under another version: a released migration keeps its version, or the "
                              "databases that ran it run it again");
      else
        report(e.version, where_locked(e) + ": the locked migration \"" +
                              (e.name.empty() ? e.version : e.version + "_" + e.name) +
                              "\" is gone from " + display_path(set.dir) +
                              ": a released migration stays, the databases that ran it still have it");
      continue;
    }
    if (m->name != e.name)
      report(e.version, display_path(m->up.path) + ":1:1: migration \"" + m->id() + "\" was locked as \"" +
                            e.version + "_" + e.name + "\" (" + where_locked(e) +
                            "): renamed after it was released");
    const std::string now = m->checksum();
    if (now != e.checksum) {
      int first = 0;
      std::vector<std::string> lines;
      if (basis.old_text)
        if (auto old = basis.old_text(e, m)) lines = changed_lines(*old, m->up.text, &first);
      std::string text = display_path(m->up.path) + ":" + std::to_string(std::max(1, first)) +
                         ":1: migration \"" + m->id() + "\" changed after it was locked (" + where_locked(e) +
                         ": sha256 " + short_sum(e.checksum) + "..., now " + short_sum(now) + "...)";
      if (lines.empty()) {
        text += "\n  note: the lock holds no text to show the lines; compare with git (git diff, git log -p)";
      } else {
        for (const auto& l : lines) text += "\n" + l;
      }
      text +=
          "\n  hint: a released migration runs no more where it already ran: put the change in a new migration "
          "(pgmt new), or, in an emergency, PGMT_LOCK_ALLOW=" +
          e.version + " lets this run pass and says so";
      report(e.version, text);
    }
  }
  std::size_t fresh = 0;
  for (std::size_t i = 0; i < set.migrations.size(); ++i) {
    const migration& m = set.migrations[i];
    if (locked.count(m.version)) continue;
    bool moved_here = false;
    for (const auto& e : basis.entries)
      if (!set.find(e.version) && e.checksum == m.checksum()) moved_here = true;
    if (moved_here) continue;  // reported above
    ++fresh;
    if (newest && i < *newest)
      report(m.version, display_path(m.up.path) + ":1:1: migration \"" + m.id() +
                            "\" is new but sorts before \"" + set.migrations[*newest].id() +
                            "\", which is locked (released): databases that ran that one would run this out of "
                            "order, or never; give it a version after " +
                            set.migrations[*newest].version);
  }
  const std::string counts = std::to_string(basis.entries.size()) + " locked in " + basis.where +
                             (fresh ? ", " + std::to_string(fresh) + " new (`pgmt lock --update` locks them)" : "");
  if (!findings.empty()) return check_result::fail(findings, counts);
  check_result r = check_result::pass(
      waived.empty() ? counts + ": none changed, removed, renamed or out of order"
                     : counts + "; " + std::to_string(waived.size()) +
                           " finding(s) allowed by PGMT_LOCK_ALLOW, shown above");
  for (auto& w : waived) r.details.push_back("allowed by PGMT_LOCK_ALLOW: " + w);
  return r;
}

lock_basis lock_file_basis(const fs::path& file) {
  lock_basis b;
  b.entries = read_lock_file(file);
  b.where = display_path(file);
  // The committed file, where its checksum is the locked one, shows the lines.
  b.old_text = [](const lock_entry& e, const migration* now) -> std::optional<std::string> {
    if (!now) return std::nullopt;
    const fs::path p = now->up.path;
    auto text = git(fs::absolute(p).parent_path(), {"show", "HEAD:./" + p.filename().string()});
    if (text && migration_checksum(*text) == e.checksum) return text;
    return std::nullopt;
  };
  return b;
}

lock_basis git_basis(const migration_set& set, const std::string& base) {
  const fs::path dir = fs::absolute(set.dir);
  if (!git(dir, {"rev-parse", "--verify", "--quiet", base + "^{commit}"}))
    throw input_error("\"" + base + "\" is not a commit git knows in \"" + display_path(set.dir) +
                      "\"; fetch it first (git fetch origin " + base + "), or name another --base");
  auto names = git(dir, {"ls-tree", "-r", "--name-only", base, "--", "."});
  if (!names) throw input_error("git could not list \"" + display_path(set.dir) + "\" at \"" + base + "\"");
  auto tmp = std::make_shared<scratch_folder>();
  std::istringstream in(*names);
  bool any = false;
  for (std::string name; std::getline(in, name);) {
    if (name.empty()) continue;
    auto text = git(dir, {"show", base + ":./" + name});
    if (!text) continue;
    write_file(tmp->path() / name, *text);
    any = true;
  }
  lock_basis b;
  b.where = "the files at " + base;
  if (!any) return b;  // the folder is new since base
  auto old = std::make_shared<migration_set>(discover(tmp->path(), set.kind));
  for (const auto& m : old->migrations) b.entries.push_back({m.version, m.name, m.checksum(), 0});
  b.old_text = [old, tmp](const lock_entry& e, const migration*) -> std::optional<std::string> {
    if (const migration* m = old->find(e.version)) return m->up.text;
    return std::nullopt;
  };
  return b;
}

std::set<std::string> lock_allowed_from_environment() {
  std::set<std::string> out;
  const char* env = std::getenv("PGMT_LOCK_ALLOW");
  if (!env) return out;
  std::string s(env);
  for (auto& ch : s)
    if (ch == ',') ch = ' ';
  std::istringstream in(s);
  for (std::string v; in >> v;) out.insert(v == "all" ? "*" : v);
  return out;
}

}  // namespace pgmt
