// What Slack's incoming-webhook responses mean, and the message it is sent.
#include "sinks/slack_sink.hpp"

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

TEST(slack_classification, ok_is_delivered) {
  auto r = classify_slack_response(response(200, "ok"), now);
  EXPECT_EQ(r.outcome, attempt_result::verdict::delivered);
  EXPECT_EQ(r.http_status, 200);
  EXPECT_TRUE(r.error.empty());
  EXPECT_FALSE(r.retry_after);
}

TEST(slack_classification, too_many_requests_waits_for_retry_after) {
  auto r = classify_slack_response(response(429, "rate_limited", {{"Retry-After", "30"}}), now);
  EXPECT_EQ(r.outcome, attempt_result::verdict::retry);
  EXPECT_EQ(r.retry_after, millis{30'000});
  EXPECT_EQ(r.error, "HTTP 429: rate_limited");
  EXPECT_FALSE(classify_slack_response(response(429), now).retry_after);
}

TEST(slack_classification, the_documented_errors_are_permanent_with_the_body_as_error) {
  struct known {
    int status;
    const char* body;
  };
  for (auto [status, body] : {known{400, "invalid_payload"}, known{400, "user_not_found"},
                              known{403, "action_prohibited"}, known{404, "channel_not_found"},
                              known{404, "no_service"}, known{410, "channel_is_archived"}}) {
    auto r = classify_slack_response(response(status, body), now);
    EXPECT_EQ(r.outcome, attempt_result::verdict::permanent) << status << " " << body;
    EXPECT_EQ(r.http_status, status);
    EXPECT_EQ(r.error, "HTTP " + std::to_string(status) + ": " + body);
  }
}

TEST(slack_classification, server_errors_and_transport_failures_are_retried) {
  auto r = classify_slack_response(response(500, "rollup_error"), now);
  EXPECT_EQ(r.outcome, attempt_result::verdict::retry);
  EXPECT_EQ(r.error, "HTTP 500: rollup_error");
  EXPECT_EQ(classify_slack_response(response(503, "", {{"Retry-After", "4"}}), now).retry_after, millis{4000});
  EXPECT_EQ(classify_slack_response(response(502), now).error, "HTTP 502");
  http_outcome o;
  o.transport_error = "receive: timeout after 10000 ms";
  auto t = classify_slack_response(o, now);
  EXPECT_EQ(t.outcome, attempt_result::verdict::retry);
  EXPECT_EQ(t.error, "receive: timeout after 10000 ms");
}

TEST(slack_classification, a_long_error_body_is_cut_to_one_line) {
  auto r = classify_slack_response(response(400, "invalid_payload\n" + std::string(500, 'x')), now);
  EXPECT_EQ(r.error.rfind("HTTP 400: invalid_payload xxx", 0), 0u) << r.error;
  EXPECT_LT(r.error.size(), 220u);
}

TEST(slack_text, escapes_the_control_characters) {
  EXPECT_EQ(slack_escape("a & b <!channel> > c"), "a &amp; b &lt;!channel&gt; &gt; c");
  delivery_job job;
  job.topic = "alerts";
  job.payload_json = R"({"msg":"<!here> & <https://x|y>"})";
  auto text = slack_text(job);
  EXPECT_EQ(text, slack_escape(default_chat_text(job)));
  EXPECT_EQ(text.find('<'), std::string::npos);
  EXPECT_NE(text.find("&lt;!here&gt; &amp; &lt;https://x|y&gt;"), std::string::npos) << text;
  EXPECT_EQ(json_string_at(slack_body(job), "/text"), text);
}

} // namespace
