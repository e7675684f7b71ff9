#pragma once
/// engine: one walk of a suite's migration chain, in order, giving every
/// check its verdict. At S(K-1) it commits K (apply, and S(K)), runs K's
/// round trip in a transaction it rolls back, runs K again in a transaction
/// it rolls back (idempotency) and K's RLS file, whose transaction is rolled
/// back; catalogs are read incrementally and kept in memory. Checks that need
/// a fresh database (scripts with transactions of their own, a verdict judged
/// again where each script commits) get a template made from the walk and a
/// clone of it. The suite checks come after the walk: drift from the walk's
/// catalog, the RLS ones on a clone of the last state, reset and pgTAP from
/// nothing.
///
/// On a machine with several cores the chain is cut into lanes, each walked
/// by a thread on a database of its own: lane j first applies the migrations
/// below its part as they are (no check, no catalog read), then walks its
/// part; lane 0 builds the reset state once its part is done. Lanes are used
/// only when no migration or seed changes, or may change, what every
/// database of the server shares (roles, databases, tablespaces, settings,
/// other sessions): one such migration and a single walk changes the server,
/// one thing at a time. PGMT_WALKERS sets the number of lanes (1: one walk).

#include "pgmt/checks.hpp"
#include "pgmt/migration.hpp"
#include "pgmt/server.hpp"
#include "pgmt/suite.hpp"

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pgmt {

/// Receives a test's key ("<version>.<check>", or "<check>" for a suite
/// check) and its verdict.
using verdict_sink = std::function<void(const std::string& key, const check_result& r)>;

/// Receives a test's key and why it has no verdict: what its check could not
/// get past (a malformed assertion file), which `pgmt check` reports as an
/// error (exit 2).
using error_sink = std::function<void(const std::string& key, const std::string& message)>;

/// A sink that passes verdicts on to sink in the order of keys, holding back
/// those that come early.
[[nodiscard]] verdict_sink in_order(std::vector<std::string> keys, verdict_sink sink);

/// The walk of one suite on one server.
class engine {
 public:
  engine(server_info server, suite s, migration_set set);

  /// The keys of every test the walk gives a verdict for, in the order run() gives them:
  /// each migration's checks (apply, idempotency, roundtrip, rls where they apply), then
  /// reset, drift (with a snapshot file) and the other suite checks.
  [[nodiscard]] std::vector<std::string> planned() const;

  /// How many lanes run() walks (see above): 1 unless the machine has
  /// several cores, the chain is long enough and nothing in it changes
  /// what the server's databases share.
  [[nodiscard]] std::size_t lanes() const;

  /// Walks the chain and gives sink every planned verdict: in planned()
  /// order within a lane, lanes side by side (see in_order), one call at a
  /// time. Returns early, between two migrations, once stop is true. Throws
  /// for the unexpected (the server went away).
  /// A check that cannot run (input_error, harness_error) goes to errors and
  /// the walk goes on; without errors the exception ends the walk.
  /// When the walk loses its connection and why_stopped says the server
  /// stopped ("the server stopped (signal 9)" and its log), every test
  /// without a verdict yet fails with that, once each, instead.
  void run(const verdict_sink& sink, const std::atomic<bool>* stop = nullptr, const error_sink& errors = {});

  /// Asked when the walk loses a connection: why the server stopped, or
  /// nullopt while it runs (see server::stopped_unasked).
  void watch_server(std::function<std::optional<std::string>()> why_stopped) {
    why_stopped_ = std::move(why_stopped);
  }

  /// Where the walk is now, for a client that has waited long: the step of
  /// each lane and the statement it runs, with how long it has run.
  [[nodiscard]] std::string where() const;

  [[nodiscard]] const suite& config() const noexcept { return suite_; }
  [[nodiscard]] const migration_set& migrations() const noexcept { return set_; }

 private:
  void walk_all(const verdict_sink& sink, const std::atomic<bool>* stop, const error_sink& errors);
  /// Records what the calling thread (a lane) does now, for where().
  void step(std::string what) const;

  server_info server_;
  suite suite_;
  migration_set set_;
  /// Lock tracing while each migration is applied (PGMT_TRACE=off turns it off).
  bool trace_ = true;
  std::function<std::optional<std::string>()> why_stopped_;
  struct steps;
  std::shared_ptr<steps> steps_;
};

}  // namespace pgmt
