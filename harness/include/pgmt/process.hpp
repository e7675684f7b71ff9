#pragma once
/// process: starting programs (initdb, postgres, cp) with their output sent to
/// a file or captured, optionally as another user. Internal to pgmt.

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace pgmt::detail {

/// An unprivileged account to run a program as.
struct os_user {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

/// How to start a program.
struct spawn_options {
  std::optional<os_user> as;     ///< drop privileges to this user (needs root)
  std::filesystem::path output;  ///< append stdout+stderr here; empty: /dev/null
  bool new_session = false;      ///< setsid(): survive the parent's terminal and signals
  std::vector<std::pair<std::string, std::string>> env;  ///< variables to set
};

/// Starts argv[0] (looked up in PATH when it has no slash); returns its pid.
/// Throws std::runtime_error when it cannot be started.
pid_t spawn(const std::vector<std::string>& argv, const spawn_options& opts);

/// What a finished program left behind.
struct run_result {
  int exit_code = -1;  ///< exit status, or 128 + signal number
  std::string output;  ///< stdout and stderr, interleaved
};

/// Runs argv to completion and captures its output.
run_result run(const std::vector<std::string>& argv, const std::optional<os_user>& as = std::nullopt);

/// Waits for our child pid; returns its exit code as run_result does.
int wait_child(pid_t pid);

/// True when a process with this pid exists (and is not a zombie of ours).
bool process_alive(pid_t pid);

/// The start time of pid in clock ticks since boot, from /proc; nullopt if gone.
std::optional<unsigned long long> process_start_time(pid_t pid);

/// The account named name, or nullopt.
std::optional<os_user> lookup_user(const std::string& name);

/// Gives path (recursively when recursive) to user.
void chown_to(const std::filesystem::path& path, const os_user& user, bool recursive);

}  // namespace pgmt::detail
