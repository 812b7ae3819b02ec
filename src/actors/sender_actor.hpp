#pragma once
// A sender actor delivers one sink's deliveries. It owns that sink's retry
// schedule and its in-memory window; PostgreSQL owns the truth. Anything the
// sender holds can be lost (a crash, a restart): it is still pending in the
// database and the next sender finds it by sweeping.
#include "actors/protocol.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "metrics/metrics.hpp"
#include "sinks/sink_transport.hpp"

#include <memory>

namespace txrelay {

struct sender_options {
  sink_config sink;
  std::shared_ptr<sink_transport> transport;
  caf::actor ledger; // records outcomes, pages pending deliveries in
  std::shared_ptr<const txrelay::clock> clock;
  std::shared_ptr<metrics_registry> metrics;
  std::size_t window = 1000; // deliveries held in memory at most; the rest wait in PostgreSQL
  std::uint64_t seed = 0;    // for backoff jitter
  bool start_paused = false; // an operator paused the sink before this (re)start
};

/// Spawns a sender as a monitored and linked child of `supervisor`.
caf::actor spawn_monitored_sender(caf::event_based_actor* supervisor, sender_options options);

} // namespace txrelay
