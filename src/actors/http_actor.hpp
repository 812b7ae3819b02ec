#pragma once
// The HTTP actor is where HTTP connections enter the actor world. Connections
// (on Asio threads) send it a request with a reply callback; it asks the
// persistence actor (ingest) or the ledger (reads, replays) and hands the
// answer, or the error, to the callback.
#include "actors/protocol.hpp"
#include "metrics/metrics.hpp"

#include <chrono>
#include <memory>

namespace txrelay {

struct http_actor_options {
  caf::actor persistence; // commits events
  caf::actor ledger;      // reads events and counts, replays dead deliveries
  std::shared_ptr<metrics_registry> metrics;
  std::chrono::seconds timeout{30};
  std::chrono::seconds health_timeout{3}; // GET /healthz: an answer within this, or 503
};

caf::actor spawn_http_actor(caf::actor_system& sys, http_actor_options options);

} // namespace txrelay
