#include "config/config.hpp"

#include <gtest/gtest.h>

namespace txrelay {
namespace {

TEST(parse_listen_address, host_and_port) {
  auto a = parse_listen_address("127.0.0.1:8080");
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8080);
  auto b = parse_listen_address("localhost:65535");
  ASSERT_TRUE(b) << b.error();
  EXPECT_EQ(b->host, "localhost");
  EXPECT_EQ(b->port, 65535);
}

TEST(parse_listen_address, port_zero_means_any_free_port) {
  auto a = parse_listen_address("127.0.0.1:0");
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ(a->port, 0);
}

TEST(parse_listen_address, bracketed_ipv6_host_loses_its_brackets) {
  auto a = parse_listen_address("[::1]:8080");
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 8080);
  auto b = parse_listen_address("[::]:0");
  ASSERT_TRUE(b) << b.error();
  EXPECT_EQ(b->host, "::");
}

TEST(parse_listen_address, rejects_malformed_addresses) {
  struct bad {
    const char* text;
    const char* problem;
  };
  for (auto [text, problem] : {bad{"127.0.0.1", "no port"}, bad{"127.0.0.1:", "empty port"},
                               bad{":8080", "no host"}, bad{"", "no port"}, bad{"host:80a", "not a number"},
                               bad{"host:65536", "out of range"}, bad{"host:99999999999", "out of range"},
                               bad{"host:-1", "not a number"}, bad{"::1:8080", "brackets"},
                               bad{"[::1:8080", "closing ']'"}, bad{"[::1]8080", "no :PORT"},
                               bad{"[]:8080", "no IPv6 address"}, bad{"[::1]:", "empty port"},
                               bad{"my host:80", "invalid host"}}) {
    auto r = parse_listen_address(text);
    ASSERT_FALSE(r) << text;
    EXPECT_NE(r.error().find(problem), std::string::npos) << text << ": " << r.error();
  }
}

} // namespace
} // namespace txrelay
