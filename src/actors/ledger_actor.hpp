#pragma once
// The ledger records what happened to deliveries and answers questions about
// them: senders report outcomes (recorded in batches, on a connection that
// commits without waiting for the WAL flush: an outcome lost in a server
// crash only means the delivery is attempted again), and page pending
// deliveries in; the HTTP actor reads events, counts and replays dead
// deliveries here. It runs detached (libpq blocks), beside the ingest
// writers, so recording outcomes never delays an ingest commit.
//
// Reads come after the outcomes already reported: a sender's page of pending
// deliveries never holds one it finished a moment ago. Outcomes carrying a
// compensation event (a dead delivery's `on_dead`) commit that event, routed
// like any other and durably, in the transaction that marks it dead.
#include "actors/persistence_options.hpp"
#include "actors/protocol.hpp"

#include <caf/fwd.hpp>

namespace txrelay {

/// Spawns the ledger (detached). Send it (dispatch_to_atom, actor) to name the
/// actor that receives the deliveries of compensation events.
caf::actor spawn_ledger_actor(caf::actor_system& sys, persistence_options options);

} // namespace txrelay
