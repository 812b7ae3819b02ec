#include "core/token_bucket.hpp"

#include <gtest/gtest.h>

using namespace txrelay;
using namespace std::chrono_literals;

namespace {

const time_point t0 = time_point{std::chrono::seconds{1'800'000'000}};

TEST(token_bucket, unlimited_always_allows_unless_paused) {
  token_bucket b{{}, t0};
  for (int i = 0; i < 1000; ++i)
    EXPECT_TRUE(b.try_take(t0));
  EXPECT_EQ(b.wait(t0), 0ms);
  b.pause_until(t0 + 1500ms);
  EXPECT_FALSE(b.try_take(t0 + 1499ms));
  EXPECT_EQ(b.wait(t0 + 1000ms), 500ms);
  EXPECT_TRUE(b.try_take(t0 + 1500ms));
}

TEST(token_bucket, allows_a_burst_then_the_rate) {
  // Discord's widely seen webhook limit: 5 requests per 2 s.
  token_bucket b{{2.5, 5}, t0};
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(b.try_take(t0)) << i;
  EXPECT_FALSE(b.try_take(t0));
  EXPECT_EQ(b.wait(t0), 400ms); // one token every 400 ms
  EXPECT_FALSE(b.try_take(t0 + 399ms));
  EXPECT_TRUE(b.try_take(t0 + 400ms));
  EXPECT_FALSE(b.try_take(t0 + 400ms));
  // Idle time refills up to the burst, never beyond.
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(b.try_take(t0 + 60s)) << i;
  EXPECT_FALSE(b.try_take(t0 + 60s));
}

TEST(token_bucket, a_pause_from_the_sink_outlasts_available_tokens) {
  token_bucket b{{10, 10}, t0};
  b.pause_until(t0 + 64570ms); // 429 with retry_after 64.57
  b.pause_until(t0 + 1s);      // an earlier pause never shortens it
  EXPECT_FALSE(b.try_take(t0 + 64569ms));
  EXPECT_EQ(b.wait(t0 + 64s), 570ms);
  EXPECT_TRUE(b.try_take(t0 + 64570ms));
}

} // namespace
