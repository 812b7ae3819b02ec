// The default chat rendering shared by the Discord and Slack sinks.
#include "sinks/chat_text.hpp"

#include "core/utf8.hpp"

#include <gtest/gtest.h>

using namespace txrelay;

namespace {

delivery_job job_with(std::string payload, std::optional<std::string> key = "user-42") {
  delivery_job job;
  job.id = "d1";
  job.event_id = "e1";
  job.topic = "feedback";
  job.key = std::move(key);
  job.payload_json = std::move(payload);
  job.created_at = "2026-11-22T20:52:25.123456Z";
  return job;
}

TEST(chat_text, names_the_topic_and_key_and_fences_the_pretty_payload) {
  auto text = default_chat_text(job_with(R"({"user_id":42,"tags":["a","b"],"empty":{},"none":[ ]})"));
  EXPECT_EQ(text, "topic: feedback, key: user-42\n"
                  "```json\n"
                  "{\n"
                  "  \"user_id\": 42,\n"
                  "  \"tags\": [\n"
                  "    \"a\",\n"
                  "    \"b\"\n"
                  "  ],\n"
                  "  \"empty\": {},\n"
                  "  \"none\": []\n"
                  "}\n"
                  "```");
  EXPECT_EQ(default_chat_text(job_with("{}", std::nullopt)), "topic: feedback\n```json\n{}\n```");
}

TEST(chat_text, strings_are_copied_as_they_are) {
  EXPECT_EQ(pretty_json_for_fence(R"({"s":"a, {b}: [c] \"q\" \\"})"), "{\n  \"s\": \"a, {b}: [c] \\\"q\\\" \\\\\"\n}");
  // Whitespace the client sent is replaced by the fence's own layout.
  EXPECT_EQ(pretty_json_for_fence("{ \"a\" :\n 1 }"), "{\n  \"a\": 1\n}");
}

TEST(chat_text, a_triple_backtick_cannot_close_the_fence) {
  auto pretty = pretty_json_for_fence(R"({"code":"```rm -rf```","tick":"`"})");
  EXPECT_EQ(pretty.find("```"), std::string::npos) << pretty;
  EXPECT_NE(pretty.find(R"(\u0060\u0060\u0060rm -rf)"), std::string::npos) << pretty;
  // A lone backtick is left alone when no fence can be closed.
  EXPECT_EQ(pretty_json_for_fence(R"({"tick":"`"})"), "{\n  \"tick\": \"`\"\n}");
}

TEST(chat_text, a_text_within_the_limit_is_not_cut) {
  auto job = job_with(R"({"c":"hi"})");
  auto full = default_chat_text(job);
  EXPECT_EQ(default_chat_text(job, count_code_points(full)), full);
}

TEST(chat_text, a_long_text_is_cut_inside_the_fence_and_marked) {
  std::string content;
  for (int i = 0; i < 1500; ++i)
    content += "\xc3\xa9"; // é: 2 bytes, 1 code point
  auto job = job_with(R"({"content":")" + content + content + R"("})");
  auto text = default_chat_text(job, 2000);
  EXPECT_EQ(count_code_points(text), 2000u);
  EXPECT_LT(text.size(), 4000u);
  EXPECT_EQ(text.substr(text.size() - std::string{chat_truncation_marker}.size()), chat_truncation_marker);
  EXPECT_NE(text.find("\n```\n" + std::string{chat_truncation_marker}), std::string::npos) << "the fence is closed";
  EXPECT_EQ(text.rfind("topic: feedback, key: user-42\n```json\n{\n", 0), 0u);
  // Every cut is between code points: each é is whole.
  auto body_start = text.find("\"content\": \"") + 12;
  auto body_end = text.find("\n```\n");
  auto cut = text.substr(body_start, body_end - body_start);
  EXPECT_EQ(cut.size() % 2, 0u);
  for (std::size_t i = 0; i < cut.size(); i += 2)
    ASSERT_EQ(cut.substr(i, 2), "\xc3\xa9") << "at byte " << i;
}

TEST(chat_text, a_limit_smaller_than_the_frame_still_holds) {
  auto text = default_chat_text(job_with(R"({"c":"hello"})"), 20);
  EXPECT_LE(count_code_points(text), 20u);
  EXPECT_NE(text.find("…"), std::string::npos);
}

} // namespace
