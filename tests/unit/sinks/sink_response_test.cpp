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
