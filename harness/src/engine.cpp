#include "pgmt/engine.hpp"

#include "pgmt/lint.hpp"
#include "pgmt/pg.hpp"
#include "pgmt/pgtap.hpp"
#include "pgmt/rls.hpp"
#include "pgmt/snapshot.hpp"
#include "pgmt/state.hpp"
#include "pgmt/text.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace pgmt {

namespace {

// The walk's database: S(k) for the k reached, its catalog and row counts as
// last read, and where its sequences stood.
class walk {
 public:
  explicit walk(state_cache& cache) : cache_(cache), name_(cache.create_empty("walk")) {
    conn_.emplace(cache_.conninfo(name_));
    reader_.emplace(*conn_);
    reader_->trust_reports();
  }
  ~walk() {
    reader_.reset();
    conn_.reset();
    try {
      cache_.drop(name_);
    } catch (...) {
      // The server is disposable; a leftover database goes with it.
    }
  }
  walk(const walk&) = delete;
  walk& operator=(const walk&) = delete;

  connection& conn() { return *conn_; }
  catalog_reader& reader() { return *reader_; }

  // The database holds a new state, committed: remember it.
  void settle() {
    at_.emplace(reader_->mark());
    sequences_ = read_sequence_values(*conn_);
  }

  // Back to the settled state after a transaction that is rolled back.
  void back() {
    if (conn_->transaction_status() != tx_status::idle) conn_->exec("rollback");
    reader_->restore(*at_);
    set_sequences_back(*conn_, sequences_);
  }

  // A template of the settled state, S(k), for checks that need a clone.
  void keep_template(std::size_t k) {
    reader_.reset();
    conn_.reset();  // a template is copied from a database nobody is connected to
    std::exception_ptr failure;
    try {
      cache_.keep_template(k, name_);
    } catch (...) {
      failure = std::current_exception();
    }
    conn_.emplace(cache_.conninfo(name_));
    reader_.emplace(*conn_);
    reader_->trust_reports();
    reader_->restore(*at_);
    if (failure) std::rethrow_exception(failure);
  }

  // The settled state, moved out: the caller settles a new one next.
  catalog_reader::position take_settled() {
    catalog_reader::position p = std::move(*at_);
    at_.reset();
    return p;
  }

  // The settled catalog.
  const catalog& settled() const { return at_->cat; }

 private:
  state_cache& cache_;
  std::string name_;
  std::optional<connection> conn_;
  std::optional<catalog_reader> reader_;
  std::optional<catalog_reader::position> at_;
  sequence_values sequences_;
};

check_result fixtures_failed(const state_error& e) {
  return check_result::fail({e.diag().format()}, "fixtures failed to load");
}

// The verdict of a check that needs a state the walk could not reach.
// One failure per cause: failing fixtures fail the first migration's apply
// test only; every other test that needs them is skipped naming them.
check_result unreachable(const std::string& check, const state_error& e, bool first, const suite& s,
                         const migration& m, const migration_set& set) {
  if (check == "apply" && first && e.culprit() == "fixtures") return fixtures_failed(e);
  return detail::skipped_because(e, s, m, set);
}

// Whether src changes, or may change, what every database of the server
// shares (a source pgmt cannot read counts as one that may).
bool shares_server(const sql_source& src) {
  try {
    return plan_script(src).shares_server;
  } catch (const std::exception&) {
    return true;
  }
}

// Whether src changes what new sessions start with (server_effect::changes_settings).
bool changes_settings(const sql_source& src) {
  try {
    const auto plan = plan_script(src);
    return std::any_of(plan.effects.begin(), plan.effects.end(),
                       [](const server_effect& e) { return e.changes_settings; });
  } catch (const std::exception&) {
    return false;
  }
}

// The settings new sessions start with, as the run found them: role and
// database defaults (ALTER ROLE / DATABASE ... SET). Migrations that change
// them (or ALTER SYSTEM) on pgmt's own server get them put back before a
// build from nothing, which would otherwise start with what later migrations
// set.
class server_settings {
 public:
  server_settings(const server_info& server, const suite& s, const migration_set& set) : server_(server) {
    if (s.shared_server) return;
    for (const auto& m : set.migrations)
      needed_ = needed_ || changes_settings(m.up) || (m.down && changes_settings(*m.down));
    for (const auto& src : s.fixture_sources(set)) needed_ = needed_ || changes_settings(src);
    for (const auto& src : s.seed_sources(set)) needed_ = needed_ || changes_settings(src);
    if (!needed_) return;
    connection c(server_.conninfo(server_.maintenance_db));
    result r = c.exec(
        "select setdatabase::text, setrole::text, setconfig::text from pg_catalog.pg_db_role_setting");
    for (int i = 0; i < r.rows(); ++i) rows_.push_back({r.value(i, 0), r.value(i, 1), r.value(i, 2)});
  }
  void restore() const {
    if (!needed_) return;
    connection c(server_.conninfo(server_.maintenance_db));
    c.exec("begin; delete from pg_catalog.pg_db_role_setting");
    for (const auto& row : rows_)
      c.exec_params("insert into pg_catalog.pg_db_role_setting values ($1::oid, $2::oid, $3::text[])",
                    {row[0], row[1], row[2]});
    c.exec("commit");
    c.exec("alter system reset all");
    c.exec("select pg_catalog.pg_reload_conf()");
  }

 private:
  const server_info& server_;
  bool needed_ = false;
  std::vector<std::array<std::string, 3>> rows_;
};

// What a lane spends, in units of what the walk spends on the first
// migration: walking migration i costs more as the schema grows (catalog
// reads, DDL on a larger catalog); applying a migration as it is, with no
// check and no catalog read, a fraction of that. (Measured with
// tests/bench/run.sh.)
double walk_cost(std::size_t i) { return 1.0 + static_cast<double>(i) / 300.0; }
constexpr double plain_apply_cost = 0.12;

// Where each lane starts: lane j walks [bounds[j], bounds[j + 1]). Lane 0
// builds the reset state after its part (n plain applies); lane j > 0 first
// applies bounds[j] migrations plainly. The bounds give every lane about the
// same work.
std::vector<std::size_t> lane_bounds(std::size_t n, std::size_t lanes) {
  // The bounds that fill each lane up to budget t, lane after lane.
  auto fill = [&](double t) {
    std::vector<std::size_t> bounds{0};
    std::size_t b = 0;
    for (std::size_t j = 0; j < lanes && b < n; ++j) {
      double spent = j == 0 ? plain_apply_cost * static_cast<double>(n) : plain_apply_cost * static_cast<double>(b);
      while (b < n && spent + walk_cost(b) <= t) spent += walk_cost(b++);
      if (j + 1 < lanes) bounds.push_back(b);
    }
    bounds.push_back(n);
    return std::make_pair(bounds, b);
  };
  double lo = 0, hi = plain_apply_cost * static_cast<double>(n) + walk_cost(n) * static_cast<double>(n) + 1;
  for (int it = 0; it < 50; ++it) {
    const double mid = (lo + hi) / 2;
    (fill(mid).second < n ? lo : hi) = mid;
  }
  auto bounds = fill(hi).first;
  for (std::size_t j = 1; j < bounds.size(); ++j) bounds[j] = std::max(bounds[j], bounds[j - 1]);
  return bounds;
}

}  // namespace

verdict_sink in_order(std::vector<std::string> keys, verdict_sink sink) {
  struct held {
    std::vector<std::string> keys;
    std::size_t next = 0;
    std::map<std::string, check_result> early;
  };
  auto h = std::make_shared<held>();
  h->keys = std::move(keys);
  return [h, sink = std::move(sink)](const std::string& key, const check_result& r) {
    h->early.emplace(key, r);
    while (h->next < h->keys.size()) {
      auto it = h->early.find(h->keys[h->next]);
      if (it == h->early.end()) break;
      sink(it->first, it->second);
      h->early.erase(it);
      ++h->next;
    }
  };
}

std::size_t engine::lanes() const {
  const std::size_t n = set_.migrations.size();
  // By default as many lanes as cores, up to 4, each with a part of some
  // length (its plain applies must be worth it).
  std::size_t want = std::min<std::size_t>({4, std::max(1U, std::thread::hardware_concurrency()), n / 8});
  if (const char* env = std::getenv("PGMT_WALKERS"); env && *env) {
    char* end = nullptr;
    const long v = std::strtol(env, &end, 10);
    if (*end != '\0' || v < 1 || v > 64)
      throw input_error("PGMT_WALKERS must be a number from 1 to 64, not \"" + std::string(env) + "\"");
    want = std::min(static_cast<std::size_t>(v), n);
  }
  if (want < 2) return 1;
  // Two lanes change two databases at once: never where a migration may
  // change what the server's databases share (a role one drops while the
  // other holds grants to it).
  for (const auto& m : set_.migrations)
    if (shares_server(m.up) || (m.down && shares_server(*m.down))) return 1;
  for (const auto& src : suite_.seed_sources(set_))
    if (shares_server(src)) return 1;
  return want;
}

struct engine::steps {
  std::mutex mu;
  std::map<std::thread::id, std::string> now;
};

engine::engine(server_info server, suite s, migration_set set)
    : server_(std::move(server)), suite_(std::move(s)), set_(std::move(set)), steps_(std::make_shared<steps>()) {
  suite_.shared_server = server_.kind == "external";
  if (const char* t = std::getenv("PGMT_TRACE"); t && *t) {
    const std::string v = t;
    if (v != "on" && v != "off") throw input_error("PGMT_TRACE must be on or off, not \"" + v + "\"");
    trace_ = v == "on";
  }
}

std::vector<std::string> engine::planned() const {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < set_.migrations.size(); ++i)
    for (const auto& c : checks_for(suite_, set_, i)) out.push_back(set_.migrations[i].version + "." + c);
  out.push_back("reset");
  if (!suite_.snapshot_file.empty()) out.push_back("drift");
  for (const auto& c : suite_checks(suite_, set_)) out.push_back(c);
  return out;
}

void engine::step(std::string what) const {
  std::lock_guard<std::mutex> lock(steps_->mu);
  steps_->now[std::this_thread::get_id()] = std::move(what);
}

std::string engine::where() const {
  std::string out;
  {
    std::lock_guard<std::mutex> lock(steps_->mu);
    for (const auto& [id, what] : steps_->now) out += (out.empty() ? "" : "; ") + what;
  }
  for (const auto& st : running_statements()) out += (out.empty() ? "" : "; ") + std::string("statement ") + st;
  return out.empty() ? "starting" : out;
}

void engine::run(const verdict_sink& sink, const std::atomic<bool>* stop, const error_sink& errors) {
  std::mutex given_mu;
  std::set<std::string> given;
  auto counted = [&](const std::string& key, const check_result& r) {
    {
      std::lock_guard<std::mutex> lock(given_mu);
      given.insert(key);
    }
    sink(key, r);
  };
  try {
    walk_all(counted, stop, errors);
  } catch (const pg_error& e) {
    // A lost connection: the server stopped, or something ended pgmt's
    // session (a migration that terminates other sessions). Each test still
    // without a verdict says so, once, rather than the run ending bare.
    const auto* sql = dynamic_cast<const sql_error*>(&e);
    const bool lost = dynamic_cast<const connection_error*>(&e) || (sql && sql->sqlstate().rfind("57P", 0) == 0);
    if (!lost) throw;
    std::optional<std::string> why = why_stopped_ ? why_stopped_() : std::nullopt;
    // A server killed a moment ago can still look alive: its backends see it
    // die (and drop pgmt's session) before the kernel is done with it.
    for (int i = 0; !why && why_stopped_ && i < 50; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      why = why_stopped_();
    }
    const std::string at = where();
    // The statement that may have ended pgmt's session, if a migration has one.
    std::string ender;
    for (const auto& m : set_.migrations) {
      if (!ender.empty()) break;
      try {
        const sql_source& src = m.up;
        for (const auto& eff : plan_script(src).effects)
          if (ender.empty() && eff.what.find("pg_terminate_backend") != std::string::npos) {
            const auto pos = position_of(src.text, eff.start);
            ender = display_path(src.path) + ":" + std::to_string(src.first_line + pos.line - 1) + ":" +
                    std::to_string(pos.column);
          }
      } catch (const std::exception&) {
      }
    }
    const std::string finding =
        why ? *why + "\n  note: pgmt was at " + at + " when it lost the server"
            : "pgmt lost its connection to the server while at " + at + ": " + e.what() +
                  (ender.empty() ? std::string("\n  hint: the server runs, and something ended pgmt's session")
                                 : "\n  hint: " + ender +
                                       " ends sessions (pg_terminate_backend) and may have ended pgmt's; spare the "
                                       "migration's own and pgmt's (where pid <> pg_backend_pid() and "
                                       "application_name <> 'pgmt')");
    for (const auto& key : planned())
      if (!given.count(key))
        sink(key, check_result::fail({finding}, why ? "the server stopped" : "pgmt lost its connection"));
  }
}

void engine::walk_all(const verdict_sink& sink, const std::atomic<bool>* stop, const error_sink& errors) {
  // Lanes run in threads: what they give out goes through one lock, and a
  // lane that meets the unexpected stops the others.
  std::mutex out_mu;
  std::atomic<bool> abort{false};
  auto stopping = [stop, &abort] { return abort.load() || (stop && stop->load()); };
  auto give = [&](const std::string& key, const check_result& r) {
    std::lock_guard<std::mutex> lock(out_mu);
    sink(key, r);
  };
  auto give_error = [&](const std::string& key, const std::string& message) {
    std::lock_guard<std::mutex> lock(out_mu);
    errors(key, message);
  };
  // A check that cannot run (a malformed assertion file): its test gets the
  // error and the walk goes on, when there is somewhere to send it.
  auto cannot_run = [&errors](const std::exception& e) {
    return errors && (dynamic_cast<const input_error*>(&e) || dynamic_cast<const harness_error*>(&e));
  };
  const auto extra = suite_checks(suite_, set_);
  const std::size_t n = set_.migrations.size();
  const std::size_t lane_count = lanes();
  const std::vector<std::size_t> bounds = lane_count > 1 ? lane_bounds(n, lane_count) : std::vector<std::size_t>{0, n};

  // One lane: its own cache of templates, its database, and what stops its walk.
  struct lane {
    state_cache cache;
    std::optional<walk> w;
    std::optional<state_error> blocked;
    std::optional<check_result> reset;  // built beside the other lanes
    explicit lane(state_cache c) : cache(std::move(c)) {}
  };
  const server_settings settings(server_, suite_, set_);
  std::vector<std::unique_ptr<lane>> lanes_;
  // The fixtures, one database after the other: they may create roles.
  for (std::size_t j = 0; j + 1 < bounds.size(); ++j) {
    auto& l = *lanes_.emplace_back(std::make_unique<lane>(state_cache(server_, suite_, set_)));
    l.cache.without_work_databases();
    l.w.emplace(l.cache);
    step("the fixtures");
    try {
      ensure_tracking_table(l.w->conn());
      run_sources(l.w->conn(), suite_.fixture_sources(set_), suite_, "fixture");
    } catch (const script_error& e) {
      l.blocked.emplace(0, "fixtures", e.diag());
    }
  }

  // Walks [from, to) on l, which holds S(from) once its first migrations are applied.
  auto walk_part = [&](lane& l, std::size_t from, std::size_t to) {
    walk& w = l.w.value();
    state_cache& cache = l.cache;
    std::optional<state_error>& blocked = l.blocked;
    // What each check of the current step could not get past.
    std::map<std::string, std::string> failed;
    // Runs one check's part of a step; a check that cannot run leaves the walk
    // at its settled state and an error for its test.
    auto guarded = [&](const char* check, auto part) {
      try {
        part();
      } catch (const std::exception& e) {
        if (!cannot_run(e)) throw;
        failed[check] = e.what();
        w.back();
      }
    };
    // The migrations below this lane's part, as they are: no catalog is read
    // and no check runs (other lanes judge them).
    for (std::size_t i = 0; i < from && !blocked; ++i) {
      if (stopping()) return;
      const migration& m = set_.migrations[i];
      step("migration \"" + m.id() + "\" (applied as it is, before this lane's part)");
      try {
        apply_migration(w.conn(), m, suite_, false, false);
      } catch (const script_error& e) {
        blocked.emplace(i + 1, m.id(), e.diag());
        if (w.conn().transaction_status() != tx_status::idle) w.conn().exec("rollback");
      }
    }
    if (!blocked) {
      w.reader().wrote(std::nullopt);
      w.settle();
    }

    // Runs body inside a transaction that is rolled back, back at the settled
    // state after; where it cannot run there, or fails there, fallback judges
    // it where each script commits (a clone).
    auto in_transaction = [&](auto body, auto fallback) -> check_result {
      std::optional<check_result> r;
      try {
        w.conn().exec("begin");
        r = body();
      } catch (const nesting_error&) {
      } catch (const detail::needs_own_commits&) {
      }
      w.back();
      if (r && r->outcome != check_result::status::failed) return *r;
      return fallback();
    };

    for (std::size_t i = from; i < to; ++i) {
      if (stopping()) return;
      const migration& m = set_.migrations[i];
      step("migration \"" + m.id() + "\"");
      const auto checks = checks_for(suite_, set_, i);
      std::map<std::string, check_result> out;
      auto has = [&](const char* c) { return std::find(checks.begin(), checks.end(), c) != checks.end(); };
      // A round trip with a data file loads it on S(K-1) before up: it runs
      // before K is applied. The others start from what applying K gives.
      const bool round_trip = has("roundtrip") && m.down;
      const bool data_first = round_trip && detail::has_data_file(suite_, m);

      if (has("roundtrip") && !m.down) out.emplace("roundtrip", detail::missing_down(m));
      failed.clear();
      if (!blocked && data_first)
        guarded("roundtrip", [&] {
          out.emplace("roundtrip", in_transaction(
                                       [&] { return detail::roundtrip_on(suite_, w.conn(), w.reader(), m, true); },
                                       [&] {
                                         w.keep_template(i);
                                         return check_roundtrip(cache, i);
                                       }));
        });
      // Lint: the static rules, with what tracing saw while K was applied.
      std::optional<lock_trace> traced;
      if (!blocked) {
        catalog_reader::position before = w.take_settled();  // S(K-1)
        try {
          run_stats stats = apply_migration(w.conn(), m, suite_, false, true, false, has("lint") && trace_);
          w.reader().wrote(stats);
          w.settle();
          check_result applied = detail::applied(m, stats);
          if (i == 0)  // what discovery left out, once
            for (const auto& n : set_.notes) applied.details.push_back("note: " + n);
          out.emplace("apply", std::move(applied));
          traced = std::move(stats.trace);
        } catch (const script_error& e) {
          out.emplace("apply", check_result::fail({e.diag().format()}));
          if (round_trip && !data_first)
            out.emplace("roundtrip", check_result::skip("the up script fails (" + e.diag().headline() + "); see " +
                                                        suite_.name + "." + m.version + ".apply"));
          blocked.emplace(i + 1, m.id(), e.diag());
          if (w.conn().transaction_status() != tx_status::idle) w.conn().exec("rollback");
        }
        if (!blocked && round_trip && !data_first)
          guarded("roundtrip", [&] {
            out.emplace("roundtrip", in_transaction(
                                         [&] {
                                           return detail::roundtrip_after_up(suite_, w.conn(), w.reader(), m, true,
                                                                             before.cat, before.counts(),
                                                                             w.settled(), "");
                                         },
                                         // A clone of S(K-1), built from the nearest template below.
                                         [&] { return check_roundtrip(cache, i); }));
          });
      }
      if (!blocked && has("idempotency"))
        guarded("idempotency", [&] {
          out.emplace("idempotency", in_transaction(
                                         [&] { return detail::idempotency_on(suite_, w.conn(), w.reader(), m, true); },
                                         [&] {
                                           w.keep_template(i + 1);
                                           return check_idempotency(cache, i);
                                         }));
        });
      if (!blocked && has("verify"))
        guarded("verify", [&] {
          w.keep_template(i + 1);
          out.emplace("verify", check_verify(cache, i));
        });
      if (!blocked && has("rls"))
        guarded("rls", [&] {
          rls_dir dir = scan_rls_dir(suite_.rls_dir, set_);
          rls_file f = load_rls_file(dir.by_version.at(m.version), m.version, suite_rls_users(dir, suite_.profile),
                                     suite_.profile);
          if (detail::controls_transactions(f)) {
            w.keep_template(i + 1);
            out.emplace("rls", check_rls(cache, i));
          } else {
            // The file runs in one transaction that it rolls back.
            auto findings = run_rls_file(w.conn(), f, suite_.profile);
            w.back();
            out.emplace("rls", detail::rls_result(f, findings));
          }
        });
      if (has("lint")) {
        check_result lint = check_lint(suite_, set_, i, traced ? &*traced : nullptr);
        if (!traced && trace_)
          lint.details.push_back(
              "note: not traced: " +
              std::string(blocked ? (blocked->culprit() == m.id() ? "it does not apply (see its apply test)"
                                                                  : "the state before it could not be built")
                                  : "the run that applied it could not be traced; only the static rules apply"));
        out.emplace("lint", std::move(lint));
      }
      for (const auto& c : checks) {
        if (auto e = failed.find(c); e != failed.end()) {
          give_error(m.version + "." + c, e->second);
          continue;
        }
        auto it = out.find(c);
        give(m.version + "." + c, it != out.end() ? it->second : unreachable(c, *blocked, i == 0, suite_, m, set_));
      }
    }
  };

  // Reset, unless the lane's walk could not build the chain: reset would run
  // it again to the same failure (a migration stopped at its statement_timeout
  // would take it twice). One failure per cause: skipped naming it. (Failing
  // fixtures of a set without migrations have no apply test: reset's own.)
  auto reset_of = [&](lane& l) {
    const std::optional<state_error>& stop = l.blocked;
    if (!stop || stop->culprit() == "seeds" || (stop->culprit() == "fixtures" && set_.migrations.empty()))
      return check_reset(l.cache);
    std::string why = stop->culprit() == "fixtures"
                          ? "the fixtures fail (" + stop->diag().headline() +
                                "); the apply test of the first migration reports it"
                          : "migration " + stop->culprit() + " fails (" + stop->diag().headline() + ")";
    for (const auto& m : set_.migrations)
      if (m.id() == stop->culprit()) why += "; see " + suite_.name + "." + m.version + ".apply";
    return check_result::skip(why);
  };
  if (lanes_.size() == 1) {
    walk_part(*lanes_[0], 0, n);
  } else {
    // Each lane in a thread of its own; lane 0 builds the reset state after
    // its part (no migration changes what the databases share).
    std::vector<std::exception_ptr> thrown(lanes_.size());
    std::vector<std::thread> threads;
    for (std::size_t j = 0; j < lanes_.size(); ++j)
      threads.emplace_back([&, j] {
        try {
          walk_part(*lanes_[j], bounds[j], bounds[j + 1]);
          if (j == 0 && !stopping()) {
            step("the suite check \"reset\"");
            lanes_[0]->reset.emplace(reset_of(*lanes_[0]));
          }
        } catch (...) {
          thrown[j] = std::current_exception();
          abort = true;
        }
      });
    for (auto& t : threads) t.join();
    for (auto& e : thrown)
      if (e) std::rethrow_exception(e);
  }
  if (stopping()) return;

  // The suite checks that start from the last state, on the last lane.
  lane& last_lane = *lanes_.back();
  walk& w = last_lane.w.value();
  state_cache& cache = last_lane.cache;
  const std::optional<state_error>& blocked = last_lane.blocked;
  std::map<std::string, std::string> failed;
  std::map<std::string, check_result> last;
  if (!suite_.snapshot_file.empty()) {
    if (blocked) {
      last.emplace("drift", detail::skipped_because(*blocked));
    } else {
      last.emplace("drift", detail::drift_of(suite_, w.settled().snapshot(), n));
    }
  }
  for (const auto& c : extra) {
    if (c.rfind("pgtap.", 0) == 0) continue;
    if (c == "lock") {  // files only: no state needed
      try {
        last.emplace(c, check_lock_file(suite_, set_));
      } catch (const std::exception& e) {
        if (!cannot_run(e)) throw;
        failed[c] = e.what();
      }
      continue;
    }
    if (blocked) {
      last.emplace(c, detail::skipped_because(*blocked));
      continue;
    }
    step("the suite check \"" + c + "\"");
    try {
      w.keep_template(n);
      last.emplace(c, c == "rls" ? check_rls_final(cache) : check_rls_coverage(cache));
    } catch (const std::exception& e) {
      if (!cannot_run(e)) throw;
      failed[c] = e.what();
    }
  }
  // Then the checks that build from nothing. They start only now, unless
  // lanes are allowed: roles and other objects shared by every database of
  // the server must never be changed by two migrations at once (a down that
  // drops a role while another database still has grants to it fails for no
  // fault of its own).
  step("the suite check \"reset\"");
  if (!lanes_[0]->reset) settings.restore();
  if (lanes_[0]->reset) {
    last.emplace("reset", *lanes_[0]->reset);
  } else {
    last.emplace("reset", reset_of(last_lane));
  }
  for (const auto& c : extra) {
    if (c.rfind("pgtap.", 0) != 0) continue;
    if (stopping()) return;
    step("the suite check \"" + c + "\"");
    try {
      settings.restore();
      last.emplace(c, check_pgtap(cache, c.substr(6)));
    } catch (const std::exception& e) {
      if (!cannot_run(e)) throw;
      failed[c] = e.what();
    }
  }
  if (stopping()) return;
  give("reset", last.at("reset"));
  if (last.count("drift")) give("drift", last.at("drift"));
  for (const auto& c : extra) {
    if (auto e = failed.find(c); e != failed.end())
      give_error(c, e->second);
    else
      give(c, last.at(c));
  }
}

}  // namespace pgmt
