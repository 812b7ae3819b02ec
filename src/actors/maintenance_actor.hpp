#pragma once
// The maintenance actor runs, on whichever node holds the 'maintenance'
// lease, the work that must happen once for the whole cluster: today,
// retention (deleting finished history, config `retention`). Every node
// runs one; each renews or tries to take the lease every few seconds, so
// when the leader dies another takes over within the lease's time to live.
//
// A retention pass walks the events table by id in windows of
// `retention.batch` events, one short transaction each, and one message
// each: the actor stays responsive (a drain gives the lease up at once).
//
// It runs detached with its own connection (libpq blocks).
#include "actors/node_context.hpp"
#include "actors/protocol.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "metrics/metrics.hpp"
#include "persistence/pg_connection.hpp"

#include <memory>
#include <string>

namespace txrelay {

struct maintenance_options {
  node_context node;
  retention_config retention;
  millis lease_ttl{15'000};  // a dead leader's lease is taken over after this
  millis renew_every{5'000}; // at most; shorter when retention.interval is
};

/// Spawns it (detached). It answers drain_atom with true once it has given
/// its lease up.
caf::actor spawn_maintenance_actor(caf::actor_system& sys, maintenance_options options);

} // namespace txrelay
