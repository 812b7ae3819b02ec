#include "core/circuit_breaker.hpp"

namespace txrelay {

const char* to_string(circuit_state s) {
  switch (s) {
    case circuit_state::closed: return "closed";
    case circuit_state::open: return "open";
    case circuit_state::half_open: return "half_open";
  }
  return "closed";
}

bool circuit_breaker::permits(time_point now) const {
  switch (state_) {
    case circuit_state::closed: return true;
    case circuit_state::open: return now >= probe_at_;
    case circuit_state::half_open: return !probing_ && now >= probe_at_;
  }
  return true;
}

void circuit_breaker::on_request(time_point now) {
  if (state_ != circuit_state::closed && permits(now)) {
    state_ = circuit_state::half_open;
    probing_ = true;
  }
}

void circuit_breaker::on_inconclusive(time_point next_probe) {
  if (state_ != circuit_state::half_open)
    return;
  probing_ = false;
  probe_at_ = next_probe;
}

void circuit_breaker::on_success() {
  state_ = circuit_state::closed;
  probing_ = false;
  failures_ = 0;
}

void circuit_breaker::open(time_point now) {
  if (state_ != circuit_state::open)
    ++times_opened_;
  state_ = circuit_state::open;
  probing_ = false;
  probe_at_ = now + policy_.probe_interval;
}

void circuit_breaker::on_failure(time_point now) {
  ++failures_;
  switch (state_) {
    case circuit_state::closed:
      if (policy_.failure_threshold > 0 && failures_ >= policy_.failure_threshold)
        open(now);
      break;
    case circuit_state::half_open:
      open(now); // the probe failed: wait a whole interval again
      break;
    case circuit_state::open:
      // A request started before the circuit opened: it changes nothing,
      // or a burst of late failures would keep pushing the probe back.
      break;
  }
}

millis circuit_breaker::wait(time_point now) const {
  if (state_ == circuit_state::closed || probing_ || now >= probe_at_)
    return millis{0};
  return std::chrono::ceil<millis>(probe_at_ - now);
}

} // namespace txrelay
