#pragma once
// The supervisor spawns one sender actor per sink, monitored, and restarts a
// sender that dies abnormally. CAF 0.17 has no built-in supervisor: this is an
// ordinary actor whose down handler does the respawning. Deliveries reach the
// senders through it, so the rest of the system never holds a stale handle.
#include "actors/sender_actor.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace txrelay {

using transport_factory = std::function<std::shared_ptr<sink_transport>(const sink_config&)>;

struct supervisor_options {
  std::vector<sink_config> sinks;
  transport_factory make_transport; // a fresh transport for every (re)start
  caf::actor ledger;
  std::shared_ptr<const txrelay::clock> clock;
  std::shared_ptr<metrics_registry> metrics;
  std::size_t window = 1000;
  std::optional<std::uint64_t> seed; // for the senders' backoff jitter; tests fix it, else random
  // A cluster node runs a sender only for the sinks whose lease it holds
  // (leases_atom from the cluster actor); otherwise every sink has one.
  bool leased = false;
};

caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_options options);

} // namespace txrelay
