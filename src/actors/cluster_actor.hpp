#pragma once
// The cluster actor makes the nodes sharing one database divide the sinks
// between them, with no coordinator but PostgreSQL:
//
// - Every `heartbeat` it renews this node's row in txrelay.nodes and reads
//   which nodes are live (a beat younger than `node_ttl`).
// - Each sink belongs to one live node, chosen by rendezvous hashing of the
//   node ids and the sink's name: every node computes the same owner from
//   the same list, sinks spread evenly, and when a node joins or leaves only
//   the sinks it wins or held move.
// - The owner holds the sink's lease (txrelay.leases, `lease_ttl` on the
//   database's clock) and renews it every beat. The supervisor runs a sender
//   only for leased sinks, and each sender stops attempting at its lease's
//   end as measured on this node's clock from before the renewal was sent,
//   less `lease_margin`: a node that was stopped (SIGSTOP, a long pause)
//   sends nothing once it wakes past that time, before anyone else could
//   have taken the lease over.
// - A sink that hashes to another node is handed over: its sender finishes
//   its attempts and stops, then the lease is released and the new owner
//   takes it at its next beat. A dead node's leases expire.
// - A delivery committed here for a sink another node owns is announced
//   with NOTIFY txrelay_sinks (payload: the sink), which the owner LISTENs
//   to and answers with a sweep of that sink; while other nodes are live,
//   every local sender also sweeps each beat, for notifications lost while
//   a connection was down.
//
// It runs detached with its own connection (libpq blocks), looping between
// a short wait for notifications and its mailbox.
#include "actors/node_context.hpp"
#include "actors/protocol.hpp"
#include "core/clock.hpp"
#include "metrics/metrics.hpp"
#include "persistence/cluster.hpp"
#include "persistence/pg_connection.hpp"

#include <memory>
#include <string>
#include <vector>

namespace txrelay {

struct cluster_options {
  node_context node;
  std::vector<std::string> sinks; // every configured sink, by name
  caf::actor supervisor;
  millis heartbeat{2'000};
  millis node_ttl = pg::node_ttl;
  millis lease_ttl{10'000};
  millis lease_margin{2'000};
  millis listen_wait{10}; // longest wait for a notification before the mailbox is looked at again
};

/// The owner of `sink` among `live_nodes` (rendezvous hashing; empty: none).
std::string sink_owner(const std::vector<std::string>& live_nodes, const std::string& sink);

/// Spawns it (detached). It answers drain_atom with true once it has
/// released every lease it held (call it after the supervisor drained).
caf::actor spawn_cluster_actor(caf::actor_system& sys, cluster_options options);

} // namespace txrelay
