#include "pgmt/server.hpp"

#include "pgmt/pg.hpp"
#include "pgmt/process.hpp"
#include "pgmt/text.hpp"

#include "libpq.hpp"
#include "server_kinds.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

namespace fs = std::filesystem;

namespace pgmt {

using detail::random_hex;
using detail::register_server;
using detail::should_keep;

namespace {

using namespace std::chrono_literals;

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return (v && *v) ? std::string(v) : fallback;
}

bool running_as_root() { return geteuid() == 0; }

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string log_tail(const fs::path& log, int lines) {
  std::string text = read_all(log);
  std::vector<std::string> all;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) all.push_back(l);
  std::string out;
  int start = std::max(0, static_cast<int>(all.size()) - lines);
  for (int i = start; i < static_cast<int>(all.size()); ++i) out += "  | " + all[i] + "\n";
  return out.empty() ? "  (the log is empty)\n" : out;
}

// The unprivileged account a root run starts the server as.
detail::os_user server_user() {
  std::string name = env_or("PGMT_SERVER_USER", "postgres");
  auto u = detail::lookup_user(name);
  if (!u || u->uid == 0)
    throw harness_error("PostgreSQL refuses to run as root and there is no unprivileged user \"" + name +
                        "\" to run it as; create one (apt-get install postgresql creates \"postgres\") "
                        "or set PGMT_SERVER_USER to an existing unprivileged user");
  return *u;
}

void make_dir(const fs::path& p, fs::perms mode) {
  std::error_code ec;
  fs::create_directories(p, ec);
  if (ec) throw harness_error("could not create folder \"" + p.string() + "\": " + ec.message());
  fs::permissions(p, mode, ec);
  if (ec) throw harness_error("could not set permissions of \"" + p.string() + "\": " + ec.message());
}

fs::path cache_root() {
  std::string c = env_or("PGMT_CACHE_DIR", "");
  return c.empty() ? runtime_root() / "cache" : fs::path(c);
}

// A lock file held for the lifetime of this object (flock).
class file_lock {
 public:
  explicit file_lock(const fs::path& p) : fd_(open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (fd_ < 0)
      throw harness_error("could not open lock file \"" + p.string() + "\": " + std::strerror(errno));
    while (flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR)
        throw harness_error("could not lock \"" + p.string() + "\": " + std::strerror(errno));
    }
  }
  ~file_lock() {
    if (fd_ >= 0) close(fd_);
  }
  file_lock(const file_lock&) = delete;
  file_lock& operator=(const file_lock&) = delete;

 private:
  int fd_;
};

std::string postgres_version(const fs::path& bindir) {
  auto r = detail::run({(bindir / "postgres").string(), "--version"});
  static const std::regex ver(R"(\(PostgreSQL\) ([0-9]+(?:\.[0-9]+)?))");
  std::smatch m;
  if (r.exit_code != 0 || !std::regex_search(r.output, m, ver))
    throw harness_error("could not read the version of \"" + (bindir / "postgres").string() +
                        "\": " + r.output);
  return m[1];
}

// initdb once per PostgreSQL version (and bindir); later servers copy it.
fs::path cached_initdb(const fs::path& bindir, const std::string& version,
                       const std::optional<detail::os_user>& as) {
  fs::path root = cache_root();
  make_dir(root, running_as_root() ? fs::perms(0711) : fs::perms(0700));
  fs::path dir = root / ("initdb-" + version + "-" + sha256_hex(bindir.string()).substr(0, 8) + "-" + own_role);
  if (fs::exists(dir / "data" / "PG_VERSION")) return dir / "data";
  file_lock lock(root / ".initdb.lock");
  if (fs::exists(dir / "data" / "PG_VERSION")) return dir / "data";
  std::string tmpl = (root / "initdb-tmp-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw harness_error("could not create a folder in \"" + root.string() + "\"");
  fs::path tmp(tmpl);
  if (as) detail::chown_to(tmp, *as, false);
  fs::path log = tmp / "initdb.log";
  auto r = detail::run({(bindir / "initdb").string(), "-D", (tmp / "data").string(), "-A", "trust", "-N",
                        "-U", own_role, "-E", "UTF8", "--locale=C"},
                       as);
  if (r.exit_code == 0) {
    // "postgres" as on a fresh install, a superuser; pgmt itself never
    // depends on it. Single-user mode: no server to start for one statement.
    r = detail::run({"/bin/sh", "-c", "echo 'create role postgres superuser login' | \"$0\" --single -D \"$1\" postgres",
                     (bindir / "postgres").string(), (tmp / "data").string()},
                    as);
    if (r.exit_code == 0 && r.output.find("ERROR") != std::string::npos) r.exit_code = 1;
  }
  if (r.exit_code != 0) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw harness_error("initdb failed (exit " + std::to_string(r.exit_code) + "):\n" + r.output);
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::rename(tmp, dir, ec);
  if (ec) throw harness_error("could not move the initdb cache into place: " + ec.message());
  return dir / "data";
}

int free_loopback_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw harness_error("socket: " + std::string(std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    throw harness_error("could not find a free port on 127.0.0.1: " + std::string(std::strerror(errno)));
  }
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

struct owner_record {
  pid_t owner = 0;
  unsigned long long owner_start = 0;
};

void write_meta(const fs::path& folder, const owner_record& o, const server_info& info) {
  nlohmann::json j = info.to_json();
  j.erase("password");  // readable by others: what finds and removes the server needs no password
  j["owner_pid"] = o.owner;
  j["owner_start"] = o.owner_start;
  std::ofstream(folder / "meta.json.tmp") << j.dump(2) << "\n";
  fs::rename(folder / "meta.json.tmp", folder / "meta.json");
}

// 32 hex digits from the kernel's random source.
std::string random_password() {
  unsigned char bytes[16];
  std::ifstream in("/dev/urandom", std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(bytes), sizeof bytes))
    throw harness_error("could not read /dev/urandom for the server's password");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

bool same_process(pid_t pid, unsigned long long start) {
  if (!detail::process_alive(pid)) return false;
  if (start == 0) return true;
  auto now = detail::process_start_time(pid);
  return now && *now == start;
}

// Stops the postmaster (immediate shutdown) and waits until it is gone.
// The living children of pid (a postmaster's: its backends and helpers,
// each in a session of its own).
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat)) continue;
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string state;
    long ppid = 0;
    if (rest >> state >> ppid && ppid == parent && state != "Z") out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

void kill_postmaster(const server_info& info, bool own_child) {
  if (info.pid <= 0 || !same_process(info.pid, info.pid_start)) return;
  // Done only once every process of the server is gone, backends included:
  // its children, known before it goes (they are reparented after).
  struct wait_for_children {
    std::vector<std::pair<pid_t, unsigned long long>> procs;
    ~wait_for_children() {
      const auto deadline = std::chrono::steady_clock::now() + 5s;
      for (const auto& [p, start] : procs) {
        while (same_process(p, start)) {
          if (std::chrono::steady_clock::now() > deadline) {
            kill(p, SIGKILL);
            std::this_thread::sleep_for(20ms);
            break;
          }
          std::this_thread::sleep_for(5ms);
        }
      }
    }
  } after;
  for (pid_t child : children_of(info.pid))
    if (auto start = detail::process_start_time(child)) after.procs.emplace_back(child, *start);
  kill(info.pid, SIGQUIT);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!detail::process_alive(info.pid)) return;
    std::this_thread::sleep_for(10ms);
  }
  kill(info.pid, SIGKILL);
  if (own_child) detail::wait_child(info.pid);
  while (detail::process_alive(info.pid)) std::this_thread::sleep_for(10ms);
}

// The System V segment a server whose postmaster is gone leaves behind (its
// key and id are on line 7 of postmaster.pid), once no process is attached:
// a killed postmaster does not remove it. (Dynamic shared memory lives in the
// data folder: the server runs with dynamic_shared_memory_type=mmap.)
void remove_shared_memory(const fs::path& data) {
  std::ifstream in(data / "postmaster.pid");
  std::string line;
  for (int i = 0; i < 7 && std::getline(in, line); ++i) {
  }
  std::istringstream words(line);
  long key = 0;
  int id = -1;
  if (!(words >> key >> id) || id < 0) return;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    shmid_ds ds{};
    if (shmctl(id, IPC_STAT, &ds) != 0) return;  // already gone
    if (static_cast<long>(ds.shm_perm.__key) != key) return;  // another's, with a reused id
    if (ds.shm_nattch == 0 || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(20ms);
  }
  shmctl(id, IPC_RMID, nullptr);
}

// What a migration's CREATE TABLESPACE made outside the server's folder: the
// server's own PG_<major>_<catalog> folder in each tablespace location (the
// links of pg_tblspc). It is the server's: CREATE TABLESPACE refuses a
// location that already has one. The location itself was there before.
void remove_tablespace_folders(const fs::path& data) {
  std::string major;
  std::ifstream(data / "PG_VERSION") >> major;
  if (major.empty()) return;
  std::error_code ec;
  for (const auto& link : fs::directory_iterator(data / "pg_tblspc", ec)) {
    std::error_code lec;
    if (!fs::is_symlink(link.symlink_status(lec))) continue;
    const fs::path location = fs::read_symlink(link.path(), lec);
    if (lec || !location.is_absolute()) continue;
    for (const auto& e : fs::directory_iterator(location, lec)) {
      const std::string name = e.path().filename().string();
      std::error_code rec;
      if (name.rfind("PG_" + major + "_", 0) == 0 && e.is_directory(rec) && !e.is_symlink(rec))
        fs::remove_all(e.path(), rec);
    }
  }
}

std::vector<std::string> split_words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

detail::run_result run_engine(const std::string& engine, const std::vector<std::string>& args) {
  std::vector<std::string> argv = split_words(engine);
  argv.insert(argv.end(), args.begin(), args.end());
  return detail::run(argv);
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

fs::path stop_impl(const server_info& info, bool own_child, const std::string& keep, bool failed) {
  if (info.kind == "container") {
    if (should_keep(keep, failed)) {
      std::ofstream(info.folder / "kept")
          << "container " << info.container << " kept by PGMT_KEEP=" << keep << "\n";
      return info.folder;
    }
    try {
      run_engine(info.engine, {"rm", "-f", info.container});
    } catch (...) {
      // The next run removes it by its label.
    }
    std::error_code ec;
    if (!info.folder.empty()) fs::remove_all(info.folder, ec);
    return {};
  }
  if (info.kind == "external") {
    detail::stop_external(info, should_keep(keep, failed));
    return {};
  }
  kill_postmaster(info, own_child);
  if (info.folder.empty() || !fs::exists(info.folder)) return {};
  remove_shared_memory(info.folder / "data");
  if (should_keep(keep, failed)) {
    std::ofstream(info.folder / "kept") << "kept by PGMT_KEEP=" << keep << "\n";
    return info.folder;
  }
  remove_tablespace_folders(info.folder / "data");
  std::error_code ec;
  fs::remove_all(info.folder, ec);
  return {};
}

// Servers this process owns, stopped by the signal thread.
struct live_server {
  server_info info;
  bool own_child;
  std::string keep;
};
std::mutex registry_mutex;
std::vector<live_server>& registry() {
  static std::vector<live_server> r;
  return r;
}
void unregister_server(const fs::path& folder) {
  std::lock_guard g(registry_mutex);
  auto& r = registry();
  r.erase(std::remove_if(r.begin(), r.end(), [&](const live_server& s) { return s.info.folder == folder; }),
          r.end());
}

std::unique_ptr<server> start_temp_cluster(const server_options& opts) {
  remove_abandoned_servers();
  fs::path bindir = find_pg_bindir(opts.bindir);
  std::string version = postgres_version(bindir);
  std::optional<detail::os_user> as;
  if (running_as_root()) as = server_user();

  fs::path root = runtime_root();
  std::string tmpl = (root / "srv-XXXXXX").string();
  if (!mkdtemp(tmpl.data()))
    throw harness_error("could not create a server folder in \"" + root.string() + "\"");
  fs::path folder(tmpl);

  owner_record owner;
  owner.owner = opts.owner ? opts.owner : getpid();
  owner.owner_start = detail::process_start_time(owner.owner).value_or(0);
  server_info info;
  info.kind = "temp cluster";
  info.user = own_role;
  info.version = version;
  info.folder = folder;
  info.log = folder / "server.log";
  write_meta(folder, owner, info);  // claims the folder before anything slow happens

  try {
    fs::path cached = cached_initdb(bindir, version, as);
    auto cp = detail::run({"cp", "-a", cached.string(), (folder / "data").string()});
    if (cp.exit_code != 0) throw harness_error("could not copy the initdb cache: " + cp.output);
    make_dir(folder / "sock", fs::perms(0700));
    if (as) {
      detail::chown_to(folder, *as, false);
      detail::chown_to(folder / "sock", *as, false);
    }
    std::string sock = (folder / "sock").string();
    if (sock.size() + 20 > 107)
      throw harness_error("socket folder path \"" + sock +
                          "\" is too long for a unix socket; set PGMT_RUNTIME_DIR to a shorter folder");

    info.port = opts.tcp ? free_loopback_port() : 5432;
    info.host = opts.tcp ? "127.0.0.1" : sock;
    std::vector<std::string> argv = {(bindir / "postgres").string(),
                                     "-D",
                                     (folder / "data").string(),
                                     "-p",
                                     std::to_string(info.port),
                                     "-k",
                                     sock,
                                     "-c",
                                     std::string("listen_addresses=") + (opts.tcp ? "127.0.0.1" : ""),
                                     "-c",
                                     "unix_socket_permissions=0700",
                                     "-c",
                                     "fsync=off",
                                     "-c",
                                     "full_page_writes=off",
                                     "-c",
                                     "synchronous_commit=off",
                                     "-c",
                                     "max_connections=200",
                                     "-c",
                                     "max_locks_per_transaction=256",
                                     "-c",
                                     "log_min_messages=warning",
                                     "-c",
                                     "log_line_prefix=%m [%p] %q%d ",
                                     "-c",
                                     "shared_buffers=64MB",
                                     "-c",
                                     "dynamic_shared_memory_type=mmap"};
    // SERVER_SETTINGS last: they win over pgmt's own.
    for (const auto& setting : opts.settings) argv.insert(argv.end(), {"-c", setting});
    std::string password;
    if (opts.tcp) {
      // Over TCP, a password of this run's (scram-sha-256): any local user
      // reaches 127.0.0.1. The socket, in a folder only the server's user
      // can enter, stays trusted.
      password = random_password();
      const fs::path hba = folder / "pg_hba.conf";
      std::ofstream(hba) << "# pgmt: the socket folder is private; TCP needs the run's password\n"
                            "local all all trust\n"
                            "host all all 127.0.0.1/32 scram-sha-256\n";
      fs::permissions(hba, fs::perms::owner_read | fs::perms::owner_write);
      if (as) detail::chown_to(hba, *as, false);
      argv.insert(argv.end(), {"-c", "hba_file=" + hba.string(), "-c", "password_encryption=scram-sha-256"});
    }
    detail::spawn_options so;
    so.as = as;
    so.output = info.log;
    so.new_session = true;
    info.pid = detail::spawn(argv, so);
    info.pid_start = detail::process_start_time(info.pid).value_or(0);
    register_server(info, true, opts.keep);
    write_meta(folder, owner, info);

    auto deadline = std::chrono::steady_clock::now() + opts.start_timeout;
    // Through the socket: the password is set once the server is up (until
    // then no password lets anyone in over TCP).
    server_info local = info;
    local.host = sock;
    const std::string ci = local.conninfo("postgres");
    while (!ping(ci)) {
      if (!detail::process_alive(info.pid)) {
        unregister_server(folder);
        std::string tail = log_tail(info.log, 20);
        stop_impl(info, true, "0", true);
        throw harness_error("PostgreSQL " + version + " exited during start-up; its log says:\n" + tail);
      }
      if (std::chrono::steady_clock::now() > deadline) {
        std::string tail = log_tail(info.log, 20);
        unregister_server(folder);
        stop_impl(info, true, "0", true);
        throw harness_error("PostgreSQL " + version + " was not ready after " +
                            std::to_string(opts.start_timeout.count()) +
                            " s (PGMT_START_TIMEOUT); its log says:\n" + tail);
      }
      std::this_thread::sleep_for(20ms);
    }
    connection c(ci);
    if (!password.empty()) {
      // Kept out of the server's log whatever PGOPTIONS asks to log.
      c.exec("set log_statement = 'none'; set log_min_duration_statement = -1; set log_min_error_statement = panic");
      c.exec("alter role " + c.quote_ident(info.user) + " password " + c.quote_literal(password));
      info.password = password;
    }
    info.version_num = c.server_version();
    auto r = c.exec("show server_version");
    std::string full = r.value(0, 0);
    info.version = full.substr(0, full.find(' '));
    unregister_server(folder);
    register_server(info, true, opts.keep);
    write_meta(folder, owner, info);
    return std::make_unique<server>(info, opts, true);
  } catch (...) {
    unregister_server(folder);
    stop_impl(info, true, "0", true);
    throw;
  }
}

}  // namespace

void detail::register_server(const server_info& info, bool own_child, const std::string& keep) {
  std::lock_guard g(registry_mutex);
  registry().push_back({info, own_child, keep});
}

bool detail::should_keep(const std::string& keep, bool failed) {
  return keep == "1" || keep == "true" || keep == "yes" || (keep == "on-failure" && failed);
}

std::string detail::random_hex(std::size_t n) {
  std::ifstream in("/dev/urandom", std::ios::binary);
  std::string out;
  static const char* hex = "0123456789abcdef";
  for (std::size_t i = 0; i < n; ++i) {
    unsigned char b = 0;
    in.read(reinterpret_cast<char*>(&b), 1);
    out += hex[b & 15];
  }
  return out;
}

// ---- server_info ----

std::string server_info::conninfo(const std::string& dbname, const std::string& options) const {
  // Startup options outrank ALTER SYSTEM, ALTER ROLE and ALTER DATABASE ... SET.
  std::string pinned =
      "-c default_transaction_read_only=off -c statement_timeout=0 -c lock_timeout=0 "
      "-c idle_in_transaction_session_timeout=0";
  if (!options.empty()) pinned += " " + options;
  if (kind == "external") {
    std::map<std::string, std::string> p = params;
    p["options"] = p.count("options") ? pinned + " " + p["options"] : pinned;
    // The password stays out of state files: read it again from the URL.
    if (const char* url = std::getenv("PGMT_DATABASE_URL"); url && *url)
      for (const auto& [k, v] : parse_connection_url(url))
        if (k == "password") p[k] = v;
    p["dbname"] = dbname;
    if (!p.count("application_name")) p["application_name"] = "pgmt";
    if (!p.count("connect_timeout")) p["connect_timeout"] = "10";
    return make_conninfo({p.begin(), p.end()});
  }
  std::vector<std::pair<std::string, std::string>> p = {{"host", host},
                                                        {"port", std::to_string(port)},
                                                        {"user", user},
                                                        {"dbname", dbname},
                                                        {"application_name", "pgmt"},
                                                        {"connect_timeout", "10"},
                                                        {"options", pinned}};
  if (!password.empty()) p.emplace_back("password", password);
  return make_conninfo(p);
}

std::string server_info::describe() const { return "PostgreSQL " + version + " (" + kind + ")"; }

nlohmann::json server_info::to_json() const {
  return {{"kind", kind},
          {"version", version},
          {"version_num", version_num},
          {"host", host},
          {"port", port},
          {"user", user},
          {"folder", folder.string()},
          {"log", log.string()},
          {"pid", pid},
          {"pid_start", pid_start},
          {"db_prefix", db_prefix},
          {"params", params},
          {"maintenance_db", maintenance_db},
          {"container", container},
          {"engine", engine},
          {"password", password}};
}

server_info server_info::from_json(const nlohmann::json& j) {
  server_info i;
  try {
    i.kind = j.at("kind").get<std::string>();
    i.version = j.at("version").get<std::string>();
    i.version_num = j.at("version_num").get<int>();
    i.host = j.at("host").get<std::string>();
    i.port = j.at("port").get<int>();
    i.user = j.at("user").get<std::string>();
    i.folder = j.at("folder").get<std::string>();
    i.log = j.at("log").get<std::string>();
    i.pid = j.at("pid").get<pid_t>();
    i.pid_start = j.at("pid_start").get<unsigned long long>();
    i.db_prefix = j.value("db_prefix", std::string("pgmt_"));
    i.params = j.value("params", std::map<std::string, std::string>{});
    i.maintenance_db = j.value("maintenance_db", std::string("postgres"));
    i.container = j.value("container", std::string());
    i.engine = j.value("engine", std::string());
    i.password = j.value("password", std::string());
  } catch (const nlohmann::json::exception& e) {
    throw harness_error(std::string("server state is incomplete: ") + e.what());
  }
  return i;
}

server_options server_options::from_environment() {
  server_options o;
  o.kind = env_or("PGMT_SERVER", "auto");
  o.bindir = env_or("PGMT_PG_BINDIR", "");
  o.tcp = env_or("PGMT_TCP", "0") == "1";
  o.keep = env_or("PGMT_KEEP", "0");
  std::string t = env_or("PGMT_START_TIMEOUT", "60");
  try {
    o.start_timeout = std::chrono::seconds(std::stoi(t));
  } catch (...) {
    throw harness_error("PGMT_START_TIMEOUT must be a number of seconds, not \"" + t + "\"");
  }
  return o;
}

// ---- server ----

server::server(server_info info, server_options opts, bool own_child)
    : info_(std::move(info)), opts_(std::move(opts)), own_child_(own_child) {}

server::~server() {
  if (!detached_ && !stopped_) {
    try {
      stop(false);
    } catch (...) {
      // Destructors never throw; a server we failed to stop is found by the next run.
    }
  }
}

fs::path server::stop(bool run_failed) {
  if (stopped_) return {};
  stopped_ = true;
  unregister_server(info_.folder);
  return stop_impl(info_, own_child_, opts_.keep, run_failed);
}

std::optional<std::string> server::stopped_unasked() {
  std::string what;
  std::string tail;
  if (info_.kind == "container") {
    auto st = run_engine(info_.engine, {"inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", info_.container});
    std::istringstream words(st.output);
    std::string running, code;
    words >> running >> code;
    if (st.exit_code == 0 && running != "false") return std::nullopt;
    what = "the server's container " + info_.container.substr(0, 12) +
           (st.exit_code != 0 ? " is gone" : " stopped (exit code " + code + ")");
    auto logs = run_engine(info_.engine, {"logs", "--tail", "20", info_.container});
    std::istringstream in(logs.output);
    for (std::string l; std::getline(in, l);) tail += "  | " + l + "\n";
  } else if (info_.kind == "external" || info_.pid <= 0) {
    return std::nullopt;
  } else {
    if (!exit_status_ && own_child_) {
      int status = 0;
      if (waitpid(info_.pid, &status, WNOHANG) == info_.pid) exit_status_ = status;
    }
    if (!exit_status_ && same_process(info_.pid, info_.pid_start)) return std::nullopt;
    if (exit_status_ && WIFSIGNALED(*exit_status_))
      what = "the server stopped (signal " + std::to_string(WTERMSIG(*exit_status_)) + ")";
    else if (exit_status_ && WIFEXITED(*exit_status_))
      what = "the server stopped (exit code " + std::to_string(WEXITSTATUS(*exit_status_)) + ")";
    else
      what = "the server stopped";
    tail = log_tail(info_.log, 20);
  }
  if (tail.empty()) tail = "  (the log is empty)\n";
  tail.pop_back();
  return what + "; the end of its log:\n" + tail;
}

void server::detach() noexcept {
  detached_ = true;
  unregister_server(info_.folder);
}

std::map<std::string, std::string> parse_connection_url(const std::string& url) {
  char* err = nullptr;
  PQconninfoOption* opts = libpq().PQconninfoParse(url.c_str(), &err);
  if (!opts) {
    std::string msg = err ? err : "not a connection string";
    if (err) libpq().PQfreemem(err);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    throw harness_error("PGMT_DATABASE_URL \"" + mask_password(url) +
                        "\" is not a connection URL: " + mask_password_in(msg, url) +
                        "; write postgresql://user:password@host:5432/postgres");
  }
  std::map<std::string, std::string> out;
  for (PQconninfoOption* o = opts; o->keyword; ++o)
    if (o->val && *o->val) out[o->keyword] = o->val;
  libpq().PQconninfoFree(opts);
  return out;
}

namespace {

std::string container_engine() {
  std::string cli = env_or("PGMT_CONTAINER_CLI", "");
  if (!cli.empty()) return cli;
  for (const char* name : {"podman", "docker"}) {
    const char* path = std::getenv("PATH");
    std::istringstream ps(path ? path : "/usr/bin:/bin");
    for (std::string d; std::getline(ps, d, ':');)
      if (!d.empty() && access((fs::path(d) / name).c_str(), X_OK) == 0) return name;
  }
  return "";
}

bool engine_answers(const std::string& engine, std::string* why) {
  if (engine.empty()) {
    if (why)
      *why = "no container engine: neither podman nor docker is on the PATH (or set PGMT_CONTAINER_CLI)";
    return false;
  }
  try {
    auto r = run_engine(engine, {"version"});
    if (r.exit_code == 0) return true;
    if (why) *why = "the container engine \"" + engine + "\" does not answer: " + trimmed(r.output);
  } catch (const std::exception& e) {
    if (why) *why = "the container engine \"" + engine + "\" cannot be run: " + e.what();
  }
  return false;
}

// The last line of an engine's output that matches re: what it prints comes
// after any warnings (both streams are read together).
std::string last_line_matching(const std::string& output, const std::regex& re) {
  std::string found;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    line = trimmed(line);
    if (std::regex_match(line, re)) found = line;
  }
  return found;
}

// A file the engine reads with --env-file, 0600 in the run's private folder:
// what goes in it never is an argument, which every user sees in ps. Removed
// when the object goes (the engine has read it once `run` returns).
class env_file {
 public:
  env_file(fs::path path, const std::vector<std::string>& lines) : path_(std::move(path)) {
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) throw harness_error("could not create \"" + path_.string() + "\": " + std::strerror(errno));
    std::string text;
    for (const auto& l : lines) text += l + "\n";
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    if (!ok) {
      remove();
      throw harness_error("could not write \"" + path_.string() + "\"");
    }
  }
  ~env_file() { remove(); }
  env_file(const env_file&) = delete;
  env_file& operator=(const env_file&) = delete;
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  void remove() noexcept {
    std::error_code ec;
    fs::remove(path_, ec);
  }
  fs::path path_;
};

// Containers of runs that were killed: their owner process is gone.
int remove_abandoned_containers(const std::string& engine) {
  auto r = run_engine(engine, {"ps", "-a", "--filter", "label=pgmt.owner", "--format",
                               "{{.ID}} {{index .Labels \"pgmt.owner\"}}"});
  if (r.exit_code != 0) return 0;
  int removed = 0;
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string id, owner;
    if (!(words >> id >> owner)) continue;
    auto colon = owner.find(':');
    if (colon == std::string::npos) continue;
    pid_t pid = static_cast<pid_t>(std::atol(owner.substr(0, colon).c_str()));
    unsigned long long start = std::strtoull(owner.substr(colon + 1).c_str(), nullptr, 10);
    if (same_process(pid, start)) continue;
    run_engine(engine, {"rm", "-f", id});
    ++removed;
  }
  return removed;
}

std::unique_ptr<server> start_container(const server_options& opts) {
  const std::string engine = container_engine();
  std::string why;
  if (!engine_answers(engine, &why))
    throw harness_error(why + "; install podman or docker, start its daemon, or set PGMT_CONTAINER_CLI");
  remove_abandoned_servers();
  remove_abandoned_containers(engine);
  std::string major = "17";
  try {
    fs::path bindir = find_pg_bindir(opts.bindir);
    major = bindir.parent_path().filename().string();
  } catch (const harness_error&) {
  }
  const std::string image = env_or("PGMT_IMAGE", "postgres:" + major);
  std::string network =
      env_or("PGMT_CONTAINER_NETWORK", engine.find("podman") != std::string::npos ? "socket" : "port");
  if (network != "socket" && network != "port")
    throw harness_error("PGMT_CONTAINER_NETWORK must be socket or port, not \"" + network + "\"");

  fs::path root = runtime_root();
  std::string tmpl = (root / "ctr-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw harness_error("could not create a folder in \"" + root.string() + "\"");
  fs::path folder(tmpl);
  fs::path sock = folder / "sock";
  std::error_code ec;
  fs::create_directory(sock, ec);
  // The server in the container runs as its own user; the folder above stays private.
  fs::permissions(sock, fs::perms::all, ec);
  const pid_t owner = opts.owner ? opts.owner : getpid();
  const unsigned long long owner_start = detail::process_start_time(owner).value_or(0);
  std::vector<std::string> args = {
      "run",     "-d",
      "--label", "pgmt.run=" + random_hex(12),
      "--label", "pgmt.owner=" + std::to_string(owner) + ":" + std::to_string(owner_start),
      "--mount", "type=tmpfs,destination=/var/lib/postgresql/data,tmpfs-mode=1777",
      "-e",      "PGDATA=/var/lib/postgresql/data/pgdata"};
  // pgmt's own superuser; "postgres" is made after start, as a temp cluster's.
  args.insert(args.end(), {"-e", std::string("POSTGRES_USER=") + own_role, "-e", "POSTGRES_DB=postgres"});
  std::string password;
  std::optional<env_file> secrets;
  if (network == "socket") {
    // No network; the socket's folder is private to this user.
    args.insert(args.end(),
                {"-e", "POSTGRES_HOST_AUTH_METHOD=trust", "--network=none", "-v", sock.string() + ":/sock"});

  } else {
    // Any local user reaches 127.0.0.1: a password of this run's, scram-sha-256
    // on every host line, initdb's own 127.0.0.1 and ::1 lines included (a
    // rootless engine's port forwarding connects from 127.0.0.1).
    password = random_password();
    try {
      secrets.emplace(
          folder / "container.env",
          std::vector<std::string>{"POSTGRES_PASSWORD=" + password, "POSTGRES_HOST_AUTH_METHOD=scram-sha-256",
                                   "POSTGRES_INITDB_ARGS=--auth-host=scram-sha-256 --auth-local=trust"});
    } catch (...) {
      fs::remove_all(folder, ec);
      throw;
    }
    args.insert(args.end(), {"--env-file", secrets->path().string(), "-p", "127.0.0.1::5432"});
  }
  args.insert(args.end(), {image, "postgres", "-c", "fsync=off", "-c", "full_page_writes=off", "-c",
                           "synchronous_commit=off", "-c", "max_connections=200"});
  if (network == "socket")
    args.insert(args.end(), {"-c", "unix_socket_directories=/sock", "-c", "listen_addresses="});
  for (const auto& setting : opts.settings) args.insert(args.end(), {"-c", setting});
  auto run = run_engine(engine, args);
  secrets.reset();
  if (run.exit_code != 0) {
    fs::remove_all(folder, ec);
    std::string out = trimmed(run.output);
    std::string hint = "; check the engine (\"" + engine + " info\")";
    for (const char* s :
         {"manifest unknown", "pull", "no such image", "not found", "initializing source", "image not known"})
      if (out.find(s) != std::string::npos)
        hint = "; the image \"" + image + "\" is not available: pull it (" + engine + " pull " + image +
               "), build one from this machine's PostgreSQL (ci/container-image " + engine +
               "), or name another with PGMT_IMAGE";
    throw harness_error("could not start a container from \"" + image + "\": " + out + hint);
  }
  server_info info;
  info.kind = "container";
  info.engine = engine;
  static const std::regex container_id("[0-9a-f]{12,64}");
  info.container = last_line_matching(run.output, container_id);
  if (info.container.empty()) {
    fs::remove_all(folder, ec);
    throw harness_error("\"" + engine + " run\" printed no container ID: " + trimmed(run.output));
  }
  info.folder = folder;
  info.user = own_role;
  info.password = password;
  auto fail = [&](const std::string& what) -> harness_error {
    auto logs = run_engine(engine, {"logs", "--tail", "40", info.container});
    run_engine(engine, {"rm", "-f", info.container});
    fs::remove_all(folder, ec);
    return harness_error(what + "; the container's log:\n" + trimmed(logs.output));
  };
  if (network == "socket") {
    info.host = sock.string();
    info.port = 5432;
  } else {
    auto p = run_engine(engine, {"port", info.container, "5432/tcp"});
    static const std::regex address(R"((127\.0\.0\.1|0\.0\.0\.0|\[::1?\]):[0-9]+)");
    const std::string mapped = last_line_matching(p.output, address);
    const auto colon = mapped.rfind(':');
    if (p.exit_code != 0 || colon == std::string::npos)
      throw fail("the container publishes no port for 5432 on 127.0.0.1 (\"" + engine +
                 " port\" says: " + trimmed(p.output) + ")");
    info.host = "127.0.0.1";
    info.port = std::atoi(mapped.substr(colon + 1).c_str());
  }
  // A later run finds the folder and the container of a run that was killed.
  write_meta(folder, {owner, owner_start}, info);
  register_server(info, false, opts.keep);
  const auto deadline = std::chrono::steady_clock::now() + opts.start_timeout;
  for (int i = 0;; ++i) {
    if (ping(info.conninfo("postgres"))) break;
    if (std::chrono::steady_clock::now() > deadline) {
      unregister_server(info.folder);
      throw fail("the container " + info.container.substr(0, 12) + " (" + image + ") was not ready after " +
                 std::to_string(opts.start_timeout.count()) + "s (PGMT_START_TIMEOUT)");
    }
    if (i % 20 == 19) {
      auto st = run_engine(engine, {"inspect", "-f", "{{.State.Running}}", info.container});
      if (trimmed(st.output) == "false") {
        unregister_server(info.folder);
        throw fail("the container " + info.container.substr(0, 12) + " (" + image +
                   ") stopped before it was ready");
      }
    }
    std::this_thread::sleep_for(50ms);
  }
  try {
    connection c(info.conninfo("postgres"));
    c.exec("do $$ begin if not exists (select from pg_roles where rolname = 'postgres') then "
           "create role postgres superuser login; end if; end $$");
    result v = c.exec("select current_setting('server_version'), current_setting('server_version_num')");
    info.version = v.value(0, 0).substr(0, v.value(0, 0).find(' '));
    info.version_num = std::atoi(v.value(0, 1).c_str());
  } catch (const pg_error& e) {
    unregister_server(info.folder);
    throw fail(std::string("the container's server does not accept connections: ") + e.what());
  }
  return std::make_unique<server>(info, opts, false);
}

}  // namespace

namespace {

// The database a setting names for an extension (cron.database_name): made
// on pgmt's own servers, where the extension's worker and cron.schedule look
// for it, as it is on the server the setting was written for.
std::unique_ptr<server> with_named_databases(std::unique_ptr<server> srv, const server_options& opts) {
  for (const auto& setting : opts.settings) {
    const auto eq = setting.find('=');
    if (eq == std::string::npos || setting.substr(0, eq) != "cron.database_name") continue;
    std::string name = setting.substr(eq + 1);
    if (name.size() >= 2 && (name.front() == '\'' || name.front() == '"') && name.back() == name.front())
      name = name.substr(1, name.size() - 2);
    if (name.empty()) continue;
    connection c(srv->info().conninfo(srv->info().maintenance_db));
    if (c.exec_params("select 1 from pg_catalog.pg_database where datname = $1", {name}).rows() == 0)
      c.exec("create database " + c.quote_ident(name));
  }
  return srv;
}

}  // namespace

std::unique_ptr<server> start_server(const server_options& opts) {
  if (opts.kind == "temp") return with_named_databases(start_temp_cluster(opts), opts);
  if (opts.kind == "auto") {
    std::string no_binaries;
    try {
      find_pg_bindir(opts.bindir);
    } catch (const harness_error& e) {
      no_binaries = e.what();
    }
    if (no_binaries.empty()) return with_named_databases(start_temp_cluster(opts), opts);
    std::string no_engine;
    if (engine_answers(container_engine(), &no_engine)) return with_named_databases(start_container(opts), opts);
    throw harness_error("no server to test on: " + no_binaries + "; and " + no_engine +
                        ".\nEither install PostgreSQL's server binaries (Debian: apt-get install postgresql) "
                        "for a disposable "
                        "temp cluster, or install podman or docker for a disposable container (PGMT_IMAGE "
                        "names the image), or "
                        "point pgmt at an existing server: PGMT_SERVER=external "
                        "PGMT_DATABASE_URL=postgresql://user:password@host/postgres");
  }
  if (opts.kind == "container") return with_named_databases(start_container(opts), opts);
  if (opts.kind == "external") return detail::start_external(opts);
  throw harness_error("PGMT_SERVER must be auto, temp, container or external, not \"" + opts.kind + "\"");
}

fs::path stop_server(const server_info& info, const server_options& opts, bool run_failed) {
  return stop_impl(info, false, opts.keep, run_failed);
}

fs::path find_pg_bindir(const fs::path& preferred) {
  auto usable = [](const fs::path& d) {
    return access((d / "postgres").c_str(), X_OK) == 0 && access((d / "initdb").c_str(), X_OK) == 0;
  };
  std::vector<std::string> looked;
  if (!preferred.empty()) {
    if (usable(preferred)) return preferred;
    throw harness_error("PGMT_PG_BINDIR=\"" + preferred.string() +
                        "\" does not hold the postgres and initdb programs");
  }
  try {
    auto r = detail::run({"pg_config", "--bindir"});
    std::string dir = r.output.substr(0, r.output.find('\n'));
    if (r.exit_code == 0 && usable(dir)) return dir;
    looked.push_back("pg_config --bindir");
  } catch (const std::exception&) {
    looked.push_back("pg_config (not found)");
  }
  std::string path = env_or("PATH", "");
  std::istringstream ps(path);
  for (std::string d; std::getline(ps, d, ':');) {
    if (!d.empty() && usable(d)) return d;
  }
  looked.push_back("PATH");
  std::vector<std::pair<int, fs::path>> candidates;
  std::error_code ec;
  for (const auto& base : {fs::path("/usr/lib/postgresql"), fs::path("/usr/pgsql")}) {
    if (!fs::is_directory(base, ec)) continue;
    for (const auto& e : fs::directory_iterator(base, ec)) {
      int major = std::atoi(e.path().filename().c_str());
      if (major > 0 && usable(e.path() / "bin")) candidates.emplace_back(major, e.path() / "bin");
    }
  }
  looked.push_back("/usr/lib/postgresql/*/bin");
  if (!candidates.empty()) {
    std::sort(candidates.begin(), candidates.end(), [](auto& a, auto& b) { return a.first > b.first; });
    return candidates.front().second;
  }
  std::string where;
  for (const auto& l : looked) where += (where.empty() ? "" : ", ") + l;
  throw harness_error("no PostgreSQL server binaries found (looked in " + where +
                      "); install them (Debian: apt-get install postgresql) or set PGMT_PG_BINDIR");
}

fs::path runtime_root() {
  std::string r = env_or("PGMT_RUNTIME_DIR", "");
  fs::path root;
  if (!r.empty()) {
    root = r;
  } else {
    // Clones create hundreds of files each; on tmpfs that is several times
    // faster than on most disks. Only when there is room: a container's
    // /dev/shm is often 64 MB.
    const std::string user_dir = "pgmt-" + std::to_string(geteuid());
    struct statvfs vfs {};
    constexpr unsigned long long min_free = 4ULL << 30;
    if (statvfs("/dev/shm", &vfs) == 0 && access("/dev/shm", W_OK | X_OK) == 0 &&
        static_cast<unsigned long long>(vfs.f_bavail) * vfs.f_frsize >= min_free)
      root = fs::path("/dev/shm") / user_dir;
    else
      root = fs::path(env_or("TMPDIR", "/tmp")) / user_dir;
  }
  struct stat st {};
  if (lstat(root.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
      throw harness_error("runtime folder \"" + root.string() +
                          "\" is not a folder owned by this user; remove it or set PGMT_RUNTIME_DIR");
  } else {
    make_dir(root, fs::perms(0700));
  }
  // A root run hands server folders to an unprivileged user, who must be able to pass through.
  fs::permissions(root, running_as_root() ? fs::perms(0711) : fs::perms(0700));
  return root;
}

int remove_abandoned_servers() {
  fs::path root = runtime_root();
  int removed = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    const auto name = e.path().filename().string();
    if ((name.rfind("srv-", 0) != 0 && name.rfind("ctr-", 0) != 0) || !e.is_directory()) continue;
    if (fs::exists(e.path() / "kept")) continue;
    nlohmann::json meta;
    try {
      meta = nlohmann::json::parse(read_all(e.path() / "meta.json"));
    } catch (...) {
      // No readable meta.json: either being created right now or a crash before it was written.
      auto age = fs::file_time_type::clock::now() - fs::last_write_time(e.path(), ec);
      if (!ec && age > std::chrono::minutes(5)) {
        fs::remove_all(e.path(), ec);
        ++removed;
      }
      continue;
    }
    pid_t owner = meta.value("owner_pid", 0);
    unsigned long long owner_start = meta.value("owner_start", 0ULL);
    if (owner > 0 && same_process(owner, owner_start)) continue;
    server_info info;
    try {
      info = server_info::from_json(meta);
    } catch (...) {
      info.pid = meta.value("pid", 0);
      info.pid_start = meta.value("pid_start", 0ULL);
    }
    info.folder = e.path();
    try {
      stop_impl(info, false, "0", false);
    } catch (...) {
      continue;
    }
    ++removed;
  }
  return removed;
}

namespace {
std::atomic<int> handling_signal{0};
}  // namespace

int finish(int rc) {
  if (handling_signal.load() != 0) {
    for (;;) pause();  // the signal thread stops the servers and calls _exit
  }
  return rc;
}

void install_signal_cleanup() {
  static std::once_flag once;
  std::call_once(once, [] {
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::thread([set] {
      int sig = 0;
      while (sigwait(&set, &sig) != 0) {
      }
      handling_signal.store(sig);
      {
        std::lock_guard g(registry_mutex);
        for (const auto& s : registry()) stop_impl(s.info, s.own_child, s.keep, true);
        registry().clear();
      }
      std::cerr << "pgmt: interrupted by signal " << sig << "; servers stopped\n";
      _exit(128 + sig);
    }).detach();
  });
}

void write_state_file(const fs::path& path, const server_info& info) {
  std::error_code ec;
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
  fs::path tmp = path;
  tmp += ".tmp";
  {
    // 0600 from the start: it may hold the server's password.
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
      throw harness_error("could not write server state \"" + path.string() + "\": " + std::strerror(errno));
    ::fchmod(fd, 0600);
    const std::string text = info.to_json().dump(2) + "\n";
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    if (!ok) throw harness_error("could not write server state \"" + path.string() + "\"");
  }
  fs::rename(tmp, path, ec);
  if (ec) throw harness_error("could not write server state \"" + path.string() + "\": " + ec.message());
}

server_info read_state_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in)
    throw harness_error(
        "no server state at \"" + path.string() +
        "\"; the server fixture did not run (run the whole suite, or `pgmt server start --state` first)");
  try {
    return server_info::from_json(nlohmann::json::parse(in));
  } catch (const nlohmann::json::exception& e) {
    throw harness_error("server state \"" + path.string() + "\" is not valid JSON: " + e.what());
  }
}

}  // namespace pgmt
