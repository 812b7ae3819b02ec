#pragma once
// The persistence actor owns txrelay's PostgreSQL connections. It runs
// detached (its own thread), because every libpq call blocks.
//
// Group commit: requests that arrive together are committed together. An
// ingest request only queues the event and, if none is pending, sends the
// actor a `flush` message; that message sits behind every request already in
// the mailbox, so one flush commits all of them in one statement and answers
// each only after the COMMIT returned. Then it dispatches the new deliveries.
//
// A request with an event routed to an in_transaction sql sink is committed
// in a transaction of its own, with those statements inside it: if one
// fails, the whole request is refused (422 projection_failed) and nothing is
// stored. Outcomes carrying a compensation event (a dead delivery's
// `on_dead`) commit that event in the transaction that marks it dead.
#include "actors/protocol.hpp"
#include "core/clock.hpp"
#include "expr/sql_statement.hpp"
#include "metrics/metrics.hpp"
#include "routing/event_admission.hpp"

#include <caf/fwd.hpp>

#include <memory>
#include <map>
#include <string>

namespace txrelay {

struct persistence_options {
  std::string database_url;
  std::shared_ptr<const txrelay::clock> clock;
  std::shared_ptr<metrics_registry> metrics;
  std::size_t max_batch = 1000;             // events per ingest transaction
  std::size_t max_batch_bytes = 8u << 20;   // payload bytes per ingest transaction
  // Routes compensation events (a dead delivery's `on_dead`) like client events.
  std::shared_ptr<const event_admission> admission;
  // sql sinks with phase in_transaction: sink name -> statement, run inside
  // the ingest transaction of every event routed to them.
  std::map<std::string, sql_statement> in_transaction;
};

/// Spawns the actor (detached). Send it (dispatch_atom, actor) to name the
/// actor that receives (dispatch_atom, sink, delivery_jobs) after each commit.
caf::actor spawn_persistence_actor(caf::actor_system& sys, persistence_options options);

} // namespace txrelay
