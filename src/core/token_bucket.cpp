#include "core/token_bucket.hpp"

#include <algorithm>
#include <cmath>

namespace txrelay {

token_bucket::token_bucket(rate_limit limit, time_point now)
  : limit_{limit.per_second, std::max(1.0, limit.burst)}, tokens_(limit_.burst), refilled_at_(now) {}

void token_bucket::refill(time_point now) {
  if (now <= refilled_at_)
    return;
  auto elapsed = std::chrono::duration<double>(now - refilled_at_).count();
  tokens_ = std::min(limit_.burst, tokens_ + elapsed * limit_.per_second);
  refilled_at_ = now;
}

bool token_bucket::try_take(time_point now) {
  if (now < paused_until_)
    return false;
  if (!limited())
    return true;
  refill(now);
  if (tokens_ < 1.0)
    return false;
  tokens_ -= 1.0;
  return true;
}

millis token_bucket::wait(time_point now) const {
  millis pause{0};
  if (now < paused_until_)
    pause = std::chrono::ceil<millis>(paused_until_ - now);
  if (!limited())
    return pause;
  auto elapsed = now > refilled_at_ ? std::chrono::duration<double>(now - refilled_at_).count() : 0.0;
  auto tokens = std::min(limit_.burst, tokens_ + elapsed * limit_.per_second);
  millis refill_wait{0};
  if (tokens < 1.0)
    refill_wait = millis{static_cast<long long>(std::ceil((1.0 - tokens) / limit_.per_second * 1000.0))};
  return std::max(pause, refill_wait);
}

void token_bucket::pause_until(time_point until) { paused_until_ = std::max(paused_until_, until); }

} // namespace txrelay
