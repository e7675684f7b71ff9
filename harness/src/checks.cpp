#include "pgmt/checks.hpp"

#include "pgmt/pg.hpp"
#include "pgmt/text.hpp"

#include <chrono>
#include <sstream>

namespace pgmt {

namespace {

std::string ms(std::chrono::duration<double, std::milli> d) {
  std::ostringstream s;
  s.precision(d.count() < 10 ? 2 : 0);
  s << std::fixed << d.count() << " ms";
  return s.str();
}

// Drops a database when the check is done with it, whatever happened.
class scratch_db {
 public:
  scratch_db(state_cache& cache, std::string name) : cache_(cache), name_(std::move(name)) {}
  ~scratch_db() {
    if (name_.empty()) return;
    try {
      cache_.drop(name_);
    } catch (...) {
      // The server is disposable; a leftover database goes with it.
    }
  }
  scratch_db(const scratch_db&) = delete;
  scratch_db& operator=(const scratch_db&) = delete;
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  void release() noexcept { name_.clear(); }

 private:
  state_cache& cache_;
  std::string name_;
};

check_result skipped_because(const state_error& e) {
  return check_result::skip("the state before it could not be built: " + e.culprit() + " fails (" +
                            e.diag().headline() + "); see its own test");
}

}  // namespace

check_result check_apply(state_cache& cache, std::size_t index) {
  const auto& set = cache.migrations();
  const migration& m = set.migrations.at(index);
  std::string db_name;
  try {
    db_name = cache.clone(index, "apply");
  } catch (const state_error& e) {
    if (e.culprit() == "fixtures") return check_result::fail({e.diag().format()}, "fixtures failed to load");
    return skipped_because(e);
  }
  scratch_db db(cache, db_name);
  run_stats stats;
  try {
    connection c(cache.conninfo(db.name()));
    stats = apply_migration(c, m, cache.config());
  } catch (const script_error& e) {
    return check_result::fail({e.diag().format()});
  }
  std::string how = stats.mode == tx_mode::single_transaction ? "in one transaction"
                    : stats.mode == tx_mode::per_statement    ? "without a transaction"
                                                              : "in its own transactions";
  std::string note = "applied " + display_path(m.up.path) + ": " + std::to_string(stats.statements) +
                     " statements " + how + " in " + ms(stats.elapsed);
  // What we just built is S(index + 1): keep it for the tests that need it.
  if (cache.adopt(index + 1, db.name())) db.release();
  return check_result::pass(note);
}

check_result check_reset(state_cache& cache) {
  const auto& s = cache.config();
  const auto& set = cache.migrations();
  scratch_db db(cache, cache.create_empty("reset"));
  const auto t0 = std::chrono::steady_clock::now();
  std::size_t seeds = 0;
  try {
    connection c(cache.conninfo(db.name()));
    ensure_tracking_table(c);
    run_sources(c, s.fixture_sources(), s, "fixture");
    for (const auto& m : set.migrations) apply_migration(c, m, s);
    auto seed_sources = s.seed_sources();
    run_sources(c, seed_sources, s, "seed");
    seeds = seed_sources.size();
    auto r = c.exec("select count(*) from pgmt.migrations");
    if (std::stoul(r.value(0, 0)) != set.migrations.size())
      return check_result::fail({"pgmt.migrations lists " + r.value(0, 0) +
                                 " migrations after reset, expected " +
                                 std::to_string(set.migrations.size())});
  } catch (const script_error& e) {
    return check_result::fail({e.diag().format()});
  }
  std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - t0;
  return check_result::pass("built from nothing: " + std::to_string(s.fixtures.size()) +
                            " fixture path(s), " + std::to_string(set.migrations.size()) + " migrations, " +
                            std::to_string(seeds) + " seed file(s) in " + ms(took));
}

}  // namespace pgmt
