#pragma once
// The running engine: one actor system, one I/O context, one HTTP server,
// wired together. `txrelay serve` and the integration tests both use it.
#include "actors/supervisor_actor.hpp"
#include "app/reload_report.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "metrics/metrics.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace txrelay {

struct engine_options {
  txrelay_config config;
  std::string database_url; // resolved: flag, environment, config, or the embedded server
  std::shared_ptr<const txrelay::clock> clock = default_clock();
  /// Optional: receives each sink's transport as built and returns the one to
  /// use (tests wrap it to inject faults).
  std::function<std::shared_ptr<sink_transport>(const sink_config&, std::shared_ptr<sink_transport>)> wrap_transport;
  std::size_t io_threads = 1;
  std::size_t scheduler_threads = 0; // 0: half the cores, at least one
  std::size_t sender_window = 1000;
  /// Called once (from an actor's thread) when an essential actor stops
  /// abnormally: the persistence actor, the ledger, the router, the
  /// supervisor, the HTTP actor or the maintenance actor. `txrelay serve` exits then, with a
  /// non-zero status, so that its service manager restarts it.
  std::function<void(const std::string& why)> on_essential_actor_down;
};

class engine {
public:
  /// Migrates the schema, starts the actors and the HTTP server.
  static result<std::unique_ptr<engine>, std::string> start(engine_options options);

  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  std::uint16_t port() const;
  metrics_registry& metrics();

  /// Stops accepting; within server.shutdown_grace answers queued ingests,
  /// lets attempts under way finish and records their outcomes; then stops
  /// the actors and joins the threads. Idempotent.
  void stop();

  /// Reloads the config file it started with: added sinks start, changed
  /// ones restart with their new settings after their attempts under way,
  /// removed ones stop after theirs (their pending rows stay), and routes,
  /// schemas and topics switch at once for new events. A file that does not
  /// load (422 invalid_config) or that changes what only a restart can
  /// (409 restart_required) changes nothing. Blocking (file, database):
  /// call it from a thread of your own. Reloads run one at a time.
  result<reload_report, api_error> reload();

  /// The essential actors by name (persistence, ledger, router, supervisor,
  /// http, maintenance), for fault-injection tests.
  std::vector<std::pair<std::string, caf::actor>> essential_actors() const;

  struct parts;

private:
  explicit engine(std::unique_ptr<parts> p);
  std::unique_ptr<parts> parts_;
};

} // namespace txrelay
