#include "core/circuit_breaker.hpp"

#include <gtest/gtest.h>

using namespace txrelay;
using namespace std::chrono_literals;

namespace {

const time_point t0 = time_point{std::chrono::seconds{1'800'000'000}};

TEST(circuit_breaker, opens_after_the_threshold_of_consecutive_failures) {
  circuit_breaker b{{3, 10s}};
  b.on_failure(t0);
  b.on_failure(t0);
  EXPECT_EQ(b.state(), circuit_state::closed);
  EXPECT_TRUE(b.permits(t0));
  b.on_failure(t0 + 1s);
  EXPECT_EQ(b.state(), circuit_state::open);
  EXPECT_EQ(b.times_opened(), 1u);
  EXPECT_FALSE(b.permits(t0 + 1s));
  EXPECT_EQ(b.wait(t0 + 1s), 10s);
  EXPECT_EQ(b.wait(t0 + 6s), 5s);
}

TEST(circuit_breaker, a_success_resets_the_count) {
  circuit_breaker b{{3, 10s}};
  b.on_failure(t0);
  b.on_failure(t0);
  b.on_success();
  b.on_failure(t0);
  b.on_failure(t0);
  EXPECT_EQ(b.state(), circuit_state::closed);
  EXPECT_EQ(b.consecutive_failures(), 2);
}

TEST(circuit_breaker, probes_once_per_interval_and_one_success_closes_it) {
  circuit_breaker b{{1, 10s}};
  b.on_failure(t0);
  ASSERT_EQ(b.state(), circuit_state::open);
  EXPECT_FALSE(b.permits(t0 + 9999ms));
  ASSERT_TRUE(b.permits(t0 + 10s));
  b.on_request(t0 + 10s);
  EXPECT_EQ(b.state(), circuit_state::half_open);
  // Only one probe at a time.
  EXPECT_FALSE(b.permits(t0 + 10s));
  EXPECT_FALSE(b.permits(t0 + 60s));
  b.on_success();
  EXPECT_EQ(b.state(), circuit_state::closed);
  EXPECT_TRUE(b.permits(t0 + 10s));
}

TEST(circuit_breaker, a_failed_probe_opens_it_for_another_interval) {
  circuit_breaker b{{2, 5s}};
  b.on_failure(t0);
  b.on_failure(t0);
  b.on_request(t0 + 5s);
  ASSERT_EQ(b.state(), circuit_state::half_open);
  b.on_failure(t0 + 6s);
  EXPECT_EQ(b.state(), circuit_state::open);
  EXPECT_EQ(b.times_opened(), 2u);
  EXPECT_EQ(b.wait(t0 + 6s), 5s);
  EXPECT_TRUE(b.permits(t0 + 11s));
}

TEST(circuit_breaker, late_failures_while_open_do_not_push_the_probe_back) {
  circuit_breaker b{{1, 10s}};
  b.on_failure(t0);
  b.on_failure(t0 + 8s); // an attempt that started before the circuit opened
  EXPECT_TRUE(b.permits(t0 + 10s));
  EXPECT_EQ(b.times_opened(), 1u);
}

TEST(circuit_breaker, a_zero_threshold_never_opens) {
  circuit_breaker b{{0, 10s}};
  for (int i = 0; i < 1000; ++i)
    b.on_failure(t0);
  EXPECT_EQ(b.state(), circuit_state::closed);
  EXPECT_TRUE(b.permits(t0));
}

TEST(circuit_breaker, a_request_while_closed_changes_nothing) {
  circuit_breaker b{{2, 10s}};
  b.on_request(t0);
  EXPECT_EQ(b.state(), circuit_state::closed);
}

} // namespace

namespace {

TEST(circuit_breaker, a_429_on_the_probe_keeps_it_half_open_and_allows_the_next_probe_after_the_wait) {
  circuit_breaker b{{1, 10s}};
  b.on_failure(t0);
  b.on_request(t0 + 10s); // the probe
  ASSERT_EQ(b.state(), circuit_state::half_open);
  EXPECT_TRUE(b.probe_in_flight());
  EXPECT_FALSE(b.permits(t0 + 10s));
  b.on_inconclusive(t0 + 13s); // 429, Retry-After: 3
  EXPECT_EQ(b.state(), circuit_state::half_open);
  EXPECT_FALSE(b.probe_in_flight());
  EXPECT_FALSE(b.permits(t0 + 12s));
  EXPECT_EQ(b.wait(t0 + 12s), 1s);
  EXPECT_TRUE(b.permits(t0 + 13s));
  b.on_request(t0 + 13s);
  EXPECT_TRUE(b.probe_in_flight());
  b.on_success();
  EXPECT_EQ(b.state(), circuit_state::closed);
  EXPECT_EQ(b.times_opened(), 1u);
}

TEST(circuit_breaker, an_inconclusive_answer_changes_nothing_unless_half_open) {
  circuit_breaker b{{1, 10s}};
  b.on_inconclusive(t0 + 1h);
  EXPECT_TRUE(b.permits(t0));
  b.on_failure(t0);
  b.on_inconclusive(t0 + 1h);
  EXPECT_TRUE(b.permits(t0 + 10s)); // open: its own interval still holds
}

} // namespace
