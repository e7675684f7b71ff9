// The external server (PGMT_SERVER=external, PGMT_DATABASE_URL): an existing
// server where pgmt creates and drops only databases of its own, each run's
// named "pgmt_<run>_...". A run first creates an empty database whose name
// says who owns the run, "pgmt_<run>_o_<host>_<pid>_<start>", and drops it
// after all the others: when the owner is killed, the next run on its host
// sees that the process is gone and drops the run's databases. The owner is
// in the name, not in a comment, because a name comes with the database in
// one statement: an owner killed during CREATE DATABASE leaves no database
// that no one can judge.
#include "server_kinds.hpp"

#include "pgmt/pg.hpp"
#include "pgmt/process.hpp"
#include "pgmt/text.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <vector>

namespace fs = std::filesystem;

namespace pgmt::detail {

namespace {

// This host as an owner's database names it: 8 hex digits of its name, its
// boot and its PID namespace, so that a process ID is only looked up where it
// names the same process: not on another machine or container of the same
// name, nor after a reboot.
const std::string& host_id() {
  static const std::string id = [] {
    char name[256] = {};
    gethostname(name, sizeof name - 1);
    std::string boot;
    std::ifstream("/proc/sys/kernel/random/boot_id") >> boot;
    std::error_code ec;
    const std::string pid_namespace = fs::read_symlink("/proc/self/ns/pid", ec).string();
    return sha256_hex(std::string(name) + "\n" + boot + "\n" + pid_namespace).substr(0, 8);
  }();
  return id;
}

std::string host_name() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

// Whether the process that owned a run is gone. A process that lives but
// whose start time cannot be read (another user's, under hidepid) may be the
// owner: not gone.
bool owner_gone(pid_t pid, unsigned long long start) {
  if (!process_alive(pid)) return true;
  if (start == 0) return false;
  const auto now = process_start_time(pid);
  return now && *now != start;
}

// What dropping a run's databases did.
struct dropped {
  int count = 0;
  std::string failure;  // the first error, or ""
};

// Drops one database of ours, sessions and all (WITH (FORCE), PostgreSQL 13
// and later). False when it was gone already (another run dropped it).
bool drop_database(connection& c, const std::string& name, bool is_template, int version_num) {
  try {
    if (is_template) c.exec("alter database " + c.quote_ident(name) + " is_template false");
    c.exec("drop database " + c.quote_ident(name) + (version_num >= 130000 ? " with (force)" : ""));
    return true;
  } catch (const sql_error& e) {
    if (e.sqlstate() == "3D000") return false;
    throw;
  }
}

// Drops the databases of the run whose names start with prefix, the owner's
// last, so that a run stopped halfway is still found by the next; with keep,
// only the owner's, so that no run ever drops the others.
dropped drop_run(connection& c, const std::string& prefix, int version_num, bool keep) {
  result r = c.exec_params(
      "select datname, datistemplate from pg_catalog.pg_database where left(datname, length($1)) = $1 "
      "order by 1",
      {prefix});
  std::vector<std::pair<std::string, bool>> owners, others;
  for (int i = 0; i < r.rows(); ++i) {
    const std::string name = r.value(i, 0);
    (name.compare(0, prefix.size() + 2, prefix + "o_") == 0 ? owners : others)
        .emplace_back(name, r.value(i, 1) == "t");
  }
  dropped out;
  auto drop = [&](const std::pair<std::string, bool>& db) {
    try {
      if (drop_database(c, db.first, db.second, version_num)) ++out.count;
    } catch (const pg_error& e) {
      if (out.failure.empty()) out.failure = e.what();
    }
  };
  if (!keep) std::for_each(others.begin(), others.end(), drop);
  if (out.failure.empty()) std::for_each(owners.begin(), owners.end(), drop);
  return out;
}

// Drops the databases of runs whose owner was a process of this host that is
// gone, and whose databases this role may drop (it owns them, or is a member
// of the role that does). Returns what it did in one line, or "".
std::string remove_killed_runs(connection& c, int version_num) {
  static const std::regex owner_name("^(pgmt_[0-9a-f]{8}_)o_([0-9a-f]{8})_([0-9]+)_([0-9]+)$");
  result r = c.exec(
      "select datname from pg_catalog.pg_database where datname ~ "
      "'^pgmt_[0-9a-f]{8}_o_[0-9a-f]{8}_[0-9]+_[0-9]+$' and pg_catalog.pg_has_role(datdba, 'MEMBER') "
      "order by 1");
  std::string runs, failure;
  int count = 0, killed = 0;
  for (int i = 0; i < r.rows(); ++i) {
    const std::string name = r.value(i, 0);
    std::smatch m;
    if (!std::regex_match(name, m, owner_name) || m[2] != host_id()) continue;
    const pid_t pid = static_cast<pid_t>(std::strtol(m[3].str().c_str(), nullptr, 10));
    if (!owner_gone(pid, std::strtoull(m[4].str().c_str(), nullptr, 10))) continue;
    const dropped d = drop_run(c, m[1], version_num, false);
    count += d.count;
    ++killed;
    runs += (runs.empty() ? "" : ", ") + m[1].str() + "* (pid " + m[3].str() + ")";
    if (failure.empty()) failure = d.failure;
  }
  if (killed == 0) return "";
  std::replace(failure.begin(), failure.end(), '\n', ' ');
  return "pgmt: removed " + std::to_string(count) + " database" + (count == 1 ? "" : "s") + " of " +
         std::to_string(killed) + " killed run" + (killed == 1 ? "" : "s") +
         " on this host from the server: " + runs + (failure.empty() ? "" : "; some remain: " + failure);
}

}  // namespace

std::unique_ptr<server> start_external(const server_options& opts) {
  const char* url = std::getenv("PGMT_DATABASE_URL");
  if (!url || !*url)
    throw harness_error(
        "PGMT_SERVER=external needs PGMT_DATABASE_URL, the connection URL of an existing server "
        "(postgresql://user:password@host:5432/postgres)");
  auto params = parse_connection_url(url);
  const std::string masked = mask_password(url);
  server_info info;
  info.kind = "external";
  info.maintenance_db = params.count("dbname") ? params["dbname"] : "postgres";
  params.erase("password");
  params.erase("dbname");
  info.params = params;
  info.host = params.count("host") ? params["host"] : (params.count("hostaddr") ? params["hostaddr"] : "");
  info.port = params.count("port") ? std::atoi(params["port"].c_str()) : 5432;
  const pid_t owner = opts.owner ? opts.owner : getpid();
  const unsigned long long owner_start = process_start_time(owner).value_or(0);
  std::string removed;
  std::vector<std::string> info_notes;
  try {
    connection c(info.conninfo(info.maintenance_db));
    result who = c.exec(
        "select current_user, rolsuper, rolcreatedb, rolcreaterole, current_setting('server_version'), "
        "current_setting('server_version_num') from pg_roles where rolname = current_user");
    info.user = who.value(0, 0);
    info.version = who.value(0, 4);
    info.version = info.version.substr(0, info.version.find(' '));
    info.version_num = std::atoi(who.value(0, 5).c_str());
    const bool super = who.value(0, 1) == "t";
    if (!super && who.value(0, 2) != "t")
      throw harness_error("the role \"" + info.user + "\" of PGMT_DATABASE_URL (" + masked +
                          ") lacks CREATEDB, and pgmt creates a database for every test: ALTER ROLE \"" +
                          info.user + "\" CREATEDB, or connect as a role that has it");
    if (!super) {
      // What the role cannot do, said once as a whole: the migrations run as it.
      std::string cannot =
          "event triggers, untrusted languages and C functions, extensions that are not trusted, ALTER SYSTEM, "
          "roles with SUPERUSER, REPLICATION or BYPASSRLS, COPY to or from the server's files";
      if (who.value(0, 3) != "t") cannot += ", CREATE ROLE, ALTER ROLE and DROP ROLE";
      cannot += ", SET ROLE to a role it is not a member of (row level security checks become their users)";
      info_notes.push_back("the role \"" + info.user + "\" of PGMT_DATABASE_URL is not a superuser" +
                           (who.value(0, 3) != "t" ? " and lacks CREATEROLE" : "") +
                           ", and the migrations, fixtures and checks run as it: on this server they cannot use " +
                           cannot + "; pgmt's own server (PGMT_SERVER=temp, the default, or container) runs them "
                                    "as a superuser");
      std::cerr << "pgmt: note: " << info_notes.back() << std::endl;
    }
    removed = remove_killed_runs(c, info.version_num);
    if (!removed.empty()) std::cerr << removed << std::endl;
    info.db_prefix = "pgmt_" + random_hex(8) + "_";
    // Before any other database of the run, so that each has an owner to judge it by.
    const std::string owner_db =
        info.db_prefix + "o_" + host_id() + "_" + std::to_string(owner) + "_" + std::to_string(owner_start);
    c.exec("create database " + c.quote_ident(owner_db) + " template template0 allow_connections false");
    register_server(info, false, opts.keep);  // a signal drops this run's databases
    try {
      c.exec("comment on database " + c.quote_ident(owner_db) + " is " +
             c.quote_literal("pgmt: the run of pid " + std::to_string(owner) + " on host " + host_name() +
                             "; the next pgmt run there drops the databases " + info.db_prefix +
                             "* once that process is gone"));
    } catch (const pg_error&) {
      // For people only: the name says it all.
    }
  } catch (const pg_error& e) {
    throw harness_error("could not use the server of PGMT_DATABASE_URL (" + masked +
                        "): " + mask_password_in(e.what(), url));
  }
  auto srv = std::make_unique<server>(info, opts, false);
  if (!removed.empty()) srv->add_note(removed);
  for (auto& n : info_notes) srv->add_note(std::move(n));
  return srv;
}

void stop_external(const server_info& info, bool keep) {
  connection c(info.conninfo(info.maintenance_db));
  (void)drop_run(c, info.db_prefix, info.version_num, keep);
}

}  // namespace pgmt::detail
