#include "core/api_key.hpp"

#include <gtest/gtest.h>

namespace txrelay {
namespace {

api_key_set two_keys() {
  return api_key_set{{{"orders", api_role::producer, sha256_of("orders-key-0123456789")},
                      {"ops", api_role::admin, sha256_of("ops-key-0123456789abcd")}}};
}

TEST(api_key_set, finds_the_key_a_bearer_header_carries) {
  auto keys = two_keys();
  const auto* found = keys.authenticate("Bearer ops-key-0123456789abcd");
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->name, "ops");
  EXPECT_EQ(found->role, api_role::admin);
  // The scheme is case-insensitive (RFC 9110); the key is not.
  EXPECT_NE(keys.authenticate("bearer orders-key-0123456789"), nullptr);
  EXPECT_EQ(keys.authenticate("Bearer ORDERS-KEY-0123456789"), nullptr);
}

TEST(api_key_set, refuses_everything_else) {
  auto keys = two_keys();
  for (const char* header : {"", "Bearer", "Bearer ", "Basic b3BzOnB3", "Bearer orders-key-012345678",
                             "Bearer orders-key-0123456789 ", "Bearerorders-key-0123456789", "Token orders-key-0123456789"})
    EXPECT_EQ(keys.authenticate(header), nullptr) << header;
  EXPECT_EQ(api_key_set{}.authenticate("Bearer anything-at-all-0000"), nullptr);
}

TEST(api_key_digest, parses_64_hex_digits_in_either_case) {
  auto d = parse_key_digest("9F86D081884C7D659A2FEAA0C55AD015a3bf4f1b2b0b822cd15d6c15b0f00a08");
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, sha256_of("test"));
  EXPECT_FALSE(parse_key_digest("9f86d0"));
  EXPECT_FALSE(parse_key_digest(std::string(63, 'a') + "g"));
  EXPECT_FALSE(parse_key_digest(std::string(66, 'a')));
}

TEST(api_role, round_trips_by_name) {
  for (auto r : {api_role::producer, api_role::reader, api_role::admin})
    EXPECT_EQ(parse_api_role(to_string(r)), r);
  EXPECT_FALSE(parse_api_role("root"));
  EXPECT_FALSE(parse_api_role("Admin"));
}

} // namespace
} // namespace txrelay
