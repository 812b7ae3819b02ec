#pragma once
// Retry arithmetic, free of I/O: exponential backoff with full jitter.
#include "core/clock.hpp"

#include <cstdint>
#include <optional>
#include <random>

namespace txrelay {

struct retry_policy {
  int max_attempts = 8;
  millis base{1000};
  millis cap{std::chrono::hours{1}};
  // No attempt later than this after the delivery was created: a message
  // that is hours late may be worse than none (an alert, a reminder).
  std::optional<millis> max_age;
};

/// The source of randomness is injected so tests can seed it.
using jitter_source = std::mt19937_64;

/// Delay before the next attempt after `attempts_made` (>= 1) failed attempts:
/// uniform in [0, min(cap, base * 2^(attempts_made - 1))] ("full jitter"),
/// then raised to `floor` when the sink said how long to wait (Retry-After).
millis backoff_delay(const retry_policy& policy, int attempts_made, jitter_source& rng,
                     std::optional<millis> floor = std::nullopt);

/// True when no further attempt is allowed after `attempts_made` attempts.
inline bool attempts_exhausted(const retry_policy& policy, int attempts_made) {
  return attempts_made >= policy.max_attempts;
}

/// True when an attempt at `next_attempt` would break the policy's max_age
/// for a delivery created at `created`.
inline bool past_max_age(const retry_policy& policy, time_point created, time_point next_attempt) {
  return policy.max_age && next_attempt - created > *policy.max_age;
}

} // namespace txrelay
