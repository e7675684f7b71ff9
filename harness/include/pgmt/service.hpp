#pragma once
/// service: the engine of a CTest run as a process of its own. The suite's
/// server fixture starts it; it starts the server, walks the suite (see
/// engine) and answers each test's request for its verdict on a unix socket.
/// Each run has its own, keyed on the process that owns the run (ctest): two
/// runs of one build tree never meet. It stops its server and exits when
/// asked, or when its owner is gone.

#include "pgmt/checks.hpp"
#include "pgmt/server.hpp"

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

namespace pgmt {

/// What `pgmt server start` is asked for.
struct service_request {
  std::filesystem::path state;       ///< the suite's state file (per run: state.<owner pid>)
  std::filesystem::path suite_file;  ///< empty: serve the server only, every check runs in its test
  pid_t owner = 0;                   ///< the run's owner (ctest): the service ends when it is gone
  std::string server_kind;           ///< SERVER of the suite; PGMT_SERVER wins
  std::string image;                 ///< POSTGRES_IMAGE of the suite; PGMT_IMAGE wins
};

/// The state file of the run owned by owner.
[[nodiscard]] std::filesystem::path run_state_file(const std::filesystem::path& state, pid_t owner);

/// Starts the service in the background and returns once its server is ready
/// (exit code 0) or has failed (2, with the reason on standard error).
int start_service(const service_request& req);

/// A running service: its server and how to reach the engine.
struct service_info {
  std::filesystem::path file;  ///< the run's state file
  server_info server;
  pid_t pid = 0;                 ///< the engine; 0 when none (a state file of an older kind)
  unsigned long long pid_start = 0;
  std::filesystem::path socket;
  std::filesystem::path log;
};

/// The service of this process's run for state: the one owned by our parent
/// (ctest runs the tests itself), else the only live one, else state itself.
/// Throws harness_error when there is none.
[[nodiscard]] service_info find_service(const std::filesystem::path& state);

/// Asks the service for the verdict of key ("<version>.<check>" or
/// "<check>") of the suite in suite_file, waiting while the walk gets there.
/// nullopt when the engine does not give that verdict (the caller runs the
/// check itself). Throws harness_error when the engine died or failed, with
/// the end of its log.
[[nodiscard]] std::optional<check_result> ask_verdict(const service_info& svc, const std::string& key,
                                                      const std::filesystem::path& suite_file);

/// Records that test failed in the run of svc (PGMT_KEEP=on-failure keeps its server).
void mark_failed(const service_info& svc, const std::string& test);

/// Stops the service of state and its server; returns what to print.
std::string stop_service(const std::filesystem::path& state, bool failed);

}  // namespace pgmt
