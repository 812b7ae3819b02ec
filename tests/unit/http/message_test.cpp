// Plain-data requests: header lookup and the path without its query.
#include "http/message.hpp"

#include <gtest/gtest.h>

using namespace txrelay::http;

TEST(find_header, ignores_case_and_returns_the_first_match) {
  header_list headers{{"Content-Type", "application/json"}, {"X-Twice", "one"}, {"x-twice", "two"}};
  EXPECT_EQ(find_header(headers, "content-type"), "application/json");
  EXPECT_EQ(find_header(headers, "CONTENT-TYPE"), "application/json");
  EXPECT_EQ(find_header(headers, "x-TWICE"), "one");
}

TEST(find_header, is_empty_when_absent) {
  header_list headers{{"Content-Type", "text/plain"}};
  EXPECT_TRUE(find_header(headers, "content-length").empty());
  EXPECT_TRUE(find_header(headers, "content-typ").empty());
  EXPECT_TRUE(find_header({}, "anything").empty());
}

TEST(request, path_drops_the_query) {
  request r;
  r.target = "/v1/events?limit=10&after=x";
  EXPECT_EQ(r.path(), "/v1/events");
  r.target = "/v1/events";
  EXPECT_EQ(r.path(), "/v1/events");
  r.target = "/?";
  EXPECT_EQ(r.path(), "/");
}

TEST(request, header_uses_the_case_insensitive_lookup) {
  request r;
  r.headers = {{"Idempotency-Key", "abc"}};
  EXPECT_EQ(r.header("idempotency-key"), "abc");
  EXPECT_TRUE(r.header("authorization").empty());
}

TEST(request, query_param_decodes_the_first_of_its_name) {
  request r;
  r.target = "/v1/sinks/x/dead?limit=10&after=01a2-x&q=a+b%2Fc&limit=99&empty=&bare";
  EXPECT_EQ(r.query_param("limit"), "10"); // the first of a repeated name
  EXPECT_EQ(r.query_param("after"), "01a2-x");
  EXPECT_EQ(r.query_param("q"), "a b/c");
  EXPECT_EQ(r.query_param("empty"), "");
  EXPECT_EQ(r.query_param("bare"), "");
  EXPECT_EQ(r.query_param("missing"), std::nullopt);
  r.target = "/x?bad=%zz&cut=%4";
  EXPECT_EQ(r.query_param("bad"), "%zz"); // as sent: no valid value looks like that
  EXPECT_EQ(r.query_param("cut"), "%4");
  r.target = "/x";
  EXPECT_EQ(r.query_param("limit"), std::nullopt);
}
