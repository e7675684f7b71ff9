#include "pgmt/state.hpp"

#include "pgmt/pg.hpp"
#include "pgmt/pgtap.hpp"
#include "pgmt/profiles.hpp"
#include "pgmt/server.hpp"
#include "pgmt/snapshot.hpp"
#include "pgmt/text.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>

namespace pgmt {

namespace {

std::string lock_key(const std::string& name) {
  return std::to_string(std::stoll(sha256_hex("pgmt-lock:" + name).substr(0, 15), nullptr, 16));
}

// RAII session-level advisory lock on the maintenance connection.
class advisory_lock {
 public:
  advisory_lock(connection& c, const std::string& name) : c_(c), key_(lock_key(name)) {
    c_.exec("select pg_advisory_lock(" + key_ + ")");
  }
  /// Takes the lock only if it is free; held() says whether it did.
  advisory_lock(connection& c, const std::string& name, std::try_to_lock_t) : c_(c), key_(lock_key(name)) {
    held_ = c_.exec("select pg_try_advisory_lock(" + key_ + ")").value(0, 0) == "t";
  }
  [[nodiscard]] bool held() const noexcept { return held_; }
  ~advisory_lock() {
    if (!held_) return;
    try {
      c_.exec("select pg_advisory_unlock(" + key_ + ")");
    } catch (...) {
      // The lock goes with the session if this fails.
    }
  }
  advisory_lock(const advisory_lock&) = delete;
  advisory_lock& operator=(const advisory_lock&) = delete;

 private:
  connection& c_;
  std::string key_;
  bool held_ = true;
};

// Records when a state was last used, as its database's comment (kept in a
// shared catalog: no connection to the template is needed, no table of ours).
void touch(connection& maint, const std::string& name) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  try {
    maint.exec("comment on database \"" + name + "\" is 'pgmt state, used " + std::to_string(us) + "'");
  } catch (const sql_error&) {
    // Evicted meanwhile: nothing to record.
  }
}

// A LIKE pattern matching names that start with prefix.
std::string like_prefix(const std::string& prefix) {
  std::string out;
  for (char ch : prefix) {
    if (ch == '_' || ch == '%' || ch == '\\') out += '\\';
    out += ch;
  }
  return out;
}

bool missing_database(const sql_error& e) { return e.sqlstate() == "3D000"; }

// CREATE DATABASE fails while another session is still leaving the template; retry briefly.
void create_database(connection& maint, const std::string& sql) {
  for (int attempt = 0;; ++attempt) {
    try {
      maint.exec(sql);
      return;
    } catch (const object_in_use&) {
      if (attempt >= 20) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

// Unique within the process (several caches may live in one); the pid makes it unique on the server.
std::string scratch_name(const std::string& prefix, std::string_view purpose) {
  static std::atomic<unsigned> counter{0};
  return prefix + "c_" + std::string(purpose).substr(0, 20) + "_" + std::to_string(getpid()) + "_" +
         std::to_string(++counter);
}

}  // namespace

sequence_values read_sequence_values(connection& conn) {
  // pg_sequence_last_value() is cheap but NULL for a sequence nextval() has
  // not used since its last setval(..., false) or creation; only those are read
  // whole (one small query each through query_to_xml: a UNION ALL of them all
  // takes far longer to plan than to run).
  result r = conn.exec_prepared(
      "select c.oid::regclass::text, v.last_value::text, case when v.last_value is null then (select "
      "(xpath('/row/last_value/text()', x))[1]::text from query_to_xml(format('select last_value from %s', "
      "c.oid::regclass), false, true, '') x) end from pg_class c, lateral (select "
      "pg_sequence_last_value(c.oid) as last_value) v where c.relkind = 'S'");
  sequence_values out;
  for (int i = 0; i < r.rows(); ++i)
    out[r.value(i, 0)] = r.is_null(i, 1) ? std::pair<std::string, std::string>{r.value(i, 2), "false"}
                                         : std::pair<std::string, std::string>{r.value(i, 1), "true"};
  return out;
}

void set_sequences_back(connection& conn, const sequence_values& was) {
  for (const auto& [seq, now] : read_sequence_values(conn)) {
    auto it = was.find(seq);
    if (it != was.end() && it->second != now)
      conn.exec_params("select pg_catalog.setval($1::regclass, $2::bigint, $3::boolean)",
                       {seq, it->second.first, it->second.second});
  }
}

state_error::state_error(std::size_t k, std::string culprit, diagnostic d)
    : std::runtime_error(d.headline()), k_(k), culprit_(std::move(culprit)), diag_(std::move(d)) {}

void ensure_tracking_table(connection& conn) {
  conn.exec(
      "create schema if not exists pgmt;"
      "comment on schema pgmt is 'pgmt migration tracking';"
      "create table if not exists pgmt.migrations ("
      "  version text primary key,"
      "  name text not null,"
      "  checksum text not null,"
      "  applied_at timestamptz not null default clock_timestamp(),"
      "  duration_ms double precision not null)");
}

run_stats apply_migration(connection& conn, const migration& m, const suite& s, bool nested, bool count_writes,
                          bool again, bool trace) {
  run_options opts;
  opts.trace = trace;
  opts.nested = nested;
  opts.count_writes = count_writes;
  opts.shared_server = s.shared_server;
  opts.drop_created_databases = !again;
  opts.statement_timeout = s.statement_timeout;
  opts.lock_timeout = s.lock_timeout;
  opts.label = "migration \"" + m.id() + "\"";
  const auto t0 = std::chrono::steady_clock::now();
  opts.before_commit = [&m, t0](connection& c) {
    std::chrono::duration<double, std::milli> ms = std::chrono::steady_clock::now() - t0;
    // In the same round trip: on pgmt's own servers, its role must still be
    // a superuser (a demotion by dynamic SQL is only seen once it has run).
    result r = c.exec_params(
        "with recorded as (insert into pgmt.migrations (version, name, checksum, duration_ms) "
        "values ($1, $2, $3, $4) "
        "on conflict (version) do update set name = excluded.name, checksum = excluded.checksum, "
        "applied_at = clock_timestamp(), duration_ms = excluded.duration_ms returning 1) "
        "select session_user <> $5 or (select rolsuper from pg_catalog.pg_roles where rolname = session_user) "
        "from recorded",
        {m.version, m.name, m.checksum(), std::to_string(ms.count()), own_role});
    if (r.rows() == 1 && r.value(0, 0) == "f") {
      diagnostic d = diagnostic_at(m.up, 0,
                                   "after this migration the role the migrations run as, pgmt's own \"" +
                                       std::string(own_role) +
                                       "\", is no longer a superuser: a statement demoted it (ALTER ROLE run "
                                       "as dynamic SQL, in a DO block or a function)");
      d.hint = "alter roles by their own name; on pgmt's servers \"postgres\" is an ordinary superuser that "
               "migrations may alter, demote or drop";
      throw script_error(d);
    }
  };
  opts.skip_statement = profile_statement_filter(s.profile, conn);
  return run_script(conn, m.up, opts);
}

void run_sources(connection& conn, const std::vector<sql_source>& sources, const suite& s, const char* what) {
  for (const auto& src : sources) {
    run_options opts;
    opts.statement_timeout = s.statement_timeout;
    opts.lock_timeout = s.lock_timeout;
    opts.label = std::string(what) + " \"" + display_path(src.path) + "\"";
    opts.shared_server = s.shared_server;
    run_script(conn, src, opts);
  }
}

state_cache::state_cache(server_info server, suite s, migration_set set)
    : server_(std::move(server)), suite_(std::move(s)), set_(std::move(set)) {
  suite_.shared_server = server_.kind == "external";
  if (const char* cap = std::getenv("PGMT_MAX_STATES"); cap && *cap) {
    try {
      max_states_ = std::stoul(cap);
    } catch (...) {
      max_states_ = 0;
    }
    if (max_states_ < 2)
      throw input_error("PGMT_MAX_STATES must be a number of at least 2, not \"" + std::string(cap) + "\"");
  }
  if (const char* work = std::getenv("PGMT_WORK_DBS"); work && *work) {
    try {
      std::size_t used = 0;
      max_work_ = std::stoul(work, &used);
      if (used != std::string(work).size()) throw std::invalid_argument(work);
    } catch (...) {
      throw input_error("PGMT_WORK_DBS must be a number (0 turns work databases off), not \"" +
                        std::string(work) + "\"");
    }
  }
  // S(k) is named after everything it is made of, so an edited file never reuses a stale state.
  std::string acc = "pgmt-state-v1|options:" + suite_.session_options();
  for (const auto& f : suite_.fixture_sources(set_)) acc += "|fixture:" + migration_checksum(f.text);
  keys_.push_back(sha256_hex(acc));
  for (const auto& m : set_.migrations) {
    acc = keys_.back() + "|" + m.version + ":" + fast_fingerprint(m.up.text) +
          (m.up.no_transaction ? ":nt" : "");
    keys_.push_back(sha256_hex(acc));
  }
}

std::string state_cache::conninfo(const std::string& db) const {
  return server_.conninfo(db, suite_.session_options());
}

std::string state_cache::template_name(std::size_t k) const {
  return server_.db_prefix + "s" + std::to_string(k) + "_" + keys_.at(k).substr(0, 16);
}

std::string state_cache::create_db_sql(const std::string& name, const std::string& from) const {
  std::string sql = "create database \"" + name + "\" template \"" + from + "\"";
  if (from == "template0")
    sql += " encoding 'UTF8' lc_collate 'C' lc_ctype 'C'";
  else if (server_.version_num >= 150000)
    sql += " strategy file_copy";
  return sql;
}

bool state_cache::complete(connection& maint, const std::string& name) {
  auto r = maint.exec_params("select datistemplate from pg_database where datname = $1", {name});
  return r.rows() == 1 && r.value(0, 0) == "t";
}

std::string state_cache::ensure(std::size_t k) {
  if (k >= keys_.size()) throw input_error("no state " + std::to_string(k) + " in this suite");
  connection maint(server_.conninfo("postgres"));
  // Find the highest state at or below k that exists, then build upwards from it.
  std::set<std::string> done;
  auto r = maint.exec_params("select datname from pg_database where datistemplate and datname like $1",
                             {like_prefix(server_.db_prefix) + "s%"});
  for (int i = 0; i < r.rows(); ++i) done.insert(r.value(i, 0));
  std::size_t from = k + 1;
  for (std::size_t j = k + 1; j-- > 0;) {
    if (done.count(template_name(j))) {
      from = j;
      break;
    }
  }
  if (from == k) return template_name(k);
  // S(k) straight from the highest state below it: the states in between
  // would each cost a copy of the whole schema, and most are never cloned.
  if (from == k + 1) build(0, std::nullopt);
  if (k > 0) build(k, from == k + 1 ? 0 : from);
  return template_name(k);
}

void state_cache::build(std::size_t k, std::optional<std::size_t> below) {
  connection maint(server_.conninfo("postgres"));
  const std::string name = template_name(k);
  advisory_lock lock(maint, name);
  if (complete(maint, name)) return;
  maint.exec("drop database if exists \"" + name + "\"");  // a half-built one from a killed run
  for (int attempt = 0;; ++attempt) {
    try {
      create_database(maint, create_db_sql(name, below ? template_name(*below) : "template0"));
      if (below) touch(maint, template_name(*below));
      break;
    } catch (const sql_error& e) {
      // The state below was evicted after we looked: build it again.
      if (!missing_database(e) || attempt >= 3 || !below) throw;
      ensure(*below);
    }
  }
  std::size_t at = below ? *below + 1 : 0;
  try {
    connection c(conninfo(name));
    catalog_reader reader(c);
    reader.trust_reports();  // a fresh clone of the state below
    if (!below) {
      ensure_tracking_table(c);
      run_sources(c, suite_.fixture_sources(set_), suite_, "fixture");
      reader.wrote(std::nullopt);
    } else {
      for (; at <= k; ++at) reader.wrote(apply_migration(c, set_.migrations[at - 1], suite_));
    }
    // Clones of the state start from its catalog, so checks re-read only what they change.
    reader.store();
  } catch (const script_error& e) {
    drop(name);
    throw state_error(at, at == 0 ? "fixtures" : set_.migrations[at - 1].id(), e.diag());
  } catch (...) {
    drop(name);
    throw;
  }
  maint.exec("alter database \"" + name + "\" with is_template true allow_connections false");
  touch(maint, name);
  evict(maint);
}

std::string state_cache::clone(std::size_t k, std::string_view purpose) {
  std::string name = scratch_name(server_.db_prefix, purpose);
  for (int attempt = 0;; ++attempt) {
    std::string from = ensure(k);
    connection maint(server_.conninfo("postgres"));
    try {
      create_database(maint, create_db_sql(name, from));
      touch(maint, from);
      return name;
    } catch (const sql_error& e) {
      if (!missing_database(e) || attempt >= 3) throw;  // evicted after ensure(): again
    }
  }
}

void state_cache::evict(connection& maint) {
  advisory_lock lock(maint, "pgmt-evict");
  result r = maint.exec_params(
      "select datname, coalesce(substring(shobj_description(oid, 'pg_database') from 'used ([0-9]+)'), "
      "'0')::bigint "
      "from pg_database where datistemplate and datname like $1 order by 2, 1",
      {like_prefix(server_.db_prefix) + "s%"});
  int excess = r.rows() - static_cast<int>(max_states_);
  for (int i = 0; i < r.rows() && excess > 0; ++i) {
    const std::string name = r.value(i, 0);
    advisory_lock busy(maint, name, std::try_to_lock);  // being built or adopted: leave it
    if (!busy.held()) continue;
    drop(name);
    --excess;
  }
}

std::string state_cache::clone_final(std::string_view purpose) {
  const std::size_t n = set_.migrations.size();
  std::string acc = keys_.back() + "|final";
  for (const auto& src : suite_.seed_sources(set_)) acc += "|seed:" + migration_checksum(src.text);
  const std::string final_name = server_.db_prefix + "f_" + sha256_hex(acc).substr(0, 16);
  {
    connection maint(server_.conninfo("postgres"));
    advisory_lock lock(maint, final_name);
    if (!complete(maint, final_name)) {
      maint.exec("drop database if exists \"" + final_name + "\"");
      for (int attempt = 0;; ++attempt) {
        try {
          create_database(maint, create_db_sql(final_name, ensure(n)));
          break;
        } catch (const sql_error& e) {
          if (!missing_database(e) || attempt >= 3) throw;
        }
      }
      try {
        connection c(conninfo(final_name));
        run_sources(c, suite_.seed_sources(set_), suite_, "seed");
      } catch (const script_error& e) {
        drop(final_name);
        throw state_error(n, "seeds", e.diag());
      } catch (...) {
        drop(final_name);
        throw;
      }
      maint.exec("alter database \"" + final_name + "\" with is_template true allow_connections false");
    }
  }
  std::string name = scratch_name(server_.db_prefix, purpose);
  connection maint(server_.conninfo("postgres"));
  create_database(maint, create_db_sql(name, final_name));
  return name;
}

std::string state_cache::clone_pgtap(std::string_view purpose) {
  const std::size_t n = set_.migrations.size();
  std::string acc = keys_.back() + "|pgtap|" + suite_.pgtap_helpers;
  for (const auto& src : suite_.seed_sources(set_)) acc += "|seed:" + migration_checksum(src.text);
  const std::string base = server_.db_prefix + "p_" + sha256_hex(acc).substr(0, 16);
  {
    connection maint(server_.conninfo("postgres"));
    advisory_lock lock(maint, base);
    if (!complete(maint, base)) {
      maint.exec("drop database if exists \"" + base + "\"");
      create_database(maint, create_db_sql(base, "template0"));
      std::string culprit = "fixtures";
      std::size_t at = 0;
      try {
        connection c(conninfo(base));
        ensure_tracking_table(c);
        run_sources(c, suite_.fixture_sources(set_), suite_, "fixture");
        // Before the migrations: a migration that revokes EXECUTE from PUBLIC
        // by default would otherwise leave pgTAP's functions unusable.
        culprit = "pgtap";
        sql_source ext;
        ext.path = "pgTAP set-up";
        ext.text = suite_.profile == "supabase"
                       ? "create extension if not exists pgtap with schema extensions"
                       : "create extension if not exists pgtap";
        if (suite_.pgtap_helpers == "supabase") ext.text += ";\n" + supabase_test_helpers_sql();
        run_sources(c, {ext}, suite_, "pgTAP set-up");
        for (const auto& m : set_.migrations) {
          culprit = m.id();
          ++at;
          apply_migration(c, m, suite_);
        }
        culprit = "seeds";
        run_sources(c, suite_.seed_sources(set_), suite_, "seed");
      } catch (const script_error& e) {
        drop(base);
        throw state_error(at, culprit, e.diag());
      } catch (...) {
        drop(base);
        throw;
      }
      maint.exec("alter database \"" + base + "\" with is_template true allow_connections false");
    }
  }
  (void)n;
  std::string name = scratch_name(server_.db_prefix, purpose);
  connection maint(server_.conninfo("postgres"));
  create_database(maint, create_db_sql(name, base));
  return name;
}

std::string state_cache::create_empty(std::string_view purpose) {
  std::string name = scratch_name(server_.db_prefix, purpose);
  connection maint(server_.conninfo("postgres"));
  create_database(maint, create_db_sql(name, "template0"));
  return name;
}

bool state_cache::adopt(std::size_t k, const std::string& db) {
  connection maint(server_.conninfo("postgres"));
  const std::string name = template_name(k);
  advisory_lock lock(maint, name);
  if (complete(maint, name)) return false;
  maint.exec("drop database if exists \"" + name + "\"");
  for (int attempt = 0;; ++attempt) {
    try {
      maint.exec("alter database \"" + db + "\" rename to \"" + name + "\"");
      break;
    } catch (const object_in_use&) {
      if (attempt >= 20) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  maint.exec("alter database \"" + name + "\" with is_template true allow_connections false");
  touch(maint, name);
  evict(maint);
  return true;
}

void state_cache::drop(const std::string& db) {
  try {
    connection maint(server_.conninfo("postgres"));
    maint.exec("alter database \"" + db + "\" is_template false");
  } catch (...) {
    // It may not exist.
  }
  connection maint(server_.conninfo("postgres"));
  if (server_.version_num >= 130000)
    maint.exec("drop database if exists \"" + db + "\" with (force)");
  else
    maint.exec("drop database if exists \"" + db + "\"");
}

void state_cache::keep_template(std::size_t k, const std::string& db) {
  connection maint(server_.conninfo("postgres"));
  const std::string state = template_name(k);
  advisory_lock building(maint, state);
  if (complete(maint, state)) return;
  maint.exec("drop database if exists \"" + state + "\"");
  create_database(maint, create_db_sql(state, db));
  maint.exec("alter database \"" + state + "\" with is_template true allow_connections false");
  touch(maint, state);
  evict(maint);
}

std::string state_cache::work_comment(std::size_t k) const {
  return "pgmt work " + keys_.at(k).substr(0, 16) + " " + std::to_string(k);
}

std::unique_ptr<work_lease> state_cache::lease(std::size_t k) {
  if (max_work_ == 0 || k >= keys_.size()) return nullptr;
  auto maint = std::make_unique<connection>(server_.conninfo("postgres"));
  result r = maint->exec_params(
      "select datname, coalesce(shobj_description(oid, 'pg_database'), '') from pg_database where datname "
      "like $1",
      {like_prefix(server_.db_prefix) + "w\\_%"});
  std::vector<std::pair<std::size_t, std::string>> usable;  // (state, name)
  for (int i = 0; i < r.rows(); ++i) {
    const std::string comment = r.value(i, 1);
    const std::size_t space = comment.rfind(' ');
    if (comment.rfind("pgmt work ", 0) != 0 || space == std::string::npos) continue;
    std::size_t at = 0;
    try {
      at = std::stoul(comment.substr(space + 1));
    } catch (...) {
      continue;
    }
    if (at <= k && k - at <= checkpoint_every && at < keys_.size() && comment == work_comment(at))
      usable.emplace_back(at, r.value(i, 0));
  }
  std::sort(usable.rbegin(), usable.rend());
  for (const auto& [at, name] : usable) {
    if (maint->exec("select pg_try_advisory_lock(" + lock_key(name) + ")").value(0, 0) != "t") continue;
    // Another check may have moved it between the listing and the lock.
    result now = maint->exec_params(
        "select coalesce(shobj_description(oid, 'pg_database'), '') from pg_database where datname = $1",
        {name});
    if (now.rows() != 1 || now.value(0, 0) != work_comment(at)) {
      maint->exec("select pg_advisory_unlock(" + lock_key(name) + ")");
      continue;
    }
    maint->exec("comment on database \"" + name + "\" is 'pgmt work busy'");
    auto lease = std::make_unique<work_lease>(*this, name, at, std::move(maint));
    walk(*lease, k);
    return lease;
  }
  if (static_cast<std::size_t>(r.rows()) >= max_work_) {
    // Make room: drop one that no check holds and this one cannot use (another
    // suite's, or past k, or far below it).
    bool room = false;
    for (int i = 0; i < r.rows() && !room; ++i) {
      const std::string name = r.value(i, 0);
      if (std::any_of(usable.begin(), usable.end(), [&](const auto& u) { return u.second == name; }))
        continue;
      advisory_lock busy(*maint, name, std::try_to_lock);
      if (!busy.held()) continue;
      drop(name);
      room = true;
    }
    if (!room) return nullptr;
  }
  // A new one, cloned from the highest state at or below k that exists (at
  // worst S(0)) and walked up to k.
  static std::atomic<unsigned> counter{0};
  const std::string name =
      server_.db_prefix + "w_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
  maint->exec("select pg_advisory_lock(" + lock_key(name) + ")");
  std::size_t from = 0;
  for (int attempt = 0;; ++attempt) {
    try {
      std::set<std::string> done;
      result t = maint->exec_params("select datname from pg_database where datistemplate and datname like $1",
                                    {like_prefix(server_.db_prefix) + "s%"});
      for (int i = 0; i < t.rows(); ++i) done.insert(t.value(i, 0));
      from = 0;
      for (std::size_t j = k + 1; j-- > 0;)
        if (done.count(template_name(j))) {
          from = j;
          break;
        }
      create_database(*maint, create_db_sql(name, ensure(from)));
      touch(*maint, template_name(from));
      break;
    } catch (const sql_error& e) {
      if (!missing_database(e) || attempt >= 3) throw;  // evicted after we looked: again
    }
  }
  maint->exec("comment on database \"" + name + "\" is 'pgmt work busy'");
  auto lease = std::make_unique<work_lease>(*this, name, from, std::move(maint));
  walk(*lease, k);
  return lease;
}

void state_cache::walk(work_lease& lease, std::size_t k) {
  if (lease.state() >= k) return;
  catalog_reader reader(lease.conn());
  reader.trust_reports();  // its stored catalog is its state's
  for (std::size_t i = lease.state() + 1; i <= k; ++i) {
    const migration& m = set_.migrations[i - 1];
    try {
      reader.wrote(apply_migration(lease.conn(), m, suite_));
    } catch (const script_error& e) {
      // A migration in one transaction left nothing behind: the database is still at i - 1.
      if (plan_script(m.up).mode == tx_mode::single_transaction) lease.give_back();
      throw state_error(i, m.id(), e.diag());
    }
    lease.advanced_to(i);
  }
  reader.store();
}

work_lease::work_lease(state_cache& cache, std::string name, std::size_t k, std::unique_ptr<connection> maint)
    : cache_(cache), name_(std::move(name)), k_(k), maint_(std::move(maint)) {
  conn_ = std::make_unique<connection>(cache_.conninfo(name_));
  sequences_ = read_sequences();
}

work_lease::~work_lease() {
  if (given_back_) return;
  conn_.reset();
  try {
    cache_.drop(name_);
  } catch (...) {
    // The server is disposable; a leftover database goes with it.
  }
}

void work_lease::advanced_to(std::size_t k) {
  k_ = k;
  sequences_ = read_sequences();  // a committed migration moves them for good
}

std::map<std::string, std::pair<std::string, std::string>> work_lease::read_sequences() {
  return read_sequence_values(*conn_);
}

void work_lease::give_back() {
  if (given_back_) return;
  if (conn_->transaction_status() != tx_status::idle) conn_->exec("rollback");
  set_sequences_back(*conn_, sequences_);  // nextval() is not undone by a rollback
  conn_.reset();
  // Now and then, a template of the state reached: a database that has to
  // start from a state no work database can reach walks from there.
  if (k_ % state_cache::checkpoint_every == 0 && k_ > 0) {
    const std::string state = cache_.template_name(k_);
    advisory_lock building(*maint_, state);
    if (!cache_.complete(*maint_, state)) {
      maint_->exec("drop database if exists \"" + state + "\"");
      create_database(*maint_, cache_.create_db_sql(state, name_));
      maint_->exec("alter database \"" + state + "\" with is_template true allow_connections false");
      touch(*maint_, state);
      cache_.evict(*maint_);
    }
  }
  maint_->exec("comment on database \"" + name_ + "\" is '" + cache_.work_comment(k_) + "'");
  maint_.reset();  // and with it the advisory lock
  given_back_ = true;
}

}  // namespace pgmt
