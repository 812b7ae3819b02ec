#include "core/clock.hpp"
#include "core/delivery.hpp"

#include <gtest/gtest.h>

#include <string>

namespace txrelay {
namespace {

using namespace std::chrono;

TEST(clock, default_clock_is_shared_and_follows_system_time) {
  auto a = default_clock();
  auto b = default_clock();
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a.get(), b.get());
  auto before = wall_clock::now();
  auto now = a->now();
  auto after = wall_clock::now();
  EXPECT_LE(before, now);
  EXPECT_LE(now, after);
}

TEST(clock, manual_clock_moves_only_when_told) {
  manual_clock c{time_point{seconds{100}}};
  EXPECT_EQ(c.now(), time_point{seconds{100}});
  c.advance(millis{1500});
  EXPECT_EQ(c.now(), time_point{milliseconds{101'500}});
  c.set(time_point{seconds{7}});
  EXPECT_EQ(c.now(), time_point{seconds{7}});
}

TEST(format_rfc3339, epoch_has_six_fraction_digits_and_z) {
  EXPECT_EQ(format_rfc3339(time_point{}), "1970-01-01T00:00:00.000000Z");
}

TEST(format_rfc3339, keeps_microseconds) {
  // 2026-11-22T20:52:25Z is 1795380745 s after the epoch.
  time_point t{seconds{1'795'380'745} + microseconds{123'456}};
  EXPECT_EQ(format_rfc3339(t), "2026-11-22T20:52:25.123456Z");
}

TEST(format_rfc3339, truncates_below_microseconds_and_pads_small_fractions) {
  time_point t{seconds{951'782'400} + microseconds{7}}; // 2000-02-29, a leap day
  t += duration_cast<wall_clock::duration>(nanoseconds{999});
  EXPECT_EQ(format_rfc3339(t), "2000-02-29T00:00:00.000007Z");
}

TEST(format_rfc3339, before_the_epoch_borrows_a_second) {
  time_point t{microseconds{-1}};
  EXPECT_EQ(format_rfc3339(t), "1969-12-31T23:59:59.999999Z");
}

TEST(delivery_status, names_match_the_database_vocabulary) {
  EXPECT_STREQ(to_string(delivery_status::pending), "pending");
  EXPECT_STREQ(to_string(delivery_status::delivered), "delivered");
  EXPECT_STREQ(to_string(delivery_status::dead), "dead");
}

} // namespace
} // namespace txrelay

TEST(clock, an_instant_past_what_a_time_point_holds_is_refused_not_wrapped) {
  EXPECT_TRUE(txrelay::parse_rfc3339("2200-12-31T23:59:59Z"));
  EXPECT_FALSE(txrelay::parse_rfc3339("2999-01-01T00:00:00Z"));
  EXPECT_FALSE(txrelay::parse_rfc3339("9999-12-31T23:59:59Z"));
}
