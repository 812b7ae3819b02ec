#include "cli/operator_commands.hpp"

#include <gtest/gtest.h>

using namespace txrelay::cli;

namespace {

using query_list = std::vector<std::pair<std::string, std::string>>;

std::string error_of(const std::vector<std::string>& args) {
  auto parsed = parse_operator_command(args);
  return parsed ? std::string{"(parsed)"} : parsed.error();
}

TEST(operator_commands, events_get_names_its_event_and_takes_the_common_options_anywhere) {
  auto c = parse_operator_command({"events", "--json", "get", "0190a1b2-0000-7000-8000-000000000001", "--url",
                                   "http://h:9", "--timeout=2s"});
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->group, "events");
  EXPECT_EQ(c->action, "get");
  EXPECT_EQ(c->target, "0190a1b2-0000-7000-8000-000000000001");
  EXPECT_TRUE(c->json);
  EXPECT_EQ(c->url, "http://h:9");
  EXPECT_EQ(c->timeout, txrelay::millis{2000});
  EXPECT_EQ(request_for(*c), (api_request{"GET", "/v1/events/0190a1b2-0000-7000-8000-000000000001", ""}));
}

TEST(operator_commands, events_search_sends_each_filter_percent_encoded) {
  auto c = parse_operator_command({"events", "search", "--topic", "order.paid", "--key", "user 42/&x=1", "--status",
                                   "dead", "--sink", "hook", "--since", "2026-12-01T16:00:00Z", "--until",
                                   "2026-12-01T17:00:00+01:00", "--limit", "20"});
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->query, (query_list{{"topic", "order.paid"},
                                  {"key", "user 42/&x=1"},
                                  {"status", "dead"},
                                  {"sink", "hook"},
                                  {"since", "2026-12-01T16:00:00Z"},
                                  {"until", "2026-12-01T17:00:00+01:00"},
                                  {"limit", "20"}}));
  EXPECT_EQ(request_for(*c).target, "/v1/events?topic=order.paid&key=user%2042%2F%26x%3D1&status=dead&sink=hook"
                                    "&since=2026-12-01T16%3A00%3A00Z&until=2026-12-01T17%3A00%3A00%2B01%3A00&limit=20");
  EXPECT_EQ(request_for(*c).method, "GET");
  EXPECT_TRUE(is_paged(*c));
  EXPECT_EQ(page_items_member(*c), "events");
}

TEST(operator_commands, a_following_page_replaces_the_cursor_given) {
  auto c = parse_operator_command({"events", "search", "--cursor", "abc", "--topic", "t", "--all"});
  ASSERT_TRUE(c) << c.error();
  EXPECT_TRUE(c->all);
  EXPECT_EQ(request_for(*c).target, "/v1/events?cursor=abc&topic=t");
  EXPECT_EQ(request_for(*c, std::string{"n+2/="}).target, "/v1/events?topic=t&cursor=n%2B2%2F%3D");

  auto d = parse_operator_command({"dead", "list", "hook", "--limit", "5", "--after", "x"});
  ASSERT_TRUE(d) << d.error();
  EXPECT_EQ(request_for(*d).target, "/v1/sinks/hook/dead?limit=5&after=x");
  EXPECT_EQ(request_for(*d, std::string{"y"}).target, "/v1/sinks/hook/dead?limit=5&after=y");
  EXPECT_EQ(page_items_member(*d), "dead");
}

TEST(operator_commands, sink_actions_are_json_posts_and_the_list_a_get) {
  for (std::string action : {"pause", "resume", "replay"}) {
    auto c = parse_operator_command({"sinks", action, "feedback-hook"});
    ASSERT_TRUE(c) << c.error();
    // Admin POSTs must be application/json; "{}" is the empty body the API takes.
    EXPECT_EQ(request_for(*c), (api_request{"POST", "/v1/sinks/feedback-hook/" + action, "{}"}));
    EXPECT_FALSE(is_paged(*c));
  }
  auto list = parse_operator_command({"sinks", "list"});
  ASSERT_TRUE(list) << list.error();
  EXPECT_EQ(request_for(*list), (api_request{"GET", "/v1/sinks", ""}));
}

TEST(operator_commands, a_path_argument_stays_one_path_segment) {
  auto c = parse_operator_command({"events", "get", "../sinks?x"});
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(request_for(*c).target, "/v1/events/..%2Fsinks%3Fx");
}

TEST(operator_commands, usage_errors_say_what_is_wrong) {
  EXPECT_NE(error_of({"events"}).find("events needs a command: get, search"), std::string::npos);
  EXPECT_NE(error_of({"events", "list"}).find("unknown command \"events list\""), std::string::npos);
  EXPECT_NE(error_of({"events", "get"}).find("events get needs an event id"), std::string::npos);
  EXPECT_NE(error_of({"sinks", "pause"}).find("needs a sink name"), std::string::npos);
  EXPECT_NE(error_of({"sinks", "list", "extra"}).find("unexpected argument \"extra\""), std::string::npos);
  EXPECT_NE(error_of({"events", "get", "x", "--topic", "t"}).find("unknown option \"--topic\" for events get"),
            std::string::npos);
  EXPECT_NE(error_of({"events", "search", "--status", "lost"}).find("--status must be"), std::string::npos);
  EXPECT_NE(error_of({"events", "search", "--since", "yesterday"}).find("RFC 3339"), std::string::npos);
  EXPECT_NE(error_of({"events", "search", "--limit", "0"}).find("--limit must be"), std::string::npos);
  EXPECT_NE(error_of({"events", "search", "--limit", "ten"}).find("--limit must be"), std::string::npos);
  EXPECT_NE(error_of({"events", "search", "--topic", "a", "--topic", "b"}).find("given twice"), std::string::npos);
  EXPECT_NE(error_of({"events", "search", "--topic"}).find("--topic needs a value"), std::string::npos);
  EXPECT_NE(error_of({"sinks", "list", "--all"}).find("--all is for"), std::string::npos);
  EXPECT_NE(error_of({"sinks", "list", "--json=yes"}).find("--json takes no value"), std::string::npos);
  EXPECT_NE(error_of({"sinks", "list", "--timeout", "soon"}).find("--timeout must be"), std::string::npos);
  EXPECT_NE(error_of({"sinks", "list", "-x"}).find("unknown option \"-x\""), std::string::npos);
  EXPECT_NE(error_of({"sinks", "list", "--bogus"}).find("unknown option \"--bogus\""), std::string::npos);
}

TEST(operator_commands, the_api_key_has_no_flag) {
  // A key on the command line is visible to every user through ps.
  auto e = error_of({"sinks", "list", "--api-key", "secret-secret-secret"});
  EXPECT_NE(e.find("TXRELAY_API_KEY"), std::string::npos);
  EXPECT_EQ(e.find("secret-secret-secret"), std::string::npos);
}

TEST(operator_commands, help_is_accepted_with_or_without_a_command) {
  auto bare = parse_operator_command({"sinks", "--help"});
  ASSERT_TRUE(bare) << bare.error();
  EXPECT_TRUE(bare->help);
  auto with = parse_operator_command({"dead", "list", "-h"});
  ASSERT_TRUE(with) << with.error();
  EXPECT_TRUE(with->help);
}

TEST(operator_commands, url_precedence_is_flag_then_environment_then_default) {
  EXPECT_EQ(resolve_api_url(std::nullopt, std::nullopt), "http://127.0.0.1:8080");
  EXPECT_EQ(resolve_api_url(std::nullopt, std::string{"http://env:1"}), "http://env:1");
  EXPECT_EQ(resolve_api_url(std::string{"http://flag:2"}, std::string{"http://env:1"}), "http://flag:2");
}

TEST(operator_commands, exit_codes_follow_the_answer) {
  EXPECT_EQ(exit_code_for_status(200), exit_code::ok);
  EXPECT_EQ(exit_code_for_status(201), exit_code::ok);
  EXPECT_EQ(exit_code_for_status(400), exit_code::refused);
  EXPECT_EQ(exit_code_for_status(415), exit_code::refused);
  EXPECT_EQ(exit_code_for_status(422), exit_code::refused);
  EXPECT_EQ(exit_code_for_status(302), exit_code::refused);
  EXPECT_EQ(exit_code_for_status(404), exit_code::not_found);
  EXPECT_EQ(exit_code_for_status(401), exit_code::unauthorized);
  EXPECT_EQ(exit_code_for_status(403), exit_code::unauthorized);
  EXPECT_EQ(exit_code_for_status(500), exit_code::unavailable);
  EXPECT_EQ(exit_code_for_status(503), exit_code::unavailable);
  // Distinct, and the usage code is what the rest of the command line uses.
  EXPECT_EQ(exit_code::usage, 2);
  EXPECT_EQ(exit_code::not_found, 3);
  EXPECT_EQ(exit_code::unauthorized, 4);
  EXPECT_EQ(exit_code::unavailable, 5);
}

TEST(operator_commands, percent_encoding_keeps_only_unreserved_characters) {
  EXPECT_EQ(percent_encode("aZ09-._~"), "aZ09-._~");
  EXPECT_EQ(percent_encode(" %+/?#&=\n"), "%20%25%2B%2F%3F%23%26%3D%0A");
  EXPECT_EQ(percent_encode("é"), "%C3%A9");
}

} // namespace
