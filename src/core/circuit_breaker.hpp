#pragma once
// A sink's circuit breaker: after `failure_threshold` consecutive failed
// attempts the circuit opens and nothing is sent to the sink; once every
// `probe_interval` a single request goes through as a probe (half-open), and
// one success closes the circuit again. Pure state on injected time.
//
// Why: retrying every held delivery against a sink that is down burns each
// delivery's attempts (so they die sooner for nothing) and hammers a service
// that is already failing. With the circuit open, deliveries keep their
// attempts and wait in order; one probe at a time finds out when the sink is
// back.
#include "core/clock.hpp"

#include <cstdint>

namespace txrelay {

struct circuit_policy {
  int failure_threshold = 10;     // consecutive failures that open the circuit; 0: never open
  millis probe_interval{30'000}; // while open, one probe per interval
};

enum class circuit_state { closed, open, half_open };

const char* to_string(circuit_state s);

class circuit_breaker {
public:
  explicit circuit_breaker(circuit_policy policy) : policy_(policy) {}

  /// Whether a request may start now. While open, becomes true once the
  /// probe interval has passed; while half-open, only when no probe is under
  /// way and the wait an inconclusive probe was told has passed.
  bool permits(time_point now) const;

  /// A request is starting: when the circuit is open (and permits it), this
  /// request is the probe and the circuit goes half-open.
  void on_request(time_point now);

  /// The sink answered in a way that shows it is up (delivered, or refused
  /// this one message for good): closes the circuit.
  void on_success();

  /// A transport error, timeout or server error. Opens the circuit after
  /// the threshold, or at once when the probe failed.
  void on_failure(time_point now);

  /// The sink answered without saying whether it is up (a 429: it works, but
  /// asks to wait). Half-open: the circuit stays half-open and the next probe
  /// may start at `next_probe`. Otherwise: nothing changes.
  void on_inconclusive(time_point next_probe);

  /// While open, or half-open with no probe under way: how long until the
  /// next probe may start (0 when it may now, or when no wait applies).
  millis wait(time_point now) const;

  /// Half-open with its probe under way: only that probe's result moves it.
  bool probe_in_flight() const { return state_ == circuit_state::half_open && probing_; }

  circuit_state state() const { return state_; }
  int consecutive_failures() const { return failures_; }
  std::uint64_t times_opened() const { return times_opened_; }

private:
  void open(time_point now);

  circuit_policy policy_;
  circuit_state state_ = circuit_state::closed;
  int failures_ = 0;
  time_point probe_at_{};
  bool probing_ = false; // half-open: the probe is under way
  std::uint64_t times_opened_ = 0;
};

} // namespace txrelay
