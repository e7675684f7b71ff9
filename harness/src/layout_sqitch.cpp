// sqitch's layout: sqitch.plan gives the order (changes, dependencies, tags,
// reworked changes); deploy/<change>.sql is the up, revert/ the down, verify/
// the verify script. sqitch.conf may move the plan and the folders.
#include "layouts.hpp"

#include "pgmt/text.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace pgmt::detail {

namespace {

struct sqitch_dirs {
  fs::path plan, deploy, revert, verify;
  std::string extension = "sql";
};

// sqitch.conf (git-config syntax): [core] top_dir, plan_file, deploy_dir,
// revert_dir, verify_dir, extension; [engine "pg"] the same, which wins.
sqitch_dirs read_sqitch_conf(const fs::path& dir) {
  std::map<std::string, std::string> core, pg;
  std::ifstream in(dir / "sqitch.conf");
  std::string section;
  for (std::string line; std::getline(in, line);) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[') {
      section = line;
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    if (section == "[core]") core[key] = value;
    if (section == "[engine \"pg\"]") pg[key] = value;
  }
  auto get = [&](const std::string& key) -> std::string {
    if (pg.count(key)) return pg[key];
    return core.count(key) ? core[key] : "";
  };
  sqitch_dirs d;
  const fs::path top = get("top_dir").empty() ? dir : dir / get("top_dir");
  d.plan = get("plan_file").empty() ? top / "sqitch.plan" : dir / get("plan_file");
  d.deploy = get("deploy_dir").empty() ? top / "deploy" : dir / get("deploy_dir");
  d.revert = get("revert_dir").empty() ? top / "revert" : dir / get("revert_dir");
  d.verify = get("verify_dir").empty() ? top / "verify" : dir / get("verify_dir");
  if (!get("extension").empty()) d.extension = get("extension");
  return d;
}

struct change {
  std::string name;
  std::vector<std::string> needs, conflicts;
  int line = 0;
  std::vector<std::string> tags_after;  // the tags after it, up to its rework: one names its scripts
  bool reworked_later = false;
};

}  // namespace

std::vector<migration> discover_sqitch(const fs::path& dir) {
  const sqitch_dirs d = read_sqitch_conf(dir);
  std::ifstream in(d.plan);
  if (!in)
    throw input_error("could not read the sqitch plan \"" + display_path(d.plan) + "\": " + std::strerror(errno) +
                      "; a sqitch project has sqitch.plan beside deploy/ and revert/");
  const std::string where = display_path(d.plan);
  std::vector<change> changes;
  std::set<std::string> tags;
  int number = 0;
  for (std::string raw; std::getline(in, raw);) {
    ++number;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    std::string line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == '%') continue;
    const std::string at = where + ":" + std::to_string(number);
    if (line[0] == '@') {
      const std::string tag = line.substr(1, line.find_first_of(" \t") - 1);
      if (!tags.insert(tag).second) throw input_error(at + ": tag \"@" + tag + "\" is in the plan twice");
      for (auto& x : changes)
        if (!x.reworked_later) x.tags_after.push_back(tag);
      continue;
    }
    change c;
    c.line = number;
    std::size_t p = 0;
    if (line[0] == '+' || line[0] == '-') {
      if (line[0] == '-')
        throw input_error(at + ": \"-" + line.substr(1, line.find_first_of(" \t") - 1) +
                          "\" reverts a change in the plan; pgmt reads plans that only deploy (sqitch's own "
                          "plans since 0.9 do)");
      p = 1;
    }
    const auto end = line.find_first_of(" \t[", p);
    c.name = line.substr(p, end - p);
    if (c.name.empty()) throw input_error(at + ": a plan line without a change name");
    if (auto open = line.find('[', end == std::string::npos ? line.size() : end); open != std::string::npos) {
      const auto close = line.find(']', open);
      if (close == std::string::npos) throw input_error(at + ": \"[\" without \"]\" in the dependencies of " + c.name);
      std::stringstream deps(line.substr(open + 1, close - open - 1));
      for (std::string dep; deps >> dep;) (dep[0] == '!' ? c.conflicts : c.needs).push_back(dep[0] == '!' ? dep.substr(1) : dep);
    }
    // Dependencies name changes (or change@tag) earlier in the plan; another
    // project's ("other:change") is that project's business.
    for (const auto& req : c.needs) {
      if (req.find(':') != std::string::npos) continue;
      const auto at_tag = req.find('@');
      const std::string name = req.substr(0, at_tag);
      const bool earlier = std::any_of(changes.begin(), changes.end(), [&](const change& x) { return x.name == name; });
      if (!earlier)
        throw input_error(at + ": change \"" + c.name + "\" requires \"" + req +
                          "\", which is not earlier in the plan; move it after \"" + name + "\" or add \"" + name +
                          "\" before it");
      if (at_tag != std::string::npos && !tags.count(req.substr(at_tag + 1)))
        throw input_error(at + ": change \"" + c.name + "\" requires \"" + req + "\", but the tag \"@" +
                          req.substr(at_tag + 1) + "\" is not earlier in the plan");
    }
    for (const auto& con : c.conflicts) {
      if (con.find(':') != std::string::npos) continue;
      const bool deployed = std::any_of(changes.begin(), changes.end(), [&](const change& x) { return x.name == con; });
      if (deployed)
        throw input_error(at + ": change \"" + c.name + "\" conflicts with \"" + con +
                          "\", which the plan deploys before it; revert it first or drop the conflict");
    }
    // A change named again is reworked: the earlier one's scripts are name@tag.
    for (auto& x : changes)
      if (x.name == c.name) {
        if (x.tags_after.empty())
          throw input_error(at + ": change \"" + c.name + "\" is reworked without a tag since line " +
                            std::to_string(x.line) + "; sqitch needs a tag between the two (sqitch tag)");
        x.reworked_later = true;
      }
    changes.push_back(std::move(c));
  }
  if (changes.empty()) throw input_error(where + ": the plan has no changes; add one with sqitch add");

  std::vector<migration> out;
  for (const auto& c : changes) {
    // A reworked change's earlier scripts end in @<tag>: a tag between it and
    // its rework (sqitch rework names them after the latest; sqitch takes the
    // first of them whose file exists).
    std::error_code ec;
    std::string suffix;
    if (c.reworked_later) {
      suffix = "@" + c.tags_after.front();
      for (const auto& tag : c.tags_after)
        if (fs::is_regular_file(d.deploy / (c.name + "@" + tag + "." + d.extension), ec)) {
          suffix = "@" + tag;
          break;
        }
    }
    const std::string file = c.name + suffix + "." + d.extension;
    migration m;
    m.version = c.name + suffix;
    const fs::path up = d.deploy / file;
    if (!fs::is_regular_file(up, ec))
      throw input_error(where + ":" + std::to_string(c.line) + ": change \"" + c.name + "\" has no deploy script \"" +
                        display_path(up) + "\"; add it (sqitch add) or remove the change from the plan");
    // sqitch runs each script with psql, where a statement outside the
    // script's own BEGIN and COMMIT commits on its own: so does pgmt.
    auto script = [](const fs::path& path) {
      sql_source s;
      s.path = path;
      s.text = read_sql_file(path);
      s.no_transaction = true;
      s.no_transaction_why = "sqitch runs the script with psql, each statement outside its BEGIN and COMMIT on its own";
      return s;
    };
    m.up = script(up);
    if (fs::is_regular_file(d.revert / file, ec)) m.down = script(d.revert / file);
    if (fs::is_regular_file(d.verify / file, ec)) m.verify = script(d.verify / file);
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace pgmt::detail
