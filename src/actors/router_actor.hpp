#pragma once
// The router routes events that producers published from SQL, inside their
// own transactions (txrelay.publish()): they wait in txrelay.unrouted_events,
// each queue row carrying its event (or, for one with an idempotency key,
// naming the row stored in txrelay.events). The router claims what is there
// (oldest first, SKIP LOCKED) every poll interval, and at once again after a
// round that found events; admits each event exactly as the HTTP side admits
// a client's (topic schema, routes and their conditions); stores it with its
// delivery rows or with why it was refused; runs in_transaction projections;
// and commits all of it in one durable transaction. Only after that COMMIT
// are the deliveries dispatched to the senders, as an ingest writer
// dispatches its own. It vacuums its queue itself (autovacuum comes once a
// minute at most, and claimed rows are dead tuples every claim walks past).
//
// Nothing is skipped or routed twice: the claim (a DELETE of the queue rows)
// and the routing commit together, so a crash or a lost connection before the
// COMMIT leaves the events queued, and there is no cursor that a transaction
// committing out of id order could fall behind.
//
// It runs detached with its own connection (libpq blocks).
#include "actors/persistence_options.hpp"
#include "actors/protocol.hpp"
#include "config/config.hpp"

#include <caf/fwd.hpp>

namespace txrelay {

/// Spawns the router (detached). Send it (dispatch_to_atom, actor) to name the
/// actor that receives the deliveries it creates.
caf::actor spawn_router_actor(caf::actor_system& sys, persistence_options options, publish_config publish);

} // namespace txrelay
