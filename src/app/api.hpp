#pragma once
// txrelay's REST API: maps HTTP requests to actor requests and results to
// HTTP responses. Thin by design: parsing and routing are pure functions in
// core/, the work happens in the actors.
//
//   POST /v1/events        201 {"id","topic","deliveries":[{"id","sink"}]} after COMMIT;
//                          422 schema_violation (every violation listed) or no_route
//                          200 with the original ids for a repeated Idempotency-Key
//   POST /v1/events:batch  {"events":[...]} up to 1000, all or nothing: 201 {"events":[receipt...]}
//   GET  /v1/events/{id}   the event and each delivery's status, attempts, last error
//   GET  /metrics          Prometheus text
//   GET  /healthz          200 when the database answers, 503 otherwise
//   GET  /v1/sinks         each sink: state, pending, in flight, counters (URLs redacted)
//   POST /v1/sinks/{name}/pause    nothing is sent to the sink until resumed
//   POST /v1/sinks/{name}/resume   lifts a pause, a broken state, an open circuit or a failed sender
//   POST /v1/sinks/{name}/replay   every dead delivery of the sink is pending again (fresh attempts)
//   POST /v1/events/{id}/replay    the same for one event's dead deliveries
//   GET  /v1/nodes         the nodes sharing the database: id, started_at, heartbeat_at, live, leases
//   POST /v1/admin/reload  reloads the config file: 200 with what changed; 422 invalid_config,
//                          409 restart_required (nothing changed)
//   GET  /ui, /ui/{file}   the web console's files (app/console.hpp); no key: they hold no data
#include "actors/protocol.hpp"
#include "app/ingest_coalescer.hpp"
#include "app/reload_report.hpp"
#include "config/config.hpp"
#include "core/event_parser.hpp"
#include "core/versioned.hpp"
#include "routing/admission_source.hpp"
#include "http/message.hpp"
#include "metrics/metrics.hpp"

#include <caf/actor.hpp>

#include <functional>
#include <memory>

namespace txrelay {

struct api_options {
  caf::actor http_actor;
  std::shared_ptr<ingest_coalescer> ingest; // POST /v1/events[:batch] go to http_actor through it
  std::set<std::string> in_transaction_sinks; // requests routed to these are not coalesced
  caf::actor supervisor; // for sink control
  std::shared_ptr<const txrelay::clock> clock = default_clock();
  std::shared_ptr<const admission_source> admission; // schemas and routes, as reloaded
  event_limits limits;
  std::shared_ptr<metrics_registry> metrics;
  // For GET /v1/sinks (names, kinds, redacted endpoints) and replays, as reloaded.
  std::shared_ptr<const versioned<std::vector<sink_config>>> sinks;
  // Reloads the config file; blocking, so it runs by `offload`. Empty: 404.
  std::function<result<reload_report, api_error>()> reload;
  auth_config auth;                // no keys and not disabled: open (loopback only)
  retention_config retention;      // GET /v1/events/{id} of an expired event: 404 expired
  std::string node_id;             // this node, for GET /v1/nodes
  // Runs work off the I/O thread (the engine's parse pool); empty: inline.
  std::function<void(std::function<void()>)> offload;
  std::size_t inline_body_bytes = 16 * 1024; // larger event bodies are parsed by `offload`
  std::vector<std::string> allowed_hosts; // empty: any Host
};

class api {
public:
  explicit api(api_options options)
    : options_(std::move(options)), keys_(options_.auth.keys), shortest_retention_(options_.retention.shortest()) {}

  /// Called on an I/O thread for every request; `respond` may run later, on any thread.
  void handle(http::request&& req, http::respond_fn respond) const;

private:
  /// The request after its Host, key and role were checked.
  /// `key`: who asked (null when keys are not in use).
  void route(http::request&& req, http::respond_fn respond, const api_key* key) const;
  void post_events(http::request&& req, bool batch, http::respond_fn respond, const api_key* key) const;
  void admit_and_submit(const std::string& body, const std::string& idem, bool batch,
                        std::optional<std::string> producer, http::respond_fn respond) const;
  /// `owner`: answer only if this key posted the event (a producer reading its receipt).
  void get_event(std::string id, std::optional<std::string> owner, http::respond_fn respond) const;
  void get_metrics(http::respond_fn respond) const;
  void get_health(http::respond_fn respond) const;
  void get_sinks(http::respond_fn respond) const;
  void get_nodes(http::respond_fn respond) const;
  void control_sink(std::string name, sink_command cmd, http::respond_fn respond) const;
  void replay_dead(pg::replay_filter filter, http::respond_fn respond) const;
  void list_dead(const std::string& name, const http::request& req, http::respond_fn respond) const;
  void search_events(const http::request& req, http::respond_fn respond) const;
  void reload_config(http::respond_fn respond) const;
  /// The sink instances a name in a path or query stands for: the sink, or
  /// every partition of a partitioned one; none for an unknown name.
  std::vector<std::string> sink_instances(std::string_view name) const;

  api_options options_;
  api_key_set keys_;
  // The shortest retention that deletes anything (none: everything is kept).
  std::optional<millis> shortest_retention_;
};

/// The JSON document for an error reply.
http::response error_response(const api_error& err);

} // namespace txrelay
