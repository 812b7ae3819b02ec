#pragma once
// The persistence actor commits every acknowledged event, with one delivery
// row per routed sink, before it answers: the transactional outbox.
//
// Group commit: requests that arrive while the ingest writers are busy wait
// in one queue; a writer that becomes free takes everything queued (up to
// max_batch events or max_batch_bytes of payload, never splitting a request)
// and commits it in one transaction. So batches grow with the load, and with
// several writers one group's statement runs while another's COMMIT waits for
// its WAL flush. Each request is answered only after its COMMIT returned, and
// the writer then dispatches the new deliveries to the senders.
//
// The actor itself never blocks (it runs on the scheduler): the writers,
// each detached with its own connection, do the libpq calls.
//
// A request with an event routed to an in_transaction sql sink is committed
// in a transaction of its own, with those statements inside it: if one
// fails, the whole request is refused (422 projection_failed) and nothing is
// stored.
#include "actors/persistence_options.hpp"
#include "actors/protocol.hpp"

#include <caf/fwd.hpp>

namespace txrelay {

/// Spawns the actor and its writers. Send it (dispatch_to_atom, actor) to name
/// the actor that receives (dispatch_atom, sink, delivery_jobs) after each
/// commit.
caf::actor spawn_persistence_actor(caf::actor_system& sys, persistence_options options);

} // namespace txrelay
