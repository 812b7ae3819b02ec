#include "core/duration.hpp"

#include <gtest/gtest.h>

namespace txrelay {
namespace {

using namespace std::chrono_literals;

millis must_parse(std::string_view text) {
  auto d = parse_duration(text);
  EXPECT_TRUE(d.has_value()) << text << ": " << (d ? "" : d.error());
  return d ? *d : millis{-1};
}

std::string must_fail(std::string_view text) {
  auto d = parse_duration(text);
  EXPECT_FALSE(d.has_value()) << "accepted \"" << text << "\"";
  return d ? "" : d.error();
}

TEST(parse_duration, units) {
  EXPECT_EQ(must_parse("250ms"), 250ms);
  EXPECT_EQ(must_parse("2s"), 2s);
  EXPECT_EQ(must_parse("1.5s"), 1500ms);
  EXPECT_EQ(must_parse("5m"), 5min);
  EXPECT_EQ(must_parse("1h"), 1h);
  EXPECT_EQ(must_parse("7d"), 168h);
  EXPECT_EQ(must_parse("0.25h"), 15min);
  EXPECT_EQ(must_parse("0ms"), 0ms);
}

TEST(parse_duration, bare_number_is_seconds) {
  EXPECT_EQ(must_parse("30"), 30s);
  EXPECT_EQ(must_parse("0.5"), 500ms);
  EXPECT_EQ(must_parse(" 3s "), 3s);
}

TEST(parse_duration, rejects_empty) {
  EXPECT_NE(must_fail("").find("empty"), std::string::npos);
  EXPECT_NE(must_fail("   ").find("empty"), std::string::npos);
}

TEST(parse_duration, rejects_negative) {
  EXPECT_NE(must_fail("-1s").find("negative"), std::string::npos);
  EXPECT_NE(must_fail("-250ms").find("negative"), std::string::npos);
}

TEST(parse_duration, rejects_unknown_units) {
  EXPECT_NE(must_fail("5w").find("unit"), std::string::npos);
  EXPECT_NE(must_fail("5sec").find("unit"), std::string::npos);
  EXPECT_NE(must_fail("5S").find("unit"), std::string::npos);
  EXPECT_NE(must_fail("1e3").find("unit"), std::string::npos);
}

TEST(parse_duration, rejects_garbage) {
  must_fail("s");
  must_fail("ms");
  must_fail("abc");
  must_fail("1.2.3s");
  must_fail(".");
  must_fail("+5s");
  must_fail("5 s");
  must_fail("5s5");
}

TEST(parse_duration, rejects_overflow) {
  EXPECT_NE(must_fail("99999999999999999999h").find("too large"), std::string::npos);
  EXPECT_NE(must_fail(std::string(400, '9')).find("too large"), std::string::npos);
}

TEST(format_duration, writes_what_parse_duration_reads_in_the_largest_exact_unit) {
  EXPECT_EQ(format_duration(millis{0}), "0s");
  EXPECT_EQ(format_duration(millis{1}), "1ms");
  EXPECT_EQ(format_duration(millis{100}), "100ms");
  EXPECT_EQ(format_duration(millis{1'500}), "1500ms");
  EXPECT_EQ(format_duration(millis{10'000}), "10s");
  EXPECT_EQ(format_duration(millis{600'000}), "10m");
  EXPECT_EQ(format_duration(millis{86'400'000}), "1d");
  for (auto ms : {1LL, 250LL, 2'000LL, 90'000LL, 7LL * 86'400'000})
    EXPECT_EQ(*parse_duration(format_duration(millis{ms})), millis{ms});
}

} // namespace
} // namespace txrelay
