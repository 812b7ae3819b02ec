#pragma once
// A sink's request budget: a token bucket refilled continuously, plus a pause
// the sink itself can impose (429 with retry_after, Retry-After, or an
// exhausted X-RateLimit-Remaining). Pure arithmetic on injected time.
#include "core/clock.hpp"

namespace txrelay {

struct rate_limit {
  double per_second = 0; // 0: unlimited
  double burst = 1;      // bucket size, at least 1
};

class token_bucket {
public:
  token_bucket(rate_limit limit, time_point now);

  /// Takes a token if one is available and no pause is in force.
  bool try_take(time_point now);

  /// How long until try_take can succeed (0 when it can now).
  millis wait(time_point now) const;

  /// No request before `until` (keeps the later of two pauses).
  void pause_until(time_point until);

  bool limited() const { return limit_.per_second > 0; }

  /// The latest pause the sink imposed (the epoch when there was none).
  time_point paused_until() const { return paused_until_; }

private:
  void refill(time_point now);

  rate_limit limit_;
  double tokens_;
  time_point refilled_at_;
  time_point paused_until_{};
};

} // namespace txrelay
