#pragma once
// The token bucket the Slack and Notion fakes enforce: `burst` tokens,
// refilled at `per_second`, full at the first request. A request beyond it
// is refused with a whole-second Retry-After of at least 1 (what both APIs
// send): the client must honour it even though the bucket may refill sooner.
//
// It counts *early* requests: any that arrive before the wait the client was
// last told has elapsed. Exact for a client with one request in flight at a
// time (see fake_discord_server.hpp).
//
// Not thread-safe: the fake that owns it guards it with its own mutex.
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>

namespace txrelay::testing {

class fake_rate_limit {
public:
  using clock = std::chrono::steady_clock;

  /// `now` is read once per arrive(); real time unless a test gives its own.
  fake_rate_limit(double per_second, double burst, std::function<clock::time_point()> now = clock::now);

  /// Records a request's arrival, counting it early if it comes before the
  /// wait the client was told. take() judges the request at this time.
  void arrive();
  /// Takes a token for the request that last arrived: std::nullopt if there
  /// was one, else the Retry-After seconds to answer (counting the refusal).
  std::optional<long long> take();

  std::size_t early() const { return early_; }
  std::size_t refused() const { return refused_; }

private:
  double per_second_;
  double burst_;
  std::function<clock::time_point()> now_;
  clock::time_point arrived_at_{};
  double tokens_ = 0;
  clock::time_point refilled_at_{};
  bool started_ = false;
  clock::time_point told_to_wait_until_{};
  std::size_t early_ = 0;
  std::size_t refused_ = 0;
};

} // namespace txrelay::testing
