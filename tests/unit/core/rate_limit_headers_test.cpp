// The waits a sink can ask for: Retry-After's three forms and X-RateLimit-*.
#include "core/rate_limit_headers.hpp"

#include <gtest/gtest.h>

#include <ctime>
#include <map>
#include <string>

using namespace txrelay;

namespace {

const time_point now = time_point{std::chrono::seconds{1'784'000'000}};

/// A header_lookup over a map with lower-case keys, as the sinks' lookup is case-insensitive.
header_lookup headers(std::map<std::string, std::string> values) {
  return [values = std::move(values)](std::string_view name) -> std::string_view {
    auto it = values.find(std::string{name});
    return it == values.end() ? std::string_view{} : std::string_view{it->second};
  };
}

std::string http_date(time_point at) {
  auto t = wall_clock::to_time_t(at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

TEST(retry_after, accepts_seconds_and_http_dates) {
  EXPECT_EQ(parse_retry_after("0", now), millis{0});
  EXPECT_EQ(parse_retry_after(" 120 ", now), millis{120'000});
  EXPECT_EQ(parse_retry_after(http_date(now + std::chrono::seconds{90}), now), millis{90'000});
  // A date in the past means "now".
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), millis{0});
}

TEST(retry_after, is_capped_at_a_day) {
  EXPECT_EQ(parse_retry_after("99999999999", now), millis{86'400'000});
  EXPECT_EQ(parse_retry_after("99999999999999999999999", now), millis{86'400'000});
  EXPECT_EQ(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now), millis{86'400'000});
}

TEST(retry_after, rejects_garbage) {
  EXPECT_FALSE(parse_retry_after("", now));
  EXPECT_FALSE(parse_retry_after("-5", now));
  EXPECT_FALSE(parse_retry_after("-99999999999999999999999", now));
  EXPECT_FALSE(parse_retry_after("soon", now));
  EXPECT_FALSE(parse_retry_after("12abc", now));
  EXPECT_FALSE(parse_retry_after("1.5", now)); // delay-seconds is an integer; floats come from Discord's body
}

TEST(retry_after_seconds_float, is_rounded_up_to_whole_milliseconds) {
  EXPECT_EQ(parse_retry_after_seconds_float("64.57"), millis{64'570});
  EXPECT_EQ(parse_retry_after_seconds_float("1.337"), millis{1337});
  EXPECT_EQ(parse_retry_after_seconds_float("0.3"), millis{300});
  EXPECT_EQ(parse_retry_after_seconds_float("0.0001"), millis{1}); // never early, even by a fraction
  EXPECT_EQ(parse_retry_after_seconds_float(" 2 "), millis{2000});
  EXPECT_EQ(parse_retry_after_seconds_float("0"), millis{0});
  EXPECT_EQ(wait_from_seconds(0.4), millis{400});
  EXPECT_EQ(wait_from_seconds(12), millis{12'000});
}

TEST(retry_after_seconds_float, is_capped_at_a_day_and_rejects_garbage) {
  EXPECT_EQ(parse_retry_after_seconds_float("1e12"), max_sink_wait);
  EXPECT_EQ(wait_from_seconds(86'400.5), max_sink_wait);
  EXPECT_FALSE(parse_retry_after_seconds_float(""));
  EXPECT_FALSE(parse_retry_after_seconds_float("-1.5"));
  EXPECT_FALSE(parse_retry_after_seconds_float("soon"));
  EXPECT_FALSE(parse_retry_after_seconds_float("1.5s"));
  EXPECT_FALSE(parse_retry_after_seconds_float("inf"));
  EXPECT_FALSE(parse_retry_after_seconds_float("nan"));
  EXPECT_FALSE(wait_from_seconds(-0.1));
}

TEST(rate_limit_wait, an_exhausted_bucket_waits_for_reset_after) {
  EXPECT_EQ(rate_limit_wait(headers({{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset-after", "1.337"}}), now),
            millis{1337});
}

TEST(rate_limit_wait, reset_after_wins_over_reset) {
  // Reset-After is relative, so it does not depend on the two clocks agreeing.
  auto h = headers({{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset-after", "0.5"},
                    {"x-ratelimit-reset", "1784000030.000"}});
  EXPECT_EQ(rate_limit_wait(h, now), millis{500});
}

TEST(rate_limit_wait, falls_back_to_the_epoch_reset) {
  EXPECT_EQ(rate_limit_wait(headers({{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset", "1784000002.250"}}), now),
            millis{2250});
  EXPECT_EQ(rate_limit_wait(headers({{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset", "1784000007"}}), now),
            millis{7000});
  // A reset already past: the bucket is full again.
  EXPECT_EQ(rate_limit_wait(headers({{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset", "1783999990"}}), now),
            millis{0});
  EXPECT_EQ(rate_limit_wait(headers({{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset", "99999999999"}}), now),
            max_sink_wait);
}

TEST(rate_limit_wait, no_wait_while_requests_remain_or_when_the_headers_do_not_say) {
  EXPECT_FALSE(rate_limit_wait(headers({}), now));
  EXPECT_FALSE(rate_limit_wait(headers({{"x-ratelimit-remaining", "3"}, {"x-ratelimit-reset-after", "1.5"}}), now));
  EXPECT_FALSE(rate_limit_wait(headers({{"x-ratelimit-reset-after", "1.5"}}), now));
  EXPECT_FALSE(rate_limit_wait(headers({{"x-ratelimit-remaining", "0"}}), now));
  EXPECT_FALSE(rate_limit_wait(headers({{"x-ratelimit-remaining", "none"}, {"x-ratelimit-reset-after", "1"}}), now));
  EXPECT_FALSE(rate_limit_wait(headers({{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset-after", "later"}}), now));
}

TEST(rate_limit_wait, is_capped_at_a_day) {
  EXPECT_EQ(rate_limit_wait(headers({{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset-after", "999999"}}), now),
            max_sink_wait);
}

TEST(longer_wait, keeps_the_longer_of_what_is_there) {
  EXPECT_FALSE(longer_wait(std::nullopt, std::nullopt));
  EXPECT_EQ(longer_wait(millis{5}, std::nullopt), millis{5});
  EXPECT_EQ(longer_wait(std::nullopt, millis{7}), millis{7});
  EXPECT_EQ(longer_wait(millis{5}, millis{7}), millis{7});
  EXPECT_EQ(longer_wait(millis{9}, millis{7}), millis{9});
}

} // namespace

TEST(rate_limit_window, says_how_many_remain_until_the_reset) {
  auto window = rate_limit_window(headers({{"x-ratelimit-remaining", "2"}, {"x-ratelimit-reset-after", "0.4"}}), now);
  ASSERT_TRUE(window);
  EXPECT_EQ(window->remaining, 2);
  EXPECT_EQ(window->resets_in, millis{400});
  EXPECT_FALSE(rate_limit_window(headers({{"x-ratelimit-remaining", "2"}}), now)) << "no reset: nothing to wait for";
  EXPECT_FALSE(rate_limit_window(headers({{"x-ratelimit-remaining", "-1"}, {"x-ratelimit-reset-after", "1"}}), now));
  EXPECT_FALSE(rate_limit_window(headers({{"x-ratelimit-remaining", "many"}, {"x-ratelimit-reset-after", "1"}}), now));
}
