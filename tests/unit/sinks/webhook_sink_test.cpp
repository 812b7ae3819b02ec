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

TEST(retry_after, accepts_seconds_and_http_dates) {
  EXPECT_EQ(parse_retry_after("0", now), millis{0});
  EXPECT_EQ(parse_retry_after(" 120 ", now), millis{120'000});
  auto at = now + std::chrono::seconds{90};
  auto t = wall_clock::to_time_t(at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  EXPECT_EQ(parse_retry_after(buf, now), millis{90'000});
  // A date in the past means "now".
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), millis{0});
}

TEST(retry_after, is_capped_at_a_day) {
  EXPECT_EQ(parse_retry_after("99999999999", now), millis{86'400'000});
  EXPECT_EQ(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now), millis{86'400'000});
}

TEST(retry_after, rejects_garbage) {
  EXPECT_FALSE(parse_retry_after("", now));
  EXPECT_FALSE(parse_retry_after("-5", now));
  EXPECT_FALSE(parse_retry_after("soon", now));
  EXPECT_FALSE(parse_retry_after("12abc", now));
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
