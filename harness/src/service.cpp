#include "pgmt/service.hpp"

#include "pgmt/engine.hpp"
#include "pgmt/process.hpp"
#include "pgmt/report.hpp"
#include "pgmt/text.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

namespace pgmt {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

bool alive(pid_t pid, unsigned long long start) {
  if (pid <= 0 || !detail::process_alive(pid)) return false;
  if (start == 0) return true;
  auto now = detail::process_start_time(pid);
  return now && *now == start;
}

nlohmann::json to_json(const check_result& r) {
  const char* outcome = r.outcome == check_result::status::passed   ? "passed"
                        : r.outcome == check_result::status::failed ? "failed"
                                                                    : "skipped";
  return {{"outcome", outcome}, {"findings", r.findings}, {"note", r.note}, {"details", r.details}};
}

check_result result_from_json(const nlohmann::json& j) {
  check_result r;
  const std::string outcome = j.at("outcome").get<std::string>();
  r.outcome = outcome == "passed"   ? check_result::status::passed
              : outcome == "failed" ? check_result::status::failed
                                    : check_result::status::skipped;
  r.findings = j.at("findings").get<std::vector<std::string>>();
  r.note = j.at("note").get<std::string>();
  r.details = j.at("details").get<std::vector<std::string>>();
  return r;
}

bool write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// One line (without its newline); empty at the end of the stream.
std::string read_line(int fd) {
  std::string line;
  char ch;
  for (;;) {
    ssize_t n = ::read(fd, &ch, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || ch == '\n') return line;
    line += ch;
  }
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

sockaddr_un socket_address(const fs::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string p = path.string();
  if (p.size() >= sizeof addr.sun_path)
    throw harness_error("the socket path \"" + p + "\" is too long for a unix socket; set PGMT_RUNTIME_DIR to a " +
                        "shorter folder");
  std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);
  return addr;
}

int connect_to(const fs::path& path) {
  sockaddr_un addr = socket_address(path);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// The last lines of a log file.
std::string log_tail(const fs::path& log, std::size_t lines = 20) {
  std::ifstream in(log);
  if (!in) return "  (its log \"" + log.string() + "\" is gone)\n";
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    last.push_back(line);
    if (last.size() > lines) last.pop_front();
  }
  if (last.empty()) return "  (its log \"" + log.string() + "\" is empty)\n";
  std::string out = "the end of its log \"" + log.string() + "\":\n";
  for (const auto& l : last) out += "  " + l + "\n";
  return out;
}

std::string engine_gone(const service_info& svc, const std::string& key) {
  return "the suite's engine (pid " + std::to_string(svc.pid) + ") is gone before giving " + key +
         " its verdict; " + log_tail(svc.log);
}

fs::path failed_marker(const fs::path& file) {
  fs::path p = file;
  p += ".failed";
  return p;
}

fs::path log_file(const fs::path& file) {
  fs::path p = file;
  p += ".log";
  return p;
}

service_info read_service(const fs::path& file) {
  service_info svc;
  svc.file = file;
  std::ifstream in(file);
  if (!in) throw harness_error("could not read server state \"" + file.string() + "\"");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw harness_error("server state \"" + file.string() + "\" is not valid JSON: " + e.what());
  }
  svc.server = server_info::from_json(j);
  if (j.contains("service")) {
    const auto& s = j.at("service");
    svc.pid = s.value("pid", 0);
    svc.pid_start = s.value("pid_start", 0ULL);
    svc.socket = s.value("socket", std::string());
    svc.log = s.value("log", std::string());
  }
  return svc;
}

void write_service(const service_info& svc) {
  nlohmann::json j = svc.server.to_json();
  j["service"] = {{"pid", svc.pid},
                  {"pid_start", svc.pid_start},
                  {"socket", svc.socket.string()},
                  {"log", svc.log.string()}};
  fs::path tmp = svc.file;
  tmp += ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) throw harness_error("could not write server state \"" + svc.file.string() + "\"");
    out << j.dump(2) << "\n";
  }
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write);
  fs::rename(tmp, svc.file);
}

// The run files of state: "<state>.<pid>".
std::vector<fs::path> run_files(const fs::path& state) {
  std::vector<fs::path> out;
  std::error_code ec;
  const fs::path dir = state.has_parent_path() ? state.parent_path() : fs::path(".");
  const std::string prefix = state.filename().string() + ".";
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string rest = name.substr(prefix.size());
    if (rest.find_first_not_of("0123456789") == std::string::npos) out.push_back(e.path());
  }
  return out;
}

// Files of runs whose engine is gone (killed): their server goes with
// remove_abandoned_servers(), their files here.
void remove_dead_runs(const fs::path& state) {
  std::error_code ec;
  for (const auto& f : run_files(state)) {
    service_info svc;
    try {
      svc = read_service(f);
    } catch (...) {
      fs::remove(f, ec);
      continue;
    }
    if (svc.pid == 0 || alive(svc.pid, svc.pid_start)) continue;
    if (!svc.socket.empty()) fs::remove_all(svc.socket.parent_path(), ec);
    fs::remove(log_file(f), ec);
    fs::remove(failed_marker(f), ec);
    fs::remove(f, ec);
  }
  // Socket folders of engines that were killed.
  for (const auto& e : fs::directory_iterator(runtime_root(), ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("run-", 0) != 0) continue;
    const pid_t pid = static_cast<pid_t>(std::atol(name.c_str() + 4));
    if (pid > 0 && !detail::process_alive(pid)) fs::remove_all(e.path(), ec);
  }
}

// What the engine process shares between its threads.
struct board {
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, check_result> verdicts;
  std::map<std::string, std::string> failures;  // tests whose check could not run, and why
  std::set<std::string> planned;
  bool done = false;
  std::string fatal;
  bool any_failed = false;
};

// The engine process: owns the server, walks the suite, answers requests.
[[noreturn]] void serve(const service_request& req, pid_t owner, const fs::path& file, int ready_fd) {
  setsid();
  const fs::path log = log_file(file);
  {
    int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (in >= 0) ::dup2(in, 0);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
  }
  const unsigned long long owner_start = detail::process_start_time(owner).value_or(0);
  std::unique_ptr<server> srv;
  service_info svc;
  int listener = -1;
  try {
    auto opts = server_options::from_environment();
    if (!req.image.empty() && !std::getenv("PGMT_IMAGE")) setenv("PGMT_IMAGE", req.image.c_str(), 1);
    if (!req.server_kind.empty() && !std::getenv("PGMT_SERVER")) opts.kind = req.server_kind;
    opts.owner = getpid();  // a killed engine's server is found and removed by the next run
    if (!req.suite_file.empty()) {
      try {
        opts.settings = suite::from_file(req.suite_file).server_settings;
      } catch (const input_error&) {
        // Said by the first test that reads the suite.
      }
    }
    srv = start_server(opts);
    const fs::path dir = runtime_root() / ("run-" + std::to_string(getpid()));
    fs::create_directories(dir);
    fs::permissions(dir, fs::perms::owner_all);
    svc.file = file;
    svc.server = srv->info();
    svc.pid = getpid();
    svc.pid_start = detail::process_start_time(getpid()).value_or(0);
    svc.socket = dir / "engine.sock";
    svc.log = log;
    sockaddr_un addr = socket_address(svc.socket);
    listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener, 64) != 0)
      throw harness_error("could not listen on \"" + svc.socket.string() + "\": " + std::strerror(errno));
    write_service(svc);
  } catch (const std::exception& e) {
    std::cerr << "pgmt: error: " << e.what() << std::endl;
    write_all(ready_fd, std::string("error\npgmt: error: ") + e.what() + "\n");
    if (srv) srv->stop(false);
    _exit(exit_code::harness);
  }
  // What the start cleaned up goes to the stderr of `pgmt server start`, marked "!".
  std::string notes;
  for (const auto& n : srv->notes()) notes += "!" + n + "\n";
  write_all(ready_fd,
            "ok\n" + notes + "pgmt: started " + svc.server.describe() + " at " + svc.server.host + "\n");
  ::close(ready_fd);
  std::cout << "pgmt: engine " << getpid() << " serving " << svc.socket.string() << " for owner " << owner
            << std::endl;

  static board b;
  static std::atomic<bool> stopping{false};
  const std::string cwd = fs::current_path().string();
  std::mutex stop_mu;
  // Stops the server and leaves; the walk is abandoned where it is.
  auto shut_down = [&](bool failed, int reply_fd) {
    std::lock_guard<std::mutex> once(stop_mu);
    stopping = true;
    bool any_failed;
    {
      std::lock_guard<std::mutex> lock(b.mu);
      any_failed = b.any_failed;
    }
    std::error_code ec;
    failed = failed || any_failed || fs::exists(failed_marker(file), ec);
    std::string kept;
    try {
      kept = srv->stop(failed).string();
    } catch (const std::exception& e) {
      std::cerr << "pgmt: error: " << e.what() << std::endl;
    }
    fs::remove(file, ec);
    fs::remove(failed_marker(file), ec);
    fs::remove_all(svc.socket.parent_path(), ec);
    if (reply_fd >= 0) {
      rusage use{};
      getrusage(RUSAGE_SELF, &use);
      nlohmann::json reply = {{"stopped", svc.server.describe()}, {"kept", kept}, {"rss_kb", use.ru_maxrss}};
      write_all(reply_fd, reply.dump() + "\n");
      ::close(reply_fd);
    }
    fs::remove(log, ec);
    _exit(0);
  };

  // The walk, for clients that ask where it is.
  std::shared_ptr<engine> walking;
  if (!req.suite_file.empty()) {
    try {
      suite s = suite::from_file(req.suite_file);
      migration_set set = s.discover_migrations();
      auto eng = std::make_shared<engine>(svc.server, std::move(s), std::move(set));
      server* watched = srv.get();
      eng->watch_server([watched] { return watched->stopped_unasked(); });
      walking = eng;
      {
        auto keys = eng->planned();
        std::lock_guard<std::mutex> lock(b.mu);
        b.planned.insert(keys.begin(), keys.end());
      }
      std::thread([eng] {
        try {
          eng->run(
              [](const std::string& key, const check_result& r) {
                std::lock_guard<std::mutex> lock(b.mu);
                b.verdicts[key] = r;
                if (r.outcome == check_result::status::failed) b.any_failed = true;
                b.cv.notify_all();
              },
              &stopping,
              [](const std::string& key, const std::string& message) {
                std::lock_guard<std::mutex> lock(b.mu);
                b.failures[key] = message;
                b.any_failed = true;
                b.cv.notify_all();
              });
        } catch (const script_error& e) {
          std::lock_guard<std::mutex> lock(b.mu);
          b.fatal = e.diag().format();
        } catch (const std::exception& e) {
          std::lock_guard<std::mutex> lock(b.mu);
          b.fatal = e.what();
        }
        if (!stopping) {
          std::lock_guard<std::mutex> lock(b.mu);
          if (!b.fatal.empty()) std::cerr << "pgmt: the walk stopped: " << b.fatal << std::endl;
          std::cout << "pgmt: the walk is done" << std::endl;
        }
        std::lock_guard<std::mutex> lock(b.mu);
        b.done = true;
        b.cv.notify_all();
      }).detach();
    } catch (const std::exception& e) {
      // The tests run their checks themselves and say what is wrong with the suite.
      std::cerr << "pgmt: the suite cannot be walked: " << e.what() << std::endl;
    }
  }

  auto handle = [&](int fd) {
    nlohmann::json request;
    try {
      request = nlohmann::json::parse(read_line(fd));
    } catch (...) {
      ::close(fd);
      return;
    }
    const std::string op = request.value("op", std::string());
    if (op == "stop") {
      shut_down(request.value("failed", false), fd);
      return;
    }
    if (op == "where") {
      write_all(fd, nlohmann::json({{"where", walking ? walking->where() : std::string("no walk")}}).dump() + "\n");
      ::close(fd);
      return;
    }
    nlohmann::json reply;
    const std::string key = request.value("key", std::string());
    const bool ours = request.value("suite", std::string()) == req.suite_file.string() &&
                      request.value("cwd", std::string()) == cwd;
    std::unique_lock<std::mutex> lock(b.mu);
    if (!ours || !b.planned.count(key)) {
      reply = {{"unplanned", true}};
    } else {
      b.cv.wait(lock, [&] { return b.verdicts.count(key) || b.failures.count(key) || b.done; });
      if (auto it = b.verdicts.find(key); it != b.verdicts.end())
        reply = {{"result", to_json(it->second)}};
      else if (auto f = b.failures.find(key); f != b.failures.end())
        reply = {{"failure", f->second}};
      else
        reply = {{"error", b.fatal.empty() ? "the walk ended without a verdict for " + key : b.fatal}};
    }
    lock.unlock();
    write_all(fd, reply.dump() + "\n");
    ::close(fd);
  };

  for (;;) {
    pollfd p{listener, POLLIN, 0};
    int n = ::poll(&p, 1, 200);
    if (!alive(owner, owner_start)) shut_down(false, -1);
    if (n <= 0) continue;
    int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::thread(handle, fd).detach();
  }
}

}  // namespace

fs::path run_state_file(const fs::path& state, pid_t owner) {
  fs::path p = state;
  p += "." + std::to_string(owner);
  return p;
}

int start_service(const service_request& req) {
  remove_abandoned_servers();
  remove_dead_runs(req.state);
  const pid_t owner = req.owner ? req.owner : getppid();
  const fs::path file = run_state_file(req.state, owner);
  std::error_code ec;
  if (fs::exists(file)) {
    service_info old = read_service(file);
    if (alive(old.pid, old.pid_start))
      throw harness_error("this run already has a server (\"" + file.string() + "\"); stop it with `pgmt server " +
                          "stop --state " + req.state.string() + "`");
    fs::remove(file, ec);
  }
  fs::remove(failed_marker(file), ec);
  if (file.has_parent_path()) fs::create_directories(file.parent_path(), ec);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw harness_error(std::string("pipe: ") + std::strerror(errno));
  std::cout.flush();
  std::cerr.flush();
  const pid_t child = ::fork();
  if (child < 0) throw harness_error(std::string("fork: ") + std::strerror(errno));
  if (child == 0) {
    ::close(fds[0]);
    serve(req, owner, file, fds[1]);
  }
  ::close(fds[1]);
  const std::string said = read_all(fds[0]);
  ::close(fds[0]);
  if (said.rfind("ok\n", 0) == 0) {
    std::istringstream lines(said.substr(3));
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind('!', 0) == 0)
        std::cerr << line.substr(1) << "\n";
      else
        std::cout << line << "\n";
    }
    return exit_code::passed;
  }
  if (said.rfind("error\n", 0) == 0) {
    std::cerr << said.substr(6);
  } else {
    service_info gone;
    gone.pid = child;
    gone.log = log_file(file);
    std::cerr << "pgmt: error: the engine (pid " << child << ") stopped before its server was ready; "
              << log_tail(gone.log);
  }
  return exit_code::harness;
}

service_info find_service(const fs::path& state) {
  const fs::path mine = run_state_file(state, getppid());
  if (fs::exists(mine)) return read_service(mine);
  std::vector<service_info> live;
  for (const auto& f : run_files(state)) {
    try {
      service_info svc = read_service(f);
      if (alive(svc.pid, svc.pid_start)) live.push_back(svc);
    } catch (const harness_error&) {
      // Half written or broken: not a run to use.
    }
  }
  if (live.size() == 1) return live.front();
  if (live.size() > 1)
    throw harness_error("several runs of this suite have a server (\"" + state.string() + ".<pid>\") and none " +
                        "is this process's: run the check from ctest, or stop the others");
  if (fs::exists(state)) return read_service(state);
  throw harness_error("no server state at \"" + state.string() +
                      "\"; the server fixture did not run (run the whole suite, or `pgmt server start --state` "
                      "first)");
}

std::optional<check_result> ask_verdict(const service_info& svc, const std::string& key, const fs::path& suite_file) {
  if (svc.pid == 0) return std::nullopt;
  int fd = connect_to(svc.socket);
  if (fd < 0) throw harness_error(engine_gone(svc, key));
  nlohmann::json request = {
      {"op", "verdict"}, {"key", key}, {"suite", suite_file.string()}, {"cwd", fs::current_path().string()}};
  write_all(fd, request.dump() + "\n");
  // A verdict that is long in coming: say where the walk is, now and then, so
  // that a test CTest ends at its TIMEOUT has said where it was.
  const auto asked = std::chrono::steady_clock::now();
  int first_ms = 10000;
  if (const char* env = std::getenv("PGMT_PROGRESS_AFTER"); env && *env) {
    char* end = nullptr;
    const long v = std::strtol(env, &end, 10);
    if (*end != '\0' || v < 1 || v > 86400)
      throw input_error("PGMT_PROGRESS_AFTER must be a number of seconds from 1 to 86400, not \"" +
                        std::string(env) + "\"");
    first_ms = static_cast<int>(v) * 1000;
  }
  for (int wait_ms = first_ms;; wait_ms = std::max(first_ms, 30000)) {
    pollfd p{fd, POLLIN, 0};
    const int n = ::poll(&p, 1, wait_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n != 0) break;
    std::string where = "(no answer)";
    if (int wfd = connect_to(svc.socket); wfd >= 0) {
      write_all(wfd, nlohmann::json({{"op", "where"}}).dump() + "\n");
      auto reply = nlohmann::json::parse(read_line(wfd), nullptr, false);
      ::close(wfd);
      if (!reply.is_discarded()) where = reply.value("where", where);
    }
    std::cout << "pgmt: still waiting for the verdict of " << key << " after "
              << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - asked).count()
              << " s; the walk is at " << where << std::endl;
  }
  const std::string line = read_line(fd);
  ::close(fd);
  if (line.empty()) throw harness_error(engine_gone(svc, key));
  nlohmann::json reply;
  try {
    reply = nlohmann::json::parse(line);
    if (reply.contains("unplanned")) return std::nullopt;
    // What the check could not get past, as the check itself would say it.
    if (reply.contains("failure")) throw input_error(reply.at("failure").get<std::string>());
    if (reply.contains("error"))
      throw harness_error("the suite's engine could not give " + key + " its verdict: " +
                          reply.at("error").get<std::string>());
    return result_from_json(reply.at("result"));
  } catch (const nlohmann::json::exception& e) {
    throw harness_error("the suite's engine answered what pgmt cannot read: " + std::string(e.what()));
  }
}

void mark_failed(const service_info& svc, const std::string& test) {
  std::ofstream(failed_marker(svc.file)) << test << "\n";
}

std::string stop_service(const fs::path& state, bool failed) {
  service_info svc;
  try {
    svc = find_service(state);
  } catch (const harness_error&) {
    return "pgmt: no server state at \"" + state.string() + "\"; nothing to stop\n";
  }
  std::error_code ec;
  failed = failed || fs::exists(failed_marker(svc.file), ec);
  if (svc.pid != 0 && alive(svc.pid, svc.pid_start)) {
    int fd = connect_to(svc.socket);
    if (fd >= 0) {
      nlohmann::json request = {{"op", "stop"}, {"failed", failed}};
      write_all(fd, request.dump() + "\n");
      const std::string line = read_line(fd);
      ::close(fd);
      // The engine leaves right after its answer.
      for (int i = 0; i < 500 && alive(svc.pid, svc.pid_start); ++i) std::this_thread::sleep_for(10ms);
      if (!line.empty()) {
        nlohmann::json reply = nlohmann::json::parse(line, nullptr, false);
        std::string out = "pgmt: stopped " + svc.server.describe();
        if (!reply.is_discarded() && reply.contains("rss_kb"))
          out += "; engine peak RSS " + std::to_string(reply.value("rss_kb", 0L) / 1024) + " MB";
        out += "\n";
        if (!reply.is_discarded() && !reply.value("kept", std::string()).empty())
          out += "pgmt: kept the server folder \"" + reply.value("kept", std::string()) + "\" (PGMT_KEEP)\n";
        return out;
      }
    }
  }
  // No engine (killed, or a state file written by hand): stop the server itself.
  fs::path kept = stop_server(svc.server, server_options::from_environment(), failed);
  if (svc.pid != 0 && alive(svc.pid, svc.pid_start)) kill(svc.pid, SIGKILL);
  if (!svc.socket.empty()) fs::remove_all(svc.socket.parent_path(), ec);
  fs::remove(svc.file, ec);
  fs::remove(failed_marker(svc.file), ec);
  fs::remove(log_file(svc.file), ec);
  std::string out = "pgmt: stopped " + svc.server.describe() + "\n";
  if (!kept.empty()) out += "pgmt: kept the server folder \"" + kept.string() + "\" (PGMT_KEEP)\n";
  return out;
}

}  // namespace pgmt
