// Counting and cutting UTF-8 by code points.
#include "core/utf8.hpp"

#include <gtest/gtest.h>

using namespace txrelay;

namespace {

// "é" is 2 bytes, "€" 3, "😀" 4: one code point each.
const std::string mixed = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";

TEST(utf8, counts_code_points_not_bytes) {
  EXPECT_EQ(count_code_points(""), 0u);
  EXPECT_EQ(count_code_points("abc"), 3u);
  EXPECT_EQ(mixed.size(), 11u);
  EXPECT_EQ(count_code_points(mixed), 5u);
}

TEST(utf8, a_prefix_never_splits_a_sequence) {
  EXPECT_EQ(prefix_code_points(mixed, 0), "");
  EXPECT_EQ(prefix_code_points(mixed, 1), "a");
  EXPECT_EQ(prefix_code_points(mixed, 2), "a\xc3\xa9");
  EXPECT_EQ(prefix_code_points(mixed, 3), "a\xc3\xa9\xe2\x82\xac");
  EXPECT_EQ(prefix_code_points(mixed, 4), "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
  EXPECT_EQ(prefix_code_points(mixed, 5), mixed);
  EXPECT_EQ(prefix_code_points(mixed, 50), mixed);
}

TEST(utf8, truncation_keeps_short_text_and_fits_the_marker_within_the_limit) {
  EXPECT_EQ(truncate_code_points("hello", 5, "…"), "hello");
  auto cut = truncate_code_points("hello world", 6, "…");
  EXPECT_EQ(cut, "hello…");
  EXPECT_EQ(count_code_points(cut), 6u);
  EXPECT_EQ(truncate_code_points(mixed, 4, "…"), "a\xc3\xa9\xe2\x82\xac…");
  // A limit below the marker: what fits of the marker.
  EXPECT_EQ(truncate_code_points("hello world", 2, "[cut]"), "[c");
}

TEST(utf8, one_line_excerpt_flattens_and_cuts) {
  EXPECT_EQ(one_line_excerpt("channel_not_found"), "channel_not_found");
  EXPECT_EQ(one_line_excerpt("  two\r\nlines\t\tand\x01 more \n"), "two lines and more");
  auto long_text = std::string(300, 'x');
  auto excerpt = one_line_excerpt(long_text, 200);
  EXPECT_EQ(count_code_points(excerpt), 200u);
  EXPECT_EQ(excerpt.substr(excerpt.size() - 3), "…");
  // Multi-byte text is cut between code points.
  std::string euros;
  for (int i = 0; i < 300; ++i)
    euros += "\xe2\x82\xac";
  auto cut = one_line_excerpt(euros, 10);
  EXPECT_EQ(cut, std::string{euros.substr(0, 27)} + "…");
  EXPECT_EQ(one_line_excerpt("abc", 0), "");
}

} // namespace

namespace {

TEST(utf8, anything_a_server_sends_becomes_valid_text) {
  EXPECT_EQ(valid_utf8(mixed), mixed);
  const std::string fffd = "\xef\xbf\xbd";
  EXPECT_EQ(valid_utf8(std::string{"a\0b", 3}), "a" + fffd + "b"); // PostgreSQL text cannot hold NUL
  EXPECT_EQ(valid_utf8("\xff"), fffd);
  EXPECT_EQ(valid_utf8("\xc0\xaf"), fffd + fffd);             // overlong '/'
  EXPECT_EQ(valid_utf8("\xed\xa0\x80"), fffd + fffd + fffd);  // a surrogate
  EXPECT_EQ(valid_utf8("\xf4\x90\x80\x80"), fffd + fffd + fffd + fffd); // past U+10FFFF
  EXPECT_EQ(valid_utf8("ok\xe2\x82"), "ok" + fffd + fffd);    // cut short
}

TEST(utf8, a_byte_prefix_ends_between_code_points) {
  EXPECT_EQ(prefix_bytes(mixed, 100), mixed);
  EXPECT_EQ(prefix_bytes(mixed, 2), "a");      // not half of "é"
  EXPECT_EQ(prefix_bytes(mixed, 3), "a\xc3\xa9");
  EXPECT_EQ(prefix_bytes(mixed, 5), "a\xc3\xa9");
}

} // namespace

namespace {

TEST(utf8, text_is_what_valid_utf8_keeps_as_it_is) {
  EXPECT_TRUE(is_text(mixed));
  EXPECT_TRUE(is_text(""));
  EXPECT_FALSE(is_text(std::string{"a\0b", 3}));
  EXPECT_FALSE(is_text("\xc0\xaf"));
  EXPECT_FALSE(is_text("ok\xe2\x82"));
}

} // namespace
