#pragma once
// The persistence actor owns txrelay's PostgreSQL connections. It runs
// detached (its own thread), because every libpq call blocks.
//
// Group commit: requests that arrive together are committed together. An
// ingest request only queues the event and, if none is pending, sends the
// actor a `flush` message; that message sits behind every request already in
// the mailbox, so one flush commits all of them in one statement and answers
// each only after the COMMIT returned. Then it dispatches the new deliveries.
#include "actors/protocol.hpp"
#include "core/clock.hpp"
#include "metrics/metrics.hpp"

#include <caf/fwd.hpp>

#include <memory>
#include <string>

namespace txrelay {

struct persistence_options {
  std::string database_url;
  std::shared_ptr<const txrelay::clock> clock;
  std::shared_ptr<metrics_registry> metrics;
  std::size_t max_batch = 1000;             // events per ingest transaction
  std::size_t max_batch_bytes = 8u << 20;   // payload bytes per ingest transaction
};

/// Spawns the actor (detached). Send it (dispatch_atom, actor) to name the
/// actor that receives (dispatch_atom, sink, delivery_jobs) after each commit.
caf::actor spawn_persistence_actor(caf::actor_system& sys, persistence_options options);

} // namespace txrelay
