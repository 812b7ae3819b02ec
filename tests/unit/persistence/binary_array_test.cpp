// The binary array encoding, byte for byte: what array_recv expects.
#include "persistence/binary_array.hpp"

#include <gtest/gtest.h>

using txrelay::pg::binary_array;

namespace {

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string header(std::uint32_t has_null, std::uint32_t oid, std::uint32_t count) {
  return be32(1) + be32(has_null) + be32(oid) + be32(count) + be32(1);
}

} // namespace

TEST(binary_array, empty_array_has_one_dimension_of_length_zero) {
  binary_array a{binary_array::element::text};
  EXPECT_EQ(a.bytes(), header(0, 25, 0));
  EXPECT_EQ(a.size(), 0u);
}

TEST(binary_array, text_elements_are_length_prefixed_and_unescaped) {
  binary_array a{binary_array::element::text};
  a.add_text(R"({"q":"a \"b\", {c}"})");
  a.add_text("");
  EXPECT_EQ(a.bytes(), header(0, 25, 2) + be32(20) + R"({"q":"a \"b\", {c}"})" + be32(0));
}

TEST(binary_array, a_null_sets_the_flag_and_has_length_minus_one) {
  binary_array a{binary_array::element::text};
  a.add_text("x");
  a.add_null();
  EXPECT_EQ(a.bytes(), header(1, 25, 2) + be32(1) + "x" + be32(0xffffffff));
}

TEST(binary_array, uuids_travel_as_sixteen_bytes) {
  binary_array a{binary_array::element::uuid};
  ASSERT_TRUE(a.add_uuid("0192F3A4-5b6c-7d8e-9f00-aabbccddeeff"));
  std::string raw("\x01\x92\xf3\xa4\x5b\x6c\x7d\x8e\x9f\x00\xaa\xbb\xcc\xdd\xee\xff", 16); // holds a NUL
  ASSERT_EQ(raw.size(), 16u);
  EXPECT_EQ(a.bytes(), header(0, 2950, 1) + be32(16) + raw);
}

TEST(binary_array, something_that_is_not_a_uuid_is_refused_and_not_added) {
  binary_array a{binary_array::element::uuid};
  EXPECT_FALSE(a.add_uuid("not-a-uuid"));
  EXPECT_FALSE(a.add_uuid("0192f3a45b6c7d8e9f00aabbccddeeff")); // canonical form only
  EXPECT_FALSE(a.add_uuid("0192f3a4-5b6c-7d8e-9f00-aabbccddeefg"));
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(a.bytes(), header(0, 2950, 0));
}

TEST(binary_array, a_text_array_takes_no_uuid) {
  binary_array a{binary_array::element::text};
  EXPECT_FALSE(a.add_uuid("0192f3a4-5b6c-7d8e-9f00-aabbccddeeff"));
  EXPECT_EQ(a.size(), 0u);
}
