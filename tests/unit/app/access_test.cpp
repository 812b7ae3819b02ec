#include "app/access.hpp"

#include <gtest/gtest.h>

namespace txrelay {
namespace {

TEST(required_access, follows_method_and_path) {
  EXPECT_EQ(required_access("GET", "/healthz"), access::open);
  EXPECT_EQ(required_access("POST", "/v1/events"), access::produce);
  EXPECT_EQ(required_access("POST", "/v1/events:batch"), access::produce);
  EXPECT_EQ(required_access("GET", "/v1/events"), access::read); // a 405, for those who may read
  EXPECT_EQ(required_access("GET", "/v1/events/0193a1b2-0000-7000-8000-000000000000"), access::receipt);
  EXPECT_EQ(required_access("POST", "/v1/events/0193a1b2-0000-7000-8000-000000000000/replay"), access::admin);
  EXPECT_EQ(required_access("GET", "/v1/events/x/replay"), access::read);
  EXPECT_EQ(required_access("GET", "/metrics"), access::read);
  EXPECT_EQ(required_access("GET", "/v1/sinks"), access::read);
  EXPECT_EQ(required_access("POST", "/v1/sinks/hook/pause"), access::admin);
  EXPECT_EQ(required_access("DELETE", "/v1/sinks/hook"), access::read);
  EXPECT_EQ(required_access("POST", "/anything"), access::admin);
  EXPECT_EQ(required_access("GET", "/anything"), access::read);
}

TEST(required_access, console_files_are_open_to_get_only) {
  EXPECT_EQ(required_access("GET", "/ui"), access::open);
  EXPECT_EQ(required_access("GET", "/ui/"), access::open);
  EXPECT_EQ(required_access("GET", "/ui/app.js"), access::open);
  EXPECT_EQ(required_access("GET", "/uix"), access::read);
  EXPECT_EQ(required_access("POST", "/ui/app.js"), access::admin); // like any POST
  EXPECT_EQ(required_access("PUT", "/ui/app.js"), access::read);
}

TEST(required_access, any_key_may_ask_who_it_is) {
  EXPECT_EQ(required_access("GET", "/v1/whoami"), access::identify);
  for (auto role : {api_role::producer, api_role::reader, api_role::admin})
    EXPECT_TRUE(permits(role, access::identify));
  EXPECT_EQ(required_access("POST", "/v1/whoami"), access::admin);
}

TEST(permits, each_role_its_own) {
  for (auto a : {access::open, access::produce, access::receipt, access::read, access::admin})
    EXPECT_TRUE(permits(api_role::admin, a));
  EXPECT_TRUE(permits(api_role::producer, access::produce));
  EXPECT_TRUE(permits(api_role::producer, access::receipt));
  EXPECT_FALSE(permits(api_role::producer, access::read));
  EXPECT_FALSE(permits(api_role::producer, access::admin));
  EXPECT_FALSE(permits(api_role::reader, access::produce));
  EXPECT_TRUE(permits(api_role::reader, access::read));
  EXPECT_TRUE(permits(api_role::reader, access::receipt));
  EXPECT_FALSE(permits(api_role::reader, access::admin));
}

TEST(host_of, drops_the_port_and_lowercases) {
  EXPECT_EQ(host_of("TxRelay.Example.com:8080"), "txrelay.example.com");
  EXPECT_EQ(host_of("localhost"), "localhost");
  EXPECT_EQ(host_of("[::1]:8080"), "::1");
  EXPECT_EQ(host_of("[::1]"), "::1");
  EXPECT_EQ(host_of(""), "");
}

} // namespace
} // namespace txrelay
