// What webhook responses mean, and the request a webhook delivery makes.
#include "sinks/webhook_sink.hpp"

#include <gtest/gtest.h>

using namespace txrelay;

namespace {

const time_point now = time_point{std::chrono::seconds{1'784'000'000}};

http_outcome response(int status, http::header_list headers = {}) {
  http_outcome o;
  o.transport_ok = true;
  o.status = status;
  o.headers = std::move(headers);
  return o;
}

TEST(webhook_classification, two_hundreds_are_delivered) {
  for (int s : {200, 201, 202, 204, 299})
    EXPECT_EQ(classify_webhook_response(response(s), now).outcome, attempt_result::verdict::delivered) << s;
}

TEST(webhook_classification, gone_is_permanent) {
  auto r = classify_webhook_response(response(410), now);
  EXPECT_EQ(r.outcome, attempt_result::verdict::permanent);
  EXPECT_EQ(r.http_status, 410);
}

TEST(webhook_classification, redirects_and_errors_are_retried) {
  for (int s : {301, 302, 307, 400, 404, 429, 500, 502, 503, 504}) {
    auto r = classify_webhook_response(response(s), now);
    EXPECT_EQ(r.outcome, attempt_result::verdict::retry) << s;
    EXPECT_EQ(r.http_status, s);
    EXPECT_NE(r.error.find(std::to_string(s)), std::string::npos);
  }
  EXPECT_NE(classify_webhook_response(response(302), now).error.find("redirect"), std::string::npos);
}

TEST(webhook_classification, transport_failures_are_retried_with_their_reason) {
  http_outcome o;
  o.transport_ok = false;
  o.transport_error = "connect: Connection refused";
  auto r = classify_webhook_response(o, now);
  EXPECT_EQ(r.outcome, attempt_result::verdict::retry);
  EXPECT_EQ(r.http_status, 0);
  EXPECT_EQ(r.error, "connect: Connection refused");
}

TEST(webhook_classification, retry_after_becomes_a_floor) {
  auto r = classify_webhook_response(response(429, {{"Retry-After", "7"}}), now);
  ASSERT_TRUE(r.retry_after);
  EXPECT_EQ(*r.retry_after, millis{7000});
}

TEST(webhook_classification, gone_breaks_the_sink) {
  // Standard Webhooks: 410 disables the endpoint, not just this message.
  auto r = classify_webhook_response(response(410), now);
  EXPECT_TRUE(r.sink_broken);
  EXPECT_NE(r.error.find("410"), std::string::npos);
  for (int s : {200, 400, 404, 429, 500})
    EXPECT_FALSE(classify_webhook_response(response(s), now).sink_broken) << s;
}

TEST(webhook_classification, abort_message_is_permanent_for_that_message_only) {
  for (int s : {400, 409, 422, 500}) {
    auto r = classify_webhook_response(response(s, {{"Webhook-Delivery", "abort-message"}}), now);
    EXPECT_EQ(r.outcome, attempt_result::verdict::permanent) << s;
    EXPECT_FALSE(r.sink_broken) << s;
    EXPECT_NE(r.error.find("abort-message"), std::string::npos) << r.error;
  }
  EXPECT_EQ(classify_webhook_response(response(500, {{"webhook-delivery", "ABORT-MESSAGE"}}), now).outcome,
            attempt_result::verdict::permanent);
  EXPECT_EQ(classify_webhook_response(response(500, {{"webhook-delivery", "retry"}}), now).outcome,
            attempt_result::verdict::retry);
  // A 2xx is delivered whatever else the receiver says.
  EXPECT_EQ(classify_webhook_response(response(200, {{"webhook-delivery", "abort-message"}}), now).outcome,
            attempt_result::verdict::delivered);
}

TEST(webhook_classification, an_exhausted_rate_limit_pauses_on_any_verdict) {
  http::header_list exhausted{{"X-RateLimit-Remaining", "0"}, {"X-RateLimit-Reset-After", "1.5"}};
  auto ok = classify_webhook_response(response(204, exhausted), now);
  EXPECT_EQ(ok.outcome, attempt_result::verdict::delivered);
  EXPECT_EQ(ok.retry_after, millis{1500});
  EXPECT_EQ(classify_webhook_response(response(500, exhausted), now).retry_after, millis{1500});
  EXPECT_FALSE(classify_webhook_response(response(204, {{"X-RateLimit-Remaining", "4"},
                                                        {"X-RateLimit-Reset-After", "1.5"}}), now).retry_after);
  // Both said: the longer wait.
  exhausted.emplace_back("Retry-After", "3");
  EXPECT_EQ(classify_webhook_response(response(429, exhausted), now).retry_after, millis{3000});
}

TEST(webhook_body, carries_the_event_with_its_payload_verbatim) {
  delivery_job job;
  job.id = "d1";
  job.event_id = "e1";
  job.topic = "feedback";
  job.key = "user-\"42\"";
  job.payload_json = R"({"a":[1,2,{"b":null}]})";
  job.created_at = "2026-11-22T20:52:25.123456Z";
  EXPECT_EQ(webhook_body(job), R"({"id":"e1","topic":"feedback","key":"user-\"42\"","payload":{"a":[1,2,{"b":null}]},)"
                               R"("created_at":"2026-11-22T20:52:25.123456Z"})");
  job.key.reset();
  EXPECT_NE(webhook_body(job).find(R"("key":null)"), std::string::npos);
}

} // namespace
