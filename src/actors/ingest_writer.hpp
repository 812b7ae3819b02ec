#pragma once
// An ingest writer commits what the persistence actor hands it: a group of
// ingest requests, in one transaction on the writer's own PostgreSQL
// connection. It runs detached (libpq blocks), answers with one result per
// request after COMMIT, then dispatches the new deliveries to the senders.
//
// Several writers let one group's statement run while another waits for its
// WAL flush, and let two large groups use two server processes.
#include "actors/persistence_options.hpp"

#include <caf/fwd.hpp>

#include <string>

namespace txrelay {

/// Spawns a writer linked to `parent` (it ends with the persistence actor).
/// It takes (commit_atom, std::vector<event_batch>) -> ingest_results and
/// (dispatch_to_atom, actor), the actor that receives committed deliveries.
/// `name` labels its actor metrics ("ingest_writer.1", ...).
caf::actor spawn_ingest_writer(caf::local_actor* parent, const persistence_options& options, std::string name);

} // namespace txrelay
