#include "cli/operator_views.hpp"

#include <gtest/gtest.h>

using namespace txrelay;
using namespace txrelay::cli;

namespace {

operator_command command(std::vector<std::string> args) {
  auto c = parse_operator_command(args);
  EXPECT_TRUE(c) << c.error();
  return c ? *c : operator_command{};
}

json_value parse(const std::string& text) {
  auto v = json_value::parse(text);
  EXPECT_TRUE(v) << v.error();
  return v ? *v : json_value{};
}

std::string rendered(const std::vector<std::string>& args, const std::string& answer) {
  auto text = render_answer(command(args), parse(answer));
  EXPECT_TRUE(text) << text.error();
  return text ? *text : std::string{};
}

const std::string event_id = "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b";
const std::string delivery_id = "0190a1b2-c3d4-7e5f-8a6b-000000000001";

TEST(operator_views, an_event_shows_its_fields_deliveries_and_failed_attempts) {
  auto text = rendered({"events", "get", event_id}, R"({
    "id": ")" + event_id + R"(", "topic": "order.paid", "key": null, "payload": {"n": 1},
    "created_at": "2026-12-01T16:02:03.000001Z", "routing": "routed",
    "deliveries": [
      {"id": ")" + delivery_id + R"(", "sink": "hook", "status": "dead", "attempts": 2, "next_attempt_at": null,
       "last_status": 500, "last_error": "HTTP 500", "updated_at": "2026-12-01T16:02:04Z",
       "attempt_history": [
         {"attempt": 1, "at": "2026-12-01T16:02:03.123Z", "duration_ms": 41, "outcome": "retry", "http_status": 500,
          "error_class": "status", "error": "HTTP 500", "response_excerpt": "oops\nsecond line"},
         {"attempt": 2, "at": "2026-12-01T16:02:04.000Z", "duration_ms": 5000, "outcome": "dead", "http_status": null,
          "error_class": "timeout", "error": "no answer", "response_excerpt": null}]},
      {"id": "d2", "sink": "log", "status": "delivered", "attempts": 1, "next_attempt_at": null,
       "last_status": null, "last_error": null, "updated_at": "2026-12-01T16:02:03Z", "attempt_history": []}]})");
  EXPECT_NE(text.find("event     " + event_id + "\n"), std::string::npos) << text;
  EXPECT_NE(text.find("key       -\n"), std::string::npos) << text;
  EXPECT_NE(text.find("payload   {\"n\":1}\n"), std::string::npos) << text;
  EXPECT_NE(text.find("DELIVERY"), std::string::npos) << text;
  EXPECT_NE(text.find(delivery_id + "  hook  dead"), std::string::npos) << text;
  EXPECT_NE(text.find("attempts to hook (delivery " + delivery_id + ")"), std::string::npos) << text;
  EXPECT_NE(text.find("retry"), std::string::npos) << text;
  EXPECT_NE(text.find("oops second line"), std::string::npos) << text; // one line per attempt
  EXPECT_NE(text.find("timeout"), std::string::npos) << text;
  // The delivery made at its first attempt has no history table.
  EXPECT_EQ(text.find("attempts to log"), std::string::npos) << text;
}

TEST(operator_views, an_event_from_a_server_without_attempt_history_still_renders) {
  auto text = rendered({"events", "get", event_id},
                       R"({"id":"e","topic":"t","key":"k","payload":{},"created_at":"c","routing":"pending","deliveries":[]})");
  EXPECT_NE(text.find("routing   pending\n"), std::string::npos) << text;
  EXPECT_NE(text.find("no deliveries"), std::string::npos) << text;
}

TEST(operator_views, a_search_page_lists_one_event_a_line_with_its_deliveries) {
  auto text = rendered({"events", "search"}, R"({"events": [
      {"id": "e2", "topic": "t", "key": "user-42", "created_at": "2026-12-01T16:00:01Z", "routing": "routed",
       "deliveries": [{"id": "d1", "sink": "hook", "status": "dead", "attempts": 3, "last_status": 500, "last_error": "x"},
                      {"id": "d2", "sink": "log", "status": "delivered", "attempts": 1, "last_status": null, "last_error": null}]},
      {"id": "e1", "topic": "t", "key": null, "created_at": "2026-12-01T16:00:00Z", "routing": "rejected", "deliveries": []}
    ], "next": "c1"})");
  EXPECT_EQ(text,
            "ID  CREATED_AT            TOPIC  KEY      ROUTING   DELIVERIES\n"
            "e2  2026-12-01T16:00:01Z  t      user-42  routed    hook:dead(3) log:delivered(1)\n"
            "e1  2026-12-01T16:00:00Z  t      -        rejected  -\n");
  EXPECT_EQ(rendered({"events", "search"}, R"({"events": [], "next": null})"), "no events match\n");
}

TEST(operator_views, sinks_show_state_backlog_and_last_error) {
  auto text = rendered({"sinks", "list"}, R"({"sinks": [
      {"name": "hook", "kind": "webhook", "state": "paused", "paused": true, "pending": 4,
       "oldest_pending_at": "2026-12-01T16:00:00Z", "in_flight": 0, "delivered": 10, "failed_attempts": 2, "dead": 1,
       "last_error": "HTTP 500"}]})");
  EXPECT_NE(text.find("NAME  KIND     STATE   PAUSED  PENDING"), std::string::npos) << text;
  EXPECT_NE(text.find("hook  webhook  paused  yes"), std::string::npos) << text;
  EXPECT_NE(text.find("HTTP 500"), std::string::npos) << text;
}

TEST(operator_views, dead_letters_and_sink_actions) {
  auto dead = rendered({"dead", "list", "hook"}, R"({"dead": [
      {"id": "d1", "event_id": "e1", "sink": "hook", "topic": "t", "key": null, "attempts": 2, "last_status": 500,
       "last_error": "HTTP 500", "died_at": "2026-12-01T16:00:09Z", "created_at": "2026-12-01T16:00:00Z"}], "next": null})");
  EXPECT_NE(dead.find("d1        e1     hook  t      -"), std::string::npos) << dead;
  EXPECT_EQ(rendered({"dead", "list", "hook"}, R"({"dead": [], "next": null})"), "no dead deliveries for sink hook\n");

  EXPECT_EQ(rendered({"sinks", "pause", "hook"}, R"({"name":"hook","paused":true})"),
            "sink hook paused: nothing is sent to it until it is resumed\n");
  EXPECT_EQ(rendered({"sinks", "resume", "hook"}, R"({"name":"hook","paused":false})"), "sink hook resumed\n");
  EXPECT_EQ(rendered({"sinks", "replay", "hook"}, R"({"replayed":[{"id":"a","sink":"hook"}],"more":true})"),
            "sink hook: 1 dead deliveries pending again\nmore remain: run the replay again\n");
}

TEST(operator_views, an_answer_of_the_wrong_shape_is_an_error_not_an_empty_table) {
  EXPECT_FALSE(render_answer(command({"sinks", "list"}), parse(R"({"items": []})")));
  EXPECT_FALSE(render_answer(command({"events", "search"}), parse(R"({"id": "x"})")));
  EXPECT_FALSE(render_answer(command({"events", "get", "x"}), parse(R"({"events": []})")));
}

TEST(operator_views, errors_come_from_the_error_object_or_the_body) {
  auto e = summarize_error(404, R"({"error":{"code":"not_found","message":"no event with that id"}})");
  EXPECT_EQ(e.code, "not_found");
  EXPECT_EQ(e.message, "no event with that id");
  auto proxy = summarize_error(502, "<html>\n<b>Bad Gateway</b></html>");
  EXPECT_EQ(proxy.code, "http_502");
  EXPECT_EQ(proxy.message, "<html> <b>Bad Gateway</b></html>");
  EXPECT_EQ(summarize_error(500, "").message, "(no body)");
}

} // namespace
