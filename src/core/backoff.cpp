#include "core/backoff.hpp"

#include <algorithm>

namespace txrelay {

millis backoff_delay(const retry_policy& policy, int attempts_made, jitter_source& rng, std::optional<millis> floor) {
  const long long cap = std::max<long long>(0, policy.cap.count());
  const long long base = std::clamp<long long>(policy.base.count(), 0, cap);
  // base * 2^(attempts_made - 1), saturating at the cap: double only while the
  // result stays below it, so neither a huge attempt count nor a huge cap
  // can overflow, and the loop runs at most ~63 times.
  long long ceiling = base;
  for (int doublings = std::max(0, attempts_made - 1); doublings > 0 && ceiling > 0 && ceiling < cap; --doublings)
    ceiling = ceiling > cap / 2 ? cap : ceiling * 2;
  std::uniform_int_distribution<long long> pick{0, ceiling};
  millis delay{pick(rng)};
  if (floor && *floor > delay)
    delay = *floor;
  return delay;
}

} // namespace txrelay
