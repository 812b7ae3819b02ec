#include "support/fake_rate_limit.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace txrelay::testing {

fake_rate_limit::fake_rate_limit(double per_second, double burst, std::function<clock::time_point()> now)
  : per_second_(per_second), burst_(burst), now_(now ? std::move(now) : std::function<clock::time_point()>{clock::now}) {}

void fake_rate_limit::arrive() {
  arrived_at_ = now_();
  if (arrived_at_ < told_to_wait_until_)
    ++early_;
}

std::optional<long long> fake_rate_limit::take() {
  auto now = arrived_at_;
  if (!started_) {
    started_ = true;
    tokens_ = burst_;
  } else {
    tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - refilled_at_).count() * per_second_);
  }
  refilled_at_ = now;
  if (tokens_ >= 1) {
    tokens_ -= 1;
    return std::nullopt;
  }
  ++refused_;
  auto seconds = std::max<long long>(1, static_cast<long long>(std::ceil((1 - tokens_) / per_second_)));
  told_to_wait_until_ = std::max(told_to_wait_until_, now + std::chrono::seconds{seconds});
  return seconds;
}

} // namespace txrelay::testing
