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
#include <optional>

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
  std::optional<time_point> permit_until; // cluster: its lease's end on this node's clock; none: always
  // What the sink's previous sender recorded (pg::sink_fault): the sink said
  // it is gone (non-empty), and no request before quiet_until.
  std::string start_broken;
  time_point start_quiet_until{};
};

using wake_atom = caf::atom_constant<caf::atom("wake")>;
using outcome_flush_atom = caf::atom_constant<caf::atom("outflush")>;

/// What a sender answers to. From its supervisor: deliveries to send
/// (dispatch), an operator's pause and resume, a sweep for rows it may not
/// hold, a renewed lease (until when it may send), and a drain (true once
/// no attempt is under way and what the next sender must know is stored). From its sink's
/// transport: each attempt's result, with the attempt's number. The last
/// three are its own timers (its one wake-up, the outcome flush, the
/// mailbox sample): CAF 0.17 has no private part of a typed interface.
using sender_actor =
  caf::typed_actor<caf::reacts_to<dispatch_atom, delivery_jobs>, caf::reacts_to<pause_atom>,
                   caf::reacts_to<resume_atom>, caf::reacts_to<sweep_atom>, caf::reacts_to<lease_atom, time_point::rep>,
                   caf::replies_to<drain_atom>::with<bool>,
                   caf::reacts_to<attempted_atom, std::string, std::uint64_t, attempt_result>,
                   caf::reacts_to<wake_atom, time_point::rep>, caf::reacts_to<outcome_flush_atom>,
                   caf::reacts_to<tick_atom>>;

/// Spawns a sender as a monitored and linked child of `supervisor`.
sender_actor spawn_monitored_sender(caf::event_based_actor* supervisor, sender_options options);

} // namespace txrelay
