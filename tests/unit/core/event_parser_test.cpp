#include "core/event_parser.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

namespace txrelay {
namespace {

using namespace std::string_literals;

parsed_event must_parse(std::string_view body, const event_limits& limits = {}) {
  auto r = parse_event_body(body, limits);
  EXPECT_TRUE(r.has_value()) << body << " -> " << (r ? "" : r.error().message);
  return r ? *r : parsed_event{};
}

api_error must_fail(std::string_view body, std::string_view code, const event_limits& limits = {}) {
  auto r = parse_event_body(body, limits);
  EXPECT_FALSE(r.has_value()) << "accepted " << body;
  if (r)
    return {};
  EXPECT_EQ(r.error().status, 400) << body;
  EXPECT_EQ(r.error().code, code) << body << " -> " << r.error().message;
  return r.error();
}

void expect_message_contains(const api_error& e, std::string_view part) {
  EXPECT_NE(e.message.find(part), std::string::npos) << "message: " << e.message << "\nexpected to contain: " << part;
}

TEST(parse_event_body, minimal_event) {
  auto ev = must_parse(R"({"topic":"order.created","payload":{"id":1}})");
  EXPECT_EQ(ev.topic, "order.created");
  EXPECT_FALSE(ev.key.has_value());
  EXPECT_EQ(ev.payload_json, R"({"id":1})");
}

TEST(parse_event_body, key_string_or_null) {
  auto ev = must_parse(R"({"key":"customer-7","topic":"t","payload":{}})");
  ASSERT_TRUE(ev.key.has_value());
  EXPECT_EQ(*ev.key, "customer-7");
  EXPECT_FALSE(must_parse(R"({"topic":"t","payload":{},"key":null})").key.has_value());
  EXPECT_EQ(must_parse(R"({"topic":"t","payload":{},"key":""})").key, std::optional<std::string>{""});
}

TEST(parse_event_body, escapes_in_topic_and_key_are_decoded) {
  auto ev = must_parse(R"({"topic":"caf\u00e9","payload":{},"key":"a\"b"})");
  EXPECT_EQ(ev.topic, "caf\xc3\xa9");
  EXPECT_EQ(*ev.key, "a\"b");
}

TEST(parse_event_body, payload_round_trips_as_a_json_object) {
  const std::string body = R"( { "topic" : "t" , "payload" : { "s" : "line\nbreak \"q\" \u00e9 \ud83d\ude00",
      "n" : [ 1 , -2.5 , 1e3 , true , false , null ] , "o" : { "deep" : { "x" : [ ] } } , "big": 18446744073709551615 } } )";
  auto ev = must_parse(body);
  simdjson::dom::parser parser;
  simdjson::dom::object payload;
  ASSERT_EQ(parser.parse(ev.payload_json).get_object().get(payload), simdjson::SUCCESS) << ev.payload_json;
  std::string_view s;
  ASSERT_EQ(payload["s"].get(s), simdjson::SUCCESS);
  EXPECT_EQ(s, "line\nbreak \"q\" \xc3\xa9 \xf0\x9f\x98\x80");
  simdjson::dom::array n;
  ASSERT_EQ(payload["n"].get(n), simdjson::SUCCESS);
  EXPECT_EQ(n.size(), 6u);
  EXPECT_EQ(double(n.at(1)), -2.5);
  EXPECT_EQ(double(n.at(2)), 1000.0);
  EXPECT_EQ(uint64_t(payload["big"]), 18446744073709551615ull);
  EXPECT_TRUE(payload["o"]["deep"]["x"].is_array());
  EXPECT_EQ(ev.payload_json.find('\n'), std::string::npos) << "payload is stored minified";
}

TEST(parse_event_body, empty_body) {
  expect_message_contains(must_fail("", "invalid_json"), "empty body");
}

TEST(parse_event_body, not_json) {
  for (std::string_view body : {"topic=t", "{", "{\"topic\":\"t\",}", "{'topic':'t'}", "   ", "{\"a\":1e999}"}) {
    auto e = must_fail(body, "invalid_json");
    EXPECT_NE(e.message.find("not valid JSON: "), std::string::npos) << e.message;
    EXPECT_GT(e.message.size(), std::string_view{"the body is not valid JSON: "}.size()) << "carries simdjson's reason";
  }
}

TEST(parse_event_body, invalid_utf8_is_not_json) {
  expect_message_contains(must_fail("{\"topic\":\"t\xff\",\"payload\":{}}", "invalid_json"), "UTF-8");
}

TEST(parse_event_body, trailing_content_is_not_json) {
  must_fail(R"({"topic":"t","payload":{}} x)", "invalid_json");
  must_fail(R"({"topic":"t","payload":{}}{})", "invalid_json");
  must_parse("{\"topic\":\"t\",\"payload\":{}}\r\n\t "); // trailing whitespace is fine
}

TEST(parse_event_body, body_must_be_an_object) {
  for (std::string_view body : {"[]", "\"topic\"", "42", "null", "true"})
    expect_message_contains(must_fail(body, "invalid_event"), "JSON object");
}

TEST(parse_event_body, topic_is_required) {
  expect_message_contains(must_fail(R"({"payload":{}})", "invalid_event"), "\"topic\" is required");
}

TEST(parse_event_body, topic_must_be_a_non_empty_string) {
  for (std::string_view body : {R"({"topic":"","payload":{}})", R"({"topic":7,"payload":{}})",
                                R"({"topic":null,"payload":{}})", R"({"topic":["t"],"payload":{}})"})
    expect_message_contains(must_fail(body, "invalid_event"), "\"topic\" must be a non-empty string");
}

TEST(parse_event_body, topic_length_limit_in_bytes) {
  event_limits limits{.max_topic_length = 5, .max_key_length = 200};
  must_parse(R"({"topic":"abcde","payload":{}})", limits);
  expect_message_contains(must_fail(R"({"topic":"abcdef","payload":{}})", "invalid_event", limits), "\"topic\"");
  // é is two bytes: "abcé" is 5 bytes, "abcdé" is 6.
  must_parse(R"({"topic":"abc\u00e9","payload":{}})", limits);
  must_fail(R"({"topic":"abcd\u00e9","payload":{}})", "invalid_event", limits);
  must_parse(R"({"topic":")" + std::string(200, 't') + R"(","payload":{}})");
  must_fail(R"({"topic":")" + std::string(201, 't') + R"(","payload":{}})", "invalid_event");
}

TEST(parse_event_body, topic_must_not_hold_control_characters) {
  for (std::string_view body : {R"({"topic":"a\nb","payload":{}})", R"({"topic":"a\u0000b","payload":{}})",
                                R"({"topic":"a\u007fb","payload":{}})", R"({"topic":"\t","payload":{}})"})
    expect_message_contains(must_fail(body, "invalid_event"), "control characters");
}

TEST(parse_event_body, payload_is_required_and_must_be_an_object) {
  expect_message_contains(must_fail(R"({"topic":"t"})", "invalid_event"), "\"payload\" is required");
  for (std::string_view body : {R"({"topic":"t","payload":[]})", R"({"topic":"t","payload":"{}"})",
                                R"({"topic":"t","payload":null})", R"({"topic":"t","payload":1})"})
    expect_message_contains(must_fail(body, "invalid_event"), "\"payload\" must be a JSON object");
}

TEST(parse_event_body, key_must_be_a_string_or_null) {
  for (std::string_view body : {R"({"topic":"t","payload":{},"key":1})", R"({"topic":"t","payload":{},"key":{}})",
                                R"({"topic":"t","payload":{},"key":false})"})
    expect_message_contains(must_fail(body, "invalid_event"), "\"key\" must be a string or null");
}

TEST(parse_event_body, key_length_limit_in_bytes) {
  event_limits limits{.max_topic_length = 200, .max_key_length = 3};
  must_parse(R"({"topic":"t","payload":{},"key":"abc"})", limits);
  expect_message_contains(must_fail(R"({"topic":"t","payload":{},"key":"abcd"})", "invalid_event", limits),
                          "\"key\" is longer than 3 bytes");
}

TEST(parse_event_body, unknown_fields_are_named) {
  auto e = must_fail(R"({"topic":"t","paylaod":{}})", "invalid_event");
  expect_message_contains(e, "\"paylaod\"");
  expect_message_contains(must_fail(R"({"topic":"t","payload":{},"extra":1})", "invalid_event"), "\"extra\"");
}

TEST(parse_event_body, duplicate_fields_are_rejected) {
  expect_message_contains(must_fail(R"({"topic":"a","topic":"b","payload":{}})", "invalid_event"), "\"topic\" appears twice");
  expect_message_contains(must_fail(R"({"topic":"a","payload":{},"payload":{}})", "invalid_event"), "\"payload\"");
  expect_message_contains(must_fail(R"({"topic":"a","payload":{},"key":null,"key":"k"})", "invalid_event"), "\"key\"");
}

TEST(parse_event_body, parser_is_reusable_after_errors) {
  must_fail("{", "invalid_json");
  must_fail(R"({"topic":1,"payload":{}})", "invalid_event");
  EXPECT_EQ(must_parse(R"({"topic":"again","payload":{"a":[1]}})").payload_json, R"({"a":[1]})");
}

} // namespace
} // namespace txrelay

TEST(event_parser_nul, nul_characters_are_refused_as_bad_input) {
  auto p = txrelay::parse_event_body(R"({"topic":"t","payload":{"a":"x\u0000y"}})");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().status, 400);
  EXPECT_EQ(p.error().code, "invalid_event");
  auto k = txrelay::parse_event_body(R"({"topic":"t","key":"a\u0000","payload":{}})");
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error().code, "invalid_event");
  // An escaped backslash followed by "u0000" is ordinary text.
  EXPECT_TRUE(txrelay::parse_event_body(R"({"topic":"t","payload":{"a":"\\u0000"}})"));
}

TEST(EventParserRepeatedKeys, APayloadThatRepeatsAKeyIsRefused) {
  auto top = txrelay::parse_event_body(R"({"topic":"t","payload":{"amount":-1,"amount":5}})");
  ASSERT_FALSE(top);
  EXPECT_EQ(top.error().status, 400);
  EXPECT_NE(top.error().message.find("\"amount\""), std::string::npos) << top.error().message;
  auto nested = txrelay::parse_event_body(R"({"topic":"t","payload":{"a":[{"x":1},{"y":2,"y":3}]}})");
  ASSERT_FALSE(nested);
  EXPECT_NE(nested.error().message.find("\"y\""), std::string::npos);
  std::string wide = R"({"topic":"t","payload":{)";
  for (int i = 0; i < 40; ++i)
    wide += "\"k" + std::to_string(i) + "\":1,";
  EXPECT_TRUE(txrelay::parse_event_body(wide + R"("last":{"k1":2}}})")); // same key in different objects is fine
  EXPECT_FALSE(txrelay::parse_event_body(wide + R"("k7":2}})"));
}
