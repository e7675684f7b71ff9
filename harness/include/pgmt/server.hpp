#pragma once
/// server: disposable PostgreSQL servers behind one interface (a temp
/// cluster, a container, or databases of pgmt's own on an external server);
/// the connection details of a running server live in a small JSON state file
/// so separate processes (CTest fixtures, checks) can share it.

#include <nlohmann/json.hpp>

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pgmt {

/// The superuser pgmt works as on the servers it starts (temp clusters,
/// containers). "postgres" is there too, a superuser as on a fresh install,
/// but an ordinary role for pgmt: migrations may alter, demote or drop it.
inline constexpr const char* own_role = "pgmt_admin";

/// How to reach a running server and how to stop it.
struct server_info {
  std::string kind;     ///< "temp cluster", "container" or "external"
  std::string version;  ///< e.g. "15.18"
  int version_num = 0;  ///< e.g. 150018
  std::string host;     ///< socket folder or 127.0.0.1
  int port = 5432;
  /// A superuser: on servers pgmt starts, its own role (own_role), never
  /// "postgres", which migrations may alter or demote; on an external server
  /// the URL's role.
  std::string user = "postgres";
  /// Temp cluster over TCP, container with a published port: the run's random
  /// password for user (scram-sha-256; a unix socket, in a private folder,
  /// needs none). Kept in 0600 state files, never printed nor in meta.json.
  std::string password;
  std::filesystem::path folder;      ///< the server's private folder (temp cluster)
  std::filesystem::path log;         ///< the server's log file
  pid_t pid = 0;                     ///< postmaster
  unsigned long long pid_start = 0;  ///< postmaster start time, guards against pid reuse
  /// Names of the databases pgmt creates start with this: "pgmt_" on a
  /// server of its own, "pgmt_<run>_" on an external one, so a run drops only
  /// its own databases (there, "pgmt_<run>_o_<host>_<pid>_<start>" names the
  /// run's owner, so that the next run drops the databases of a killed one).
  std::string db_prefix = "pgmt_";
  /// External: the connection parameters of PGMT_DATABASE_URL without the
  /// password (the password is read from the environment again when needed).
  std::map<std::string, std::string> params;
  std::string maintenance_db = "postgres";  ///< the database pgmt connects to for CREATE DATABASE
  std::string container;                    ///< container: its ID
  std::string engine;                       ///< container: the engine command (PGMT_CONTAINER_CLI)

  /// libpq connection string for database dbname. Its sessions start with
  /// the settings pgmt's work cannot do without (not read-only, no timeouts
  /// but its own), whatever a migration made the server's, a role's or a
  /// database's defaults; then options (libpq's -c form), if any.
  [[nodiscard]] std::string conninfo(const std::string& dbname = "postgres", const std::string& options = "") const;
  /// "PostgreSQL 15.18 (temp cluster)".
  [[nodiscard]] std::string describe() const;
  /// JSON form written to state files.
  [[nodiscard]] nlohmann::json to_json() const;
  /// Reads the JSON form; throws input_error when a field is missing.
  static server_info from_json(const nlohmann::json& j);
};

/// Settings for starting a server, read from the environment by default.
struct server_options {
  std::string kind = "auto";               ///< PGMT_SERVER: auto | temp | container | external
  std::filesystem::path bindir;            ///< PGMT_PG_BINDIR, empty to search
  bool tcp = false;                        ///< PGMT_TCP=1: also listen on 127.0.0.1
  std::chrono::seconds start_timeout{60};  ///< PGMT_START_TIMEOUT seconds
  std::string keep = "0";                  ///< PGMT_KEEP: 0 | 1 | on-failure
  pid_t owner = 0;                         ///< process whose death frees the server; 0: this one
  /// name=value settings (SERVER_SETTINGS) a temp cluster or container starts
  /// with; an external server keeps its own.
  std::vector<std::string> settings;

  /// Options from PGMT_* environment variables.
  static server_options from_environment();
};

/// A running server owned by this process.
class server {
 public:
  server(server_info info, server_options opts, bool own_child);
  server(const server&) = delete;
  server& operator=(const server&) = delete;
  /// Stops the server unless detach() was called.
  ~server();

  /// Where and how to connect.
  [[nodiscard]] const server_info& info() const noexcept { return info_; }
  /// Immediate shutdown; the folder is removed unless PGMT_KEEP says otherwise.
  /// Returns the folder when it was kept, else an empty path.
  std::filesystem::path stop(bool run_failed = false);
  /// Leaves the server running after this object is gone (pgmt server start).
  void detach() noexcept;
  /// When the server stopped without being asked (killed, crashed): "the
  /// server stopped (signal 9)" and the end of its log; nullopt while it runs
  /// (always for an external server, which pgmt cannot watch).
  [[nodiscard]] std::optional<std::string> stopped_unasked();
  /// What starting the server did that the user hears of (databases of killed
  /// runs removed), one line each, already printed on stderr.
  [[nodiscard]] const std::vector<std::string>& notes() const noexcept { return notes_; }
  /// Adds a line to notes().
  void add_note(std::string line) { notes_.push_back(std::move(line)); }

 private:
  server_info info_;
  server_options opts_;
  std::vector<std::string> notes_;
  bool own_child_;
  bool detached_ = false;
  bool stopped_ = false;
  std::optional<int> exit_status_;  ///< the postmaster's wait status, once reaped
};

/// Starts a server of the kind opts asks for. Throws harness_error when none
/// can be started, saying what to install.
std::unique_ptr<server> start_server(const server_options& opts);

/// The parameters of a libpq connection URL or string; harness_error (with
/// the password masked) when it does not parse.
std::map<std::string, std::string> parse_connection_url(const std::string& url);

/// Stops a server described by a state file written by another process.
/// Returns the folder when it was kept.
std::filesystem::path stop_server(const server_info& info, const server_options& opts, bool run_failed);

/// The folder holding PostgreSQL's server binaries (initdb, postgres).
/// Throws harness_error listing where it looked.
std::filesystem::path find_pg_bindir(const std::filesystem::path& preferred = {});

/// Removes servers left behind by runs that were killed; returns how many.
int remove_abandoned_servers();

/// The folder under which temp clusters live (PGMT_RUNTIME_DIR or $TMPDIR/pgmt-<uid>).
std::filesystem::path runtime_root();

/// On SIGINT, SIGTERM or SIGHUP, stop every server this process owns, then exit
/// with 128 + the signal. SIGPIPE is ignored, so a closed output (`| head`) loses
/// output but still lets pgmt stop its servers. Call once, early in main,
/// before other threads start.
void install_signal_cleanup();

/// Returns rc, unless a signal is being handled: then waits for the handler to
/// end the process, so its exit code (128 + signal) is the one that counts.
int finish(int rc);

/// The harness could not run (no server, a broken environment): exit code 2.
class harness_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Writes info to a state file atomically.
void write_state_file(const std::filesystem::path& path, const server_info& info);
/// Reads a state file; throws harness_error when it is missing or broken.
server_info read_state_file(const std::filesystem::path& path);

}  // namespace pgmt
