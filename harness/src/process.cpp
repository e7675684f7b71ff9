#include "pgmt/process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace pgmt::detail {

namespace {

void close_other_fds(int keep_above) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, keep_above + 1, ~0U, 0) == 0) return;
#endif
  long max = sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > 65536) max = 65536;
  for (int fd = keep_above + 1; fd < max; ++fd) close(fd);
}

[[noreturn]] void child_fail(int err_fd, const char* what) {
  int e = errno;
  std::string msg = std::string(what) + ": " + std::strerror(e);
  if (err_fd >= 0) {
    ssize_t ignored = write(err_fd, msg.data(), msg.size());
    (void)ignored;
  }
  _exit(127);
}

// In the child: drop privileges, set up fds, exec. Never returns.
[[noreturn]] void exec_child(const std::vector<std::string>& argv, const spawn_options& opts, int out_fd,
                             int err_pipe) {
  if (opts.new_session) setsid();
  // Restore default signal handling and an empty mask for the new program.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGPIPE, SIG_DFL);

  int devnull = open("/dev/null", O_RDONLY);
  if (devnull < 0 || dup2(devnull, 0) < 0) child_fail(err_pipe, "could not open /dev/null");
  if (dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0) child_fail(err_pipe, "could not redirect output");
  if (err_pipe > 2) {
    if (dup2(err_pipe, 3) < 0) child_fail(err_pipe, "dup2");
    err_pipe = 3;
    fcntl(3, F_SETFD, FD_CLOEXEC);
    close_other_fds(3);
  } else {
    close_other_fds(2);
  }
  if (opts.as) {
    if (setgid(opts.as->gid) != 0) child_fail(err_pipe, "setgid");
    if (initgroups(opts.as->name.c_str(), opts.as->gid) != 0) child_fail(err_pipe, "initgroups");
    if (setuid(opts.as->uid) != 0) child_fail(err_pipe, "setuid");
    setenv("USER", opts.as->name.c_str(), 1);
    setenv("LOGNAME", opts.as->name.c_str(), 1);
    if (auto* pw = getpwnam(opts.as->name.c_str())) setenv("HOME", pw->pw_dir, 1);
  }
  for (const auto& [k, v] : opts.env) setenv(k.c_str(), v.c_str(), 1);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execvp(args[0], args.data());
  child_fail(err_pipe, ("could not run \"" + argv[0] + "\"").c_str());
}

// Forks and execs; out_fd becomes the child's stdout and stderr. Reports exec
// failures through a close-on-exec pipe so the caller gets an exception.
pid_t fork_exec(const std::vector<std::string>& argv, const spawn_options& opts, int out_fd) {
  if (argv.empty()) throw std::runtime_error("no program to run");
  int errp[2];
  if (pipe2(errp, O_CLOEXEC) != 0) throw std::runtime_error("pipe: " + std::string(std::strerror(errno)));
  pid_t pid = fork();
  if (pid < 0) {
    close(errp[0]);
    close(errp[1]);
    throw std::runtime_error("fork: " + std::string(std::strerror(errno)));
  }
  if (pid == 0) {
    close(errp[0]);
    exec_child(argv, opts, out_fd, errp[1]);
  }
  close(errp[1]);
  std::string failure;
  char buf[512];
  ssize_t n;
  while ((n = read(errp[0], buf, sizeof buf)) > 0) failure.append(buf, static_cast<std::size_t>(n));
  close(errp[0]);
  if (!failure.empty()) {
    int status;
    waitpid(pid, &status, 0);
    throw std::runtime_error(failure);
  }
  return pid;
}

}  // namespace

pid_t spawn(const std::vector<std::string>& argv, const spawn_options& opts) {
  int out_fd;
  if (opts.output.empty()) {
    out_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  } else {
    out_fd = open(opts.output.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  }
  if (out_fd < 0)
    throw std::runtime_error("could not open \"" + opts.output.string() + "\": " + std::strerror(errno));
  if (opts.as && !opts.output.empty()) {
    if (fchown(out_fd, opts.as->uid, opts.as->gid) != 0) { /* the child writes through our fd */
    }
  }
  try {
    pid_t pid = fork_exec(argv, opts, out_fd);
    close(out_fd);
    return pid;
  } catch (...) {
    close(out_fd);
    throw;
  }
}

int wait_child(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

run_result run(const std::vector<std::string>& argv, const std::optional<os_user>& as) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe: " + std::string(std::strerror(errno)));
  spawn_options opts;
  opts.as = as;
  pid_t pid;
  try {
    pid = fork_exec(argv, opts, p[1]);
  } catch (...) {
    close(p[0]);
    close(p[1]);
    throw;
  }
  close(p[1]);
  run_result r;
  char buf[4096];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    r.output.append(buf, static_cast<std::size_t>(n));
  }
  close(p[0]);
  r.exit_code = wait_child(pid);
  return r;
}

bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  // Reap it if it is our zombie child.
  int status;
  if (waitpid(pid, &status, WNOHANG) == pid) return false;
  if (kill(pid, 0) == 0) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (std::getline(stat, line)) {
      auto close_paren = line.rfind(')');
      if (close_paren != std::string::npos && close_paren + 2 < line.size() && line[close_paren + 2] == 'Z')
        return false;
    }
    return true;
  }
  return errno == EPERM;
}

std::optional<unsigned long long> process_start_time(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return std::nullopt;
  auto close_paren = line.rfind(')');
  if (close_paren == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close_paren + 2));
  std::string field;
  // Fields after the command name start at field 3 (state); starttime is field 22.
  for (int i = 3; i <= 22; ++i) {
    if (!(rest >> field)) return std::nullopt;
  }
  return std::stoull(field);
}

std::optional<os_user> lookup_user(const std::string& name) {
  struct passwd* pw = getpwnam(name.c_str());
  if (!pw) return std::nullopt;
  return os_user{name, pw->pw_uid, pw->pw_gid};
}

void chown_to(const std::filesystem::path& path, const os_user& user, bool recursive) {
  if (lchown(path.c_str(), user.uid, user.gid) != 0)
    throw std::runtime_error("could not change owner of \"" + path.string() + "\": " + std::strerror(errno));
  if (recursive && std::filesystem::is_directory(path)) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(path)) {
      if (lchown(e.path().c_str(), user.uid, user.gid) != 0)
        throw std::runtime_error("could not change owner of \"" + e.path().string() +
                                 "\": " + std::strerror(errno));
    }
  }
}

}  // namespace pgmt::detail
