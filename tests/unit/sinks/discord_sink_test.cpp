// What Discord's execute-webhook responses mean, and the message it is sent.
#include "sinks/discord_sink.hpp"

#include "core/utf8.hpp"
#include "sinks/chat_text.hpp"
#include "support/json_probe.hpp"

#include <gtest/gtest.h>

using namespace txrelay;
using namespace txrelay::testing;

namespace {

const time_point now = time_point{std::chrono::seconds{1'784'000'000}};

http_outcome response(int status, std::string body = {}, http::header_list headers = {}) {
  http_outcome o;
  o.transport_ok = true;
  o.status = status;
  o.body = std::move(body);
  o.headers = std::move(headers);
  return o;
}

delivery_job job_with(std::string payload) {
  delivery_job job;
  job.id = "d1";
  job.event_id = "e1";
  job.topic = "feedback";
  job.key = "user-42";
  job.payload_json = std::move(payload);
  job.created_at = "2026-11-22T20:52:25.123456Z";
  return job;
}

TEST(discord_classification, no_content_and_ok_are_delivered) {
  for (int s : {200, 204}) {
    auto r = classify_discord_response(response(s), now);
    EXPECT_EQ(r.outcome, attempt_result::verdict::delivered) << s;
    EXPECT_EQ(r.http_status, s);
    EXPECT_FALSE(r.retry_after);
    EXPECT_FALSE(r.sink_broken);
  }
}

TEST(discord_classification, an_exhausted_bucket_pauses_the_sink_even_when_delivered) {
  auto r = classify_discord_response(
    response(204, {}, {{"X-RateLimit-Limit", "5"}, {"X-RateLimit-Remaining", "0"}, {"X-RateLimit-Reset-After", "1.337"},
                       {"X-RateLimit-Reset", "1784000001.337"}, {"X-RateLimit-Bucket", "abcd"}}),
    now);
  EXPECT_EQ(r.outcome, attempt_result::verdict::delivered);
  EXPECT_EQ(r.retry_after, millis{1337});
  auto remaining = classify_discord_response(
    response(204, {}, {{"X-RateLimit-Remaining", "3"}, {"X-RateLimit-Reset-After", "1.337"}}), now);
  EXPECT_FALSE(remaining.retry_after);
}

TEST(discord_classification, too_many_requests_waits_for_the_body_float) {
  auto r = classify_discord_response(
    response(429, R"({"message": "You are being rate limited.", "retry_after": 64.57, "global": false})",
             {{"Retry-After", "65"}, {"X-RateLimit-Scope", "user"}}),
    now);
  EXPECT_EQ(r.outcome, attempt_result::verdict::retry);
  EXPECT_EQ(r.http_status, 429);
  EXPECT_EQ(r.retry_after, millis{64'570});
  EXPECT_EQ(r.error, "HTTP 429: You are being rate limited.");
  EXPECT_FALSE(r.sink_broken);
}

TEST(discord_classification, too_many_requests_without_a_body_uses_the_header) {
  // Cloudflare in front of Discord answers 429 with its own page.
  auto r = classify_discord_response(response(429, "<html>slow down</html>", {{"Retry-After", "7"}}), now);
  EXPECT_EQ(r.outcome, attempt_result::verdict::retry);
  EXPECT_EQ(r.retry_after, millis{7000});
  EXPECT_EQ(r.error, "HTTP 429: <html>slow down</html>");
}

TEST(discord_classification, too_many_requests_keeps_the_longer_of_body_and_bucket) {
  auto r = classify_discord_response(
    response(429, R"({"message": "You are being rate limited.", "retry_after": 0.4, "global": true})",
             {{"X-RateLimit-Remaining", "0"}, {"X-RateLimit-Reset-After", "0.9"}}),
    now);
  EXPECT_EQ(r.retry_after, millis{900});
  EXPECT_NE(r.error.find("global"), std::string::npos) << r.error;
}

TEST(discord_classification, an_unknown_webhook_breaks_the_sink) {
  auto r = classify_discord_response(response(404, R"({"message": "Unknown Webhook", "code": 10015})"), now);
  EXPECT_EQ(r.outcome, attempt_result::verdict::permanent);
  EXPECT_TRUE(r.sink_broken);
  EXPECT_EQ(r.http_status, 404);
  EXPECT_EQ(r.error, "HTTP 404: Unknown Webhook (Discord code 10015)");
}

TEST(discord_classification, an_invalid_token_breaks_the_sink) {
  auto r = classify_discord_response(response(401, R"({"message": "Invalid Webhook Token", "code": 50027})"), now);
  EXPECT_EQ(r.outcome, attempt_result::verdict::permanent);
  EXPECT_TRUE(r.sink_broken);
  EXPECT_EQ(r.error, "HTTP 401: Invalid Webhook Token (Discord code 50027)");
}

TEST(discord_classification, other_client_errors_are_permanent_for_the_message_only) {
  auto r = classify_discord_response(
    response(400, R"({"code": 50035, "message": "Invalid Form Body", "errors": {"content": {"_errors": [)"
                  R"({"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]}}})"),
    now);
  EXPECT_EQ(r.outcome, attempt_result::verdict::permanent);
  EXPECT_FALSE(r.sink_broken);
  EXPECT_EQ(r.error, "HTTP 400: Invalid Form Body (Discord code 50035)");
  // The codes only break the sink with the status Discord sends them with.
  EXPECT_FALSE(classify_discord_response(response(404, R"({"message": "Unknown Channel", "code": 10003})"), now)
                 .sink_broken);
  EXPECT_FALSE(classify_discord_response(response(404, "not found"), now).sink_broken);
  EXPECT_FALSE(classify_discord_response(response(403, R"({"message": "Missing Access", "code": 50001})"), now)
                 .sink_broken);
  EXPECT_EQ(classify_discord_response(response(403, R"({"message": "Missing Access", "code": 50001})"), now).outcome,
            attempt_result::verdict::permanent);
}

TEST(discord_classification, server_errors_redirects_and_transport_failures_are_retried) {
  for (int s : {301, 500, 502, 503, 504}) {
    auto r = classify_discord_response(response(s, "upstream trouble"), now);
    EXPECT_EQ(r.outcome, attempt_result::verdict::retry) << s;
    EXPECT_FALSE(r.sink_broken);
    EXPECT_EQ(r.error.rfind("HTTP " + std::to_string(s) + ": upstream trouble", 0), 0u) << r.error;
  }
  EXPECT_EQ(classify_discord_response(response(503, "", {{"Retry-After", "2"}}), now).retry_after, millis{2000});
  http_outcome o;
  o.transport_error = "connect: Connection refused";
  auto r = classify_discord_response(o, now);
  EXPECT_EQ(r.outcome, attempt_result::verdict::retry);
  EXPECT_EQ(r.http_status, 0);
  EXPECT_EQ(r.error, "connect: Connection refused");
}

TEST(discord_classification, a_long_discord_message_is_cut) {
  auto r = classify_discord_response(
    response(400, R"({"code": 50006, "message": ")" + std::string(1000, 'm') + R"("})"), now);
  EXPECT_LT(r.error.size(), 300u);
  EXPECT_NE(r.error.find("(Discord code 50006)"), std::string::npos);
}

TEST(discord_body, is_content_with_mentions_disabled) {
  auto job = job_with(R"({"content":"@everyone look <@123>"})");
  auto body = discord_body(job);
  EXPECT_EQ(json_string_at(body, "/content"), default_chat_text(job));
  EXPECT_EQ(json_raw_at(body, "/allowed_mentions"), R"({"parse":[]})");
  EXPECT_EQ(json_array_size(body, "/allowed_mentions/parse"), 0);
}

TEST(discord_body, content_over_2000_code_points_is_truncated_not_refused) {
  std::string emoji;
  for (int i = 0; i < 3000; ++i)
    emoji += "\xf0\x9f\x98\x80"; // 😀: 4 bytes, 1 code point
  auto job = job_with(R"({"content":")" + emoji + R"("})");
  auto body = discord_body(job);
  auto content = json_string_at(body, "/content");
  ASSERT_TRUE(content) << "still valid JSON with whole code points";
  EXPECT_EQ(count_code_points(*content), discord_content_limit);
  EXPECT_EQ(content->substr(content->size() - std::string{chat_truncation_marker}.size()), chat_truncation_marker);
  EXPECT_EQ(*content, discord_content(job));
  // Exactly at the limit is not cut.
  auto at_limit = job_with("{}");
  auto frame = count_code_points(default_chat_text(at_limit));
  at_limit.payload_json = R"({"c":")" + std::string(discord_content_limit - frame - 11, 'x') + R"("})";
  ASSERT_EQ(count_code_points(default_chat_text(at_limit)), discord_content_limit);
  EXPECT_EQ(discord_content(at_limit), default_chat_text(at_limit));
}

} // namespace
