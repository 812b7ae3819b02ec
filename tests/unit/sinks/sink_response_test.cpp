// Reading waits out of any HTTP sink's response, and keeping the url's
// credential out of errors.
#include "sinks/sink_response.hpp"

#include <gtest/gtest.h>

using namespace txrelay;

namespace {

const time_point now = time_point{std::chrono::seconds{1'784'000'000}};

TEST(sink_response, header_names_are_case_insensitive) {
  http_outcome o;
  o.transport_ok = true;
  o.status = 204;
  o.headers = {{"x-RATELIMIT-remaining", "0"}, {"X-RateLimit-Reset-After", "0.25"}, {"retry-AFTER", "3"}};
  EXPECT_EQ(rate_limit_wait(o, now), millis{250});
  EXPECT_EQ(retry_after_header(o, now), millis{3000});
  o.transport_ok = false; // headers of no response mean nothing
  EXPECT_FALSE(rate_limit_wait(o, now));
  EXPECT_FALSE(retry_after_header(o, now));
}

TEST(sink_response, the_target_and_its_token_are_redacted) {
  const std::string target = "/api/webhooks/123456789012345678/TOKEN_abcdefghijklmnop";
  std::string error = "HTTP 404: Cannot POST " + target + " (token TOKEN_abcdefghijklmnop, id 123456789012345678)";
  redact_target(error, target);
  EXPECT_EQ(error, "HTTP 404: Cannot POST … (token …, id …)");

  std::string slack = "HTTP 400: bad /services/T0001/B0002/XXXXXXXXXXXXXXXXXXXXXXXX?x=1";
  redact_target(slack, "/services/T0001/B0002/XXXXXXXXXXXXXXXXXXXXXXXX?x=1");
  EXPECT_EQ(slack, "HTTP 400: bad …");

  // Route words are left alone; they are no secret and make errors readable.
  std::string plain = "HTTP 404: Unknown Webhook on api webhooks";
  redact_target(plain, "/api/webhooks/1/2");
  EXPECT_EQ(plain, "HTTP 404: Unknown Webhook on api webhooks");
}

} // namespace

namespace {

http_outcome answered(int status, std::string body) {
  http_outcome o;
  o.transport_ok = true;
  o.status = status;
  o.body = std::move(body);
  return o;
}

TEST(sink_response, an_excerpt_keeps_the_first_kibibyte_without_credentials) {
  auto redact = [](std::string& text) { redact_secret(text, "tok_secret_value"); };
  EXPECT_EQ(response_excerpt(answered(500, "down"), redact), "down");
  EXPECT_EQ(response_excerpt(answered(500, ""), redact), "");
  http_outcome lost;
  EXPECT_EQ(response_excerpt(lost, redact), "");
  auto long_body = std::string(1020, 'a') + "tok_secret_value" + std::string(2000, 'b');
  auto excerpt = response_excerpt(answered(500, long_body), redact);
  EXPECT_LE(excerpt.size(), response_excerpt_limit);
  EXPECT_EQ(excerpt.find("tok_"), std::string::npos) << "a secret across the cut left its start behind";
  auto echoed = response_excerpt(answered(401, R"({"header":"Authorization: bearer abc.def-123"})"), {});
  EXPECT_EQ(echoed, R"({"header":"Authorization: bearer …"})");
  EXPECT_EQ(response_excerpt(answered(500, std::string{"a\0\xff", 3}), {}), "a\xef\xbf\xbd\xef\xbf\xbd");
}

} // namespace

namespace {

TEST(sink_response, a_token_in_the_query_is_redacted_too) {
  std::string text = "invalid token abcdefghijklmnopqrstuvwx for team 7";
  redact_target(text, "/hooks/in?team=7&token=abcdefghijklmnopqrstuvwx");
  EXPECT_EQ(text, "invalid token … for team 7");
}

} // namespace
