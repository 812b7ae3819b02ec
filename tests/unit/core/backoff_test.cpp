#include "core/backoff.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <set>
#include <vector>

namespace txrelay {
namespace {

using namespace std::chrono_literals;

std::vector<long long> delays(const retry_policy& p, int attempts, std::uint64_t seed, int n) {
  jitter_source rng{seed};
  std::vector<long long> out;
  for (int i = 0; i < n; ++i)
    out.push_back(backoff_delay(p, attempts, rng).count());
  return out;
}

TEST(backoff, same_seed_gives_same_delays) {
  retry_policy p;
  EXPECT_EQ(delays(p, 3, 42, 20), delays(p, 3, 42, 20));
  EXPECT_NE(delays(p, 3, 42, 20), delays(p, 3, 43, 20));
}

TEST(backoff, first_attempt_is_within_base) {
  retry_policy p{.max_attempts = 5, .base = 1000ms, .cap = 1h, .max_age = std::nullopt};
  for (auto d : delays(p, 1, 1, 500)) {
    EXPECT_GE(d, 0);
    EXPECT_LE(d, 1000);
  }
}

TEST(backoff, bounds_double_per_attempt_until_the_cap) {
  retry_policy p{.max_attempts = 100, .base = 100ms, .cap = 60s, .max_age = std::nullopt};
  for (int attempt = 1; attempt <= 60; ++attempt) {
    long long bound = attempt <= 20 ? std::min<long long>(60'000, 100LL << (attempt - 1)) : 60'000;
    long long max_seen = 0;
    for (auto d : delays(p, attempt, static_cast<std::uint64_t>(attempt), 300)) {
      ASSERT_GE(d, 0) << "attempt " << attempt;
      ASSERT_LE(d, bound) << "attempt " << attempt;
      max_seen = std::max(max_seen, d);
    }
    // Full jitter spreads over the whole range, so 300 draws reach its upper half.
    EXPECT_GT(max_seen, bound / 2) << "attempt " << attempt;
  }
}

TEST(backoff, jitter_spreads_values) {
  retry_policy p{.max_attempts = 8, .base = 1000ms, .cap = 1h, .max_age = std::nullopt};
  auto d = delays(p, 4, 7, 100);
  EXPECT_GT(std::set<long long>(d.begin(), d.end()).size(), 50u);
}

TEST(backoff, huge_attempt_counts_and_caps_do_not_overflow) {
  retry_policy p{.max_attempts = 8, .base = 1000ms, .cap = millis{std::numeric_limits<long long>::max()}, .max_age = std::nullopt};
  jitter_source rng{9};
  for (int attempt : {62, 63, 64, 1000, std::numeric_limits<int>::max()}) {
    auto d = backoff_delay(p, attempt, rng);
    EXPECT_GE(d.count(), 0) << attempt;
  }
  retry_policy small{.max_attempts = 8, .base = 1000ms, .cap = 5s, .max_age = std::nullopt};
  EXPECT_LE(backoff_delay(small, std::numeric_limits<int>::max(), rng), 5s);
}

TEST(backoff, zero_base_means_no_delay) {
  retry_policy p{.max_attempts = 8, .base = 0ms, .cap = 1h, .max_age = std::nullopt};
  jitter_source rng{3};
  EXPECT_EQ(backoff_delay(p, std::numeric_limits<int>::max(), rng), 0ms);
}

TEST(backoff, base_above_cap_is_capped) {
  retry_policy p{.max_attempts = 8, .base = 10s, .cap = 2s, .max_age = std::nullopt};
  for (auto d : delays(p, 1, 5, 200))
    EXPECT_LE(d, 2000);
}

TEST(backoff, floor_raises_short_delays_only) {
  retry_policy p{.max_attempts = 8, .base = 100ms, .cap = 1s, .max_age = std::nullopt};
  jitter_source rng{11};
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(backoff_delay(p, 2, rng, 30s), 30s);
  // A floor below the drawn value leaves it alone: with the same seed, the
  // delays with a zero floor equal those without one.
  jitter_source a{12}, b{12};
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(backoff_delay(p, 3, a, 0ms), backoff_delay(p, 3, b));
}

TEST(backoff, attempts_exhausted_at_max_attempts) {
  retry_policy p{.max_attempts = 3, .base = 1s, .cap = 1h, .max_age = std::nullopt};
  EXPECT_FALSE(attempts_exhausted(p, 0));
  EXPECT_FALSE(attempts_exhausted(p, 2));
  EXPECT_TRUE(attempts_exhausted(p, 3));
  EXPECT_TRUE(attempts_exhausted(p, 4));
}

TEST(backoff, max_age_bounds_the_next_attempt) {
  retry_policy p;
  auto created = time_point{std::chrono::seconds{1'800'000'000}};
  EXPECT_FALSE(past_max_age(p, created, created + std::chrono::hours{1000})); // no max_age: no bound
  p.max_age = std::chrono::minutes{10};
  EXPECT_FALSE(past_max_age(p, created, created + std::chrono::minutes{10}));
  EXPECT_TRUE(past_max_age(p, created, created + std::chrono::minutes{10} + std::chrono::milliseconds{1}));
}

} // namespace
} // namespace txrelay
