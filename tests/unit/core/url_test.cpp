#include "core/url.hpp"

#include <gtest/gtest.h>

namespace txrelay {
namespace {

url must_parse(std::string_view text) {
  auto u = parse_url(text);
  EXPECT_TRUE(u.has_value()) << (u ? "" : u.error());
  return u ? *u : url{};
}

std::string must_fail(std::string_view text) {
  auto u = parse_url(text);
  EXPECT_FALSE(u.has_value()) << "accepted a bad URL";
  return u ? "" : u.error();
}

TEST(parse_url, https_with_default_port) {
  auto u = must_parse("https://discord.com/api/webhooks/123/secret-token");
  EXPECT_EQ(u.scheme, "https");
  EXPECT_EQ(u.host, "discord.com");
  EXPECT_EQ(u.port, 443);
  EXPECT_EQ(u.target, "/api/webhooks/123/secret-token");
}

TEST(parse_url, http_with_default_port_and_query) {
  auto u = must_parse("http://example.com/hook?a=1&b=2");
  EXPECT_EQ(u.port, 80);
  EXPECT_EQ(u.target, "/hook?a=1&b=2");
}

TEST(parse_url, explicit_port) {
  auto u = must_parse("http://127.0.0.1:8080/x");
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, 8080);
  EXPECT_EQ(must_parse("https://h:1/").port, 1);
  EXPECT_EQ(must_parse("https://h:65535/").port, 65535);
}

TEST(parse_url, scheme_and_host_are_case_insensitive) {
  auto u = must_parse("HTTPS://Example.COM/Path");
  EXPECT_EQ(u.scheme, "https");
  EXPECT_EQ(u.host, "example.com");
  EXPECT_EQ(u.target, "/Path"); // the path keeps its case
}

TEST(parse_url, missing_path_becomes_slash) {
  EXPECT_EQ(must_parse("https://example.com").target, "/");
  EXPECT_EQ(must_parse("https://example.com:8443").target, "/");
  EXPECT_EQ(must_parse("https://example.com?x=1").target, "/?x=1");
}

TEST(parse_url, fragment_is_dropped) {
  EXPECT_EQ(must_parse("https://example.com/a?b=c#frag").target, "/a?b=c");
  EXPECT_EQ(must_parse("https://example.com#frag").target, "/");
}

TEST(parse_url, ipv6_literal) {
  auto u = must_parse("http://[::1]:9000/hook");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 9000);
  EXPECT_EQ(u.target, "/hook");
  auto v = must_parse("https://[2001:db8::7]/");
  EXPECT_EQ(v.host, "2001:db8::7");
  EXPECT_EQ(v.port, 443);
  EXPECT_EQ(v.redacted(), "https://[2001:db8::7]:443/…");
}

TEST(parse_url, rejects_other_schemes) {
  EXPECT_NE(must_fail("ftp://example.com/").find("ftp"), std::string::npos);
  must_fail("file:///etc/passwd");
  must_fail("example.com/path");
  must_fail("://example.com/");
}

TEST(parse_url, rejects_bad_hosts) {
  must_fail("https:///path");
  must_fail("https://:443/path");
  must_fail("https://[]/");
  must_fail("https://[::1/");
  must_fail("https://[::1]x/");
  must_fail("https://[not-v6]/");
  must_fail("https://exa mple.com/");
  must_fail("https://::1/");
}

TEST(parse_url, rejects_bad_ports) {
  EXPECT_NE(must_fail("https://h:0/").find("range"), std::string::npos);
  EXPECT_NE(must_fail("https://h:65536/").find("range"), std::string::npos);
  EXPECT_NE(must_fail("https://h:99999999999999999999/").find("range"), std::string::npos);
  EXPECT_NE(must_fail("https://h:8o/").find("number"), std::string::npos);
  EXPECT_NE(must_fail("https://h:-1/").find("number"), std::string::npos);
  must_fail("https://h:/");
  must_fail("https://[::1]:/");
}

TEST(parse_url, rejects_userinfo_clearly) {
  auto err = must_fail("https://user:hunter2@example.com/hook");
  EXPECT_NE(err.find("user:password@"), std::string::npos) << err;
  EXPECT_EQ(err.find("hunter2"), std::string::npos) << err;
}

TEST(parse_url, rejects_targets_that_would_break_the_request_line) {
  must_fail("https://example.com/a b");
  must_fail("https://example.com/a\r\nHost: evil");
  must_fail(std::string_view{"https://example.com/a\0b", 23});
}

TEST(parse_url, errors_never_contain_the_path_or_query) {
  const char* bad[] = {
    "https://h:0/api/webhooks/1/SECRETTOKEN",
    "https://u:p@h/api/webhooks/1/SECRETTOKEN",
    "https://[::1/api/webhooks/1/SECRETTOKEN",
    "https://h/api/webhooks/1/SECRETTOKEN?x=1 2",
    "gopher://h/SECRETTOKEN",
    "h/SECRETTOKEN?u=http://x",
    "h/SECRETTOKEN://x",
  };
  for (auto text : bad) {
    auto err = must_fail(text);
    EXPECT_FALSE(err.empty()) << text;
    EXPECT_EQ(err.find("SECRETTOKEN"), std::string::npos) << err;
  }
}

TEST(url, redacted_hides_path_and_query) {
  auto u = must_parse("https://discord.com/api/webhooks/123/secret-token?wait=true");
  EXPECT_EQ(u.redacted(), "https://discord.com:443/…");
  EXPECT_EQ(must_parse("http://localhost:8080/x").redacted(), "http://localhost:8080/…");
}

} // namespace
} // namespace txrelay
