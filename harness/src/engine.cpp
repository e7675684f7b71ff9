#include "pgmt/engine.hpp"

#include "pgmt/pg.hpp"
#include "pgmt/pgtap.hpp"
#include "pgmt/rls.hpp"
#include "pgmt/snapshot.hpp"
#include "pgmt/state.hpp"
#include "pgmt/text.hpp"

#include <exception>
#include <map>
#include <optional>

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
check_result unreachable(const std::string& check, const state_error& e) {
  if ((check == "apply" || check == "roundtrip") && e.culprit() == "fixtures") return fixtures_failed(e);
  return detail::skipped_because(e);
}

}  // namespace

engine::engine(server_info server, suite s, migration_set set)
    : server_(std::move(server)), suite_(std::move(s)), set_(std::move(set)) {}

std::vector<std::string> engine::planned() const {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < set_.migrations.size(); ++i)
    for (const auto& c : checks_for(suite_, set_, i)) out.push_back(set_.migrations[i].version + "." + c);
  out.push_back("reset");
  if (!suite_.snapshot_file.empty()) out.push_back("drift");
  for (const auto& c : suite_checks(suite_, set_)) out.push_back(c);
  return out;
}

void engine::run(const verdict_sink& sink, const std::atomic<bool>* stop, const error_sink& errors) {
  auto stopping = [stop] { return stop && stop->load(); };
  walk* w_ptr = nullptr;
  // What each check of the current step could not get past.
  std::map<std::string, std::string> failed;
  // Runs one check's part of a step; a check that cannot run leaves the walk
  // at its settled state and an error for its test.
  auto guarded = [&](const char* check, auto part) {
    try {
      part();
    } catch (const std::exception& e) {
      if (!errors || (!dynamic_cast<const input_error*>(&e) && !dynamic_cast<const harness_error*>(&e))) throw;
      failed[check] = e.what();
      if (w_ptr) w_ptr->back();
    }
  };
  const auto extra = suite_checks(suite_, set_);

  state_cache cache(server_, suite_, set_);
  cache.without_work_databases();
  walk w(cache);
  w_ptr = &w;
  std::optional<state_error> blocked;
  try {
    ensure_tracking_table(w.conn());
    run_sources(w.conn(), suite_.fixture_sources(), suite_, "fixture");
    w.reader().wrote(std::nullopt);
    w.settle();
  } catch (const script_error& e) {
    blocked.emplace(0, "fixtures", e.diag());
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

  const std::size_t n = set_.migrations.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (stopping()) return;
    const migration& m = set_.migrations[i];
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
    if (!blocked) {
      catalog_reader::position before = w.take_settled();  // S(K-1)
      try {
        run_stats stats = apply_migration(w.conn(), m, suite_);
        w.reader().wrote(stats);
        w.settle();
        out.emplace("apply", check_result::pass(detail::applied_note(m, stats)));
      } catch (const script_error& e) {
        out.emplace("apply", check_result::fail({e.diag().format()}));
        if (round_trip && !data_first) out.emplace("roundtrip", check_result::fail({e.diag().format()}, "up failed"));
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
    for (const auto& c : checks) {
      if (auto e = failed.find(c); e != failed.end()) {
        errors(m.version + "." + c, e->second);
        continue;
      }
      auto it = out.find(c);
      sink(m.version + "." + c, it != out.end() ? it->second : unreachable(c, *blocked));
    }
  }
  if (stopping()) return;

  // The suite checks that start from the last state.
  failed.clear();
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
    if (blocked) {
      last.emplace(c, detail::skipped_because(*blocked));
      continue;
    }
    failed.erase(c);
    guarded(c.c_str(), [&] {
      w.keep_template(n);
      last.emplace(c, c == "rls" ? check_rls_final(cache) : check_rls_coverage(cache));
    });
  }
  // Then the checks that build from nothing. They start only now: roles and
  // other objects shared by every database of the server must never be
  // changed by two migrations at once (a down that drops a role while
  // another database still has grants to it fails for no fault of its own).
  last.emplace("reset", check_reset(cache));
  for (const auto& c : extra) {
    if (c.rfind("pgtap.", 0) != 0) continue;
    if (stopping()) return;
    guarded(c.c_str(), [&] { last.emplace(c, check_pgtap(cache, c.substr(6))); });
  }
  if (stopping()) return;
  sink("reset", last.at("reset"));
  if (last.count("drift")) sink("drift", last.at("drift"));
  for (const auto& c : extra) {
    if (auto e = failed.find(c); e != failed.end())
      errors(c, e->second);
    else
      sink(c, last.at(c));
  }
}

}  // namespace pgmt
