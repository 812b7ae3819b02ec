// The Notion page body txrelay sends, and what Notion's responses mean.
#include "sinks/notion_page.hpp"

#include "core/rate_limit_headers.hpp"
#include "core/utf8.hpp"
#include "support/json_probe.hpp"

#include <gtest/gtest.h>

using namespace txrelay;
using namespace txrelay::testing;

namespace {

const time_point now = time_point{std::chrono::seconds{1'784'000'000}};
const notion_parent database{notion_parent_kind::database_id, "1d4f0a6e8c2b4e1f9a3d5b7c6e8f0a21"};

http_outcome response(int status, std::string body = {}, http::header_list headers = {}) {
  http_outcome o;
  o.transport_ok = true;
  o.status = status;
  o.body = std::move(body);
  o.headers = std::move(headers);
  return o;
}

std::string notion_error_body(int status, const std::string& code, const std::string& message) {
  return R"({"object":"error","status":)" + std::to_string(status) + R"(,"code":")" + code + R"(","message":")" +
         message + R"(","request_id":"b0e2c1a4-0000-4000-8000-000000000001"})";
}

std::string body_with(notion_property_type type, std::string text) {
  return notion_page_body(database, {notion_property{"P", type, std::move(text)}});
}

/// UTF-16 code units, as Notion's `length` counts.
std::size_t js_length(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) {
    auto b = static_cast<unsigned char>(c);
    if ((b & 0xc0) != 0x80)
      n += b >= 0xf0 ? 2 : 1;
  }
  return n;
}

/// The contents of the items of a rich-text array, in order.
std::vector<std::string> items_of(const std::string& rich_text_json) {
  std::vector<std::string> out;
  auto wrapped = R"({"a":)" + rich_text_json + "}";
  for (int i = 0; i < json_array_size(wrapped, "/a"); ++i)
    out.push_back(json_string_at(wrapped, "/a/" + std::to_string(i) + "/text/content").value_or("<missing>"));
  return out;
}

// -- property types ------------------------------------------------------------

TEST(notion_property_type, parses_and_prints_each_config_name) {
  for (auto name : {"title", "rich_text", "date", "number", "select", "email", "url", "checkbox"}) {
    auto type = parse_notion_property_type(name);
    ASSERT_TRUE(type) << name;
    EXPECT_STREQ(to_string(*type), name);
  }
  EXPECT_FALSE(parse_notion_property_type("multi_select"));
  EXPECT_FALSE(parse_notion_property_type("Title"));
  EXPECT_FALSE(parse_notion_property_type(""));
}

// -- body shape ----------------------------------------------------------------

TEST(notion_page_body, has_a_database_parent_and_one_value_per_property) {
  auto body = notion_page_body(database, {{"Name", notion_property_type::title, "Order 42 failed"},
                                          {"Content", notion_property_type::rich_text, "payment declined"},
                                          {"Date", notion_property_type::date, "2025-07-25"}});
  EXPECT_EQ(json_raw_at(body, "/parent"), R"({"database_id":"1d4f0a6e8c2b4e1f9a3d5b7c6e8f0a21"})");
  EXPECT_EQ(json_raw_at(body, "/properties/Name"),
            R"({"title":[{"type":"text","text":{"content":"Order 42 failed"}}]})");
  EXPECT_EQ(json_raw_at(body, "/properties/Content"),
            R"({"rich_text":[{"type":"text","text":{"content":"payment declined"}}]})");
  EXPECT_EQ(json_raw_at(body, "/properties/Date"), R"({"date":{"start":"2025-07-25"}})");
}

TEST(notion_page_body, a_data_source_parent_names_its_type) {
  auto body = notion_page_body({notion_parent_kind::data_source_id, "2e5a1b7f-9d3c-4f2a-8b4e-6c8d7f9a1b32"},
                               {{"Name", notion_property_type::title, "x"}});
  EXPECT_EQ(json_raw_at(body, "/parent"),
            R"({"type":"data_source_id","data_source_id":"2e5a1b7f-9d3c-4f2a-8b4e-6c8d7f9a1b32"})");
}

TEST(notion_page_body, escapes_names_and_text) {
  auto body = notion_page_body(database, {{"Say \"hi\"", notion_property_type::title, "line 1\nline \"2\" \\"}});
  EXPECT_EQ(json_string_at(body, "/properties/Say \"hi\"/title/0/text/content"), "line 1\nline \"2\" \\");
}

TEST(notion_page_body, no_properties_is_an_empty_object) {
  EXPECT_EQ(json_raw_at(notion_page_body(database, {}), "/properties"), "{}");
}

// -- title and rich_text: splitting --------------------------------------------

TEST(notion_rich_text, empty_text_is_an_empty_array) {
  EXPECT_EQ(notion_rich_text(""), "[]");
  EXPECT_EQ(json_raw_at(body_with(notion_property_type::title, ""), "/properties/P"), R"({"title":[]})");
}

TEST(notion_rich_text, keeps_the_spaces_of_prose) {
  EXPECT_EQ(items_of(notion_rich_text("  indented\n")), std::vector<std::string>{"  indented\n"});
}

TEST(notion_rich_text, splits_at_2000_characters) {
  std::string text(2000, 'a');
  EXPECT_EQ(items_of(notion_rich_text(text)).size(), 1u);
  text += 'b';
  auto items = items_of(notion_rich_text(text));
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0], std::string(2000, 'a'));
  EXPECT_EQ(items[1], "b");

  auto five_thousand = items_of(notion_rich_text(std::string(5000, 'x')));
  ASSERT_EQ(five_thousand.size(), 3u);
  EXPECT_EQ(five_thousand[0].size(), 2000u);
  EXPECT_EQ(five_thousand[1].size(), 2000u);
  EXPECT_EQ(five_thousand[2].size(), 1000u);
}

TEST(notion_rich_text, never_splits_a_multi_byte_character) {
  // "é" is 2 bytes, 1 code point, 1 UTF-16 unit; 1999 'a' then é sits exactly
  // at the boundary, é é é after it.
  std::string text = std::string(1999, 'a') + "\xc3\xa9\xc3\xa9\xc3\xa9";
  auto items = items_of(notion_rich_text(text));
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0], std::string(1999, 'a') + "\xc3\xa9");
  EXPECT_EQ(items[1], "\xc3\xa9\xc3\xa9");
  EXPECT_EQ(items[0] + items[1], text);
}

TEST(notion_rich_text, counts_an_emoji_as_two_as_notion_does) {
  // 😀 is one code point but two UTF-16 units: Notion's `length` says 2, so
  // 1001 of them are over the limit, and 1000 fit.
  std::string emoji;
  for (int i = 0; i < 1001; ++i)
    emoji += "\xf0\x9f\x98\x80";
  auto items = items_of(notion_rich_text(emoji));
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(count_code_points(items[0]), 1000u);
  EXPECT_EQ(js_length(items[0]), 2000u);
  EXPECT_EQ(items[1], "\xf0\x9f\x98\x80");

  // An odd boundary: one 'a' first leaves room for 999 emoji (1999 units),
  // not 999.5: the pair is never split.
  items = items_of(notion_rich_text("a" + emoji));
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(js_length(items[0]), 1999u);
  EXPECT_EQ(count_code_points(items[1]), 2u);
}

TEST(notion_rich_text, caps_at_100_items_and_marks_the_cut) {
  auto exactly = items_of(notion_rich_text(std::string(100 * 2000, 'x')));
  ASSERT_EQ(exactly.size(), 100u);
  EXPECT_EQ(exactly.back(), std::string(2000, 'x')) << "a text that fits is not marked";

  std::string over = std::string(100 * 2000, 'x') + "y";
  auto items = items_of(notion_rich_text(over));
  ASSERT_EQ(items.size(), notion_rich_text_items_limit);
  for (std::size_t i = 0; i + 1 < items.size(); ++i)
    ASSERT_EQ(items[i].size(), 2000u) << i;
  EXPECT_EQ(items.back(), std::string(1999, 'x') + "…");
  EXPECT_EQ(js_length(items.back()), notion_text_content_limit);

  // A multi-megabyte text costs no more items, whatever its size.
  auto huge = items_of(notion_rich_text(std::string(1'000'000, 'z')));
  EXPECT_EQ(huge.size(), 100u);
  EXPECT_EQ(huge.back().substr(huge.back().size() - std::string{notion_truncation_marker}.size()),
            notion_truncation_marker);
}

TEST(notion_rich_text, the_marker_never_follows_half_an_emoji) {
  std::string emoji;
  for (int i = 0; i < 100 * 1000 + 1; ++i)
    emoji += "\xf0\x9f\x98\x80";
  auto items = items_of(notion_rich_text(emoji));
  ASSERT_EQ(items.size(), 100u);
  EXPECT_EQ(js_length(items.back()), 1999u); // 999 emoji (1998) + the marker (1)
  EXPECT_EQ(count_code_points(items.back()), 1000u);
}

// -- the other types -----------------------------------------------------------

TEST(notion_page_body, number_is_a_json_number_or_null) {
  for (auto [text, json] : std::vector<std::pair<std::string, std::string>>{
         {"42", "42"}, {"-1.5e3", "-1500.0"}, {" 7 ", "7"}, {"0.25", "0.25"}, {"0", "0"}}) {
    auto body = body_with(notion_property_type::number, text);
    auto raw = json_raw_at(body, "/properties/P/number");
    ASSERT_TRUE(raw) << text << " " << body;
    EXPECT_EQ(std::stod(*raw), std::stod(json)) << text;
  }
  EXPECT_NE(body_with(notion_property_type::number, "3.14159265358979323846")
              .find(R"("P":{"number":3.14159265358979323846})"),
            std::string::npos)
    << "the digits reach Notion as written";
  for (auto text : {"", "abc", "1,5", "01", "1.", ".5", "+1", "NaN", "Infinity", "1e999", "0x10", "1 2"})
    EXPECT_TRUE(json_is_null_at(body_with(notion_property_type::number, text), "/properties/P/number")) << text;
}

TEST(notion_page_body, date_is_a_start_or_null) {
  EXPECT_EQ(json_raw_at(body_with(notion_property_type::date, "2026-11-22T20:52:25.123456Z"), "/properties/P"),
            R"({"date":{"start":"2026-11-22T20:52:25.123456Z"}})");
  EXPECT_EQ(json_raw_at(body_with(notion_property_type::date, " 2025-07-25\n"), "/properties/P"),
            R"({"date":{"start":"2025-07-25"}})");
  EXPECT_EQ(json_raw_at(body_with(notion_property_type::date, ""), "/properties/P"), R"({"date":null})");
}

TEST(notion_page_body, select_is_a_name_without_commas_or_null) {
  EXPECT_EQ(json_raw_at(body_with(notion_property_type::select, "High"), "/properties/P"),
            R"({"select":{"name":"High"}})");
  EXPECT_EQ(json_raw_at(body_with(notion_property_type::select, "paid, shipped"), "/properties/P"),
            R"({"select":{"name":"paid  shipped"}})");
  EXPECT_EQ(json_raw_at(body_with(notion_property_type::select, "  "), "/properties/P"), R"({"select":null})");
}

TEST(notion_page_body, email_and_url_are_strings_passed_as_they_are) {
  EXPECT_EQ(json_raw_at(body_with(notion_property_type::email, "ada@example.com"), "/properties/P"),
            R"({"email":"ada@example.com"})");
  EXPECT_EQ(json_raw_at(body_with(notion_property_type::url, "https://example.com/a?b=c"), "/properties/P"),
            R"({"url":"https://example.com/a?b=c"})");
  EXPECT_EQ(json_raw_at(body_with(notion_property_type::url, ""), "/properties/P"), R"({"url":null})");
  EXPECT_EQ(json_raw_at(body_with(notion_property_type::email, ""), "/properties/P"), R"({"email":null})");
  // Over Notion's limit: not cut (a cut url points elsewhere); Notion's 400 says why.
  auto long_url = "https://example.com/" + std::string(3000, 'p');
  EXPECT_EQ(json_string_at(body_with(notion_property_type::url, long_url), "/properties/P/url"), long_url);
}

TEST(notion_page_body, checkbox_is_true_or_false) {
  for (auto text : {"true", "TRUE", " True ", "1"})
    EXPECT_EQ(json_raw_at(body_with(notion_property_type::checkbox, text), "/properties/P/checkbox"), "true") << text;
  for (auto text : {"false", "", "0", "no", "yes please"})
    EXPECT_EQ(json_raw_at(body_with(notion_property_type::checkbox, text), "/properties/P/checkbox"), "false")
      << text;
}

// -- responses -----------------------------------------------------------------

TEST(notion_classification, ok_is_delivered) {
  auto r = classify_notion_response(response(200, R"({"object":"page","id":"59833787-2cf9-4fdf-8782-e53db20768a5"})"),
                                    now);
  EXPECT_EQ(r.outcome, attempt_result::verdict::delivered);
  EXPECT_EQ(r.http_status, 200);
  EXPECT_TRUE(r.error.empty());
  EXPECT_FALSE(r.retry_after);
  EXPECT_FALSE(r.sink_broken);
}

TEST(notion_classification, rate_limited_waits_for_retry_after) {
  auto r = classify_notion_response(
    response(429, notion_error_body(429, "rate_limited", "You have been rate limited."), {{"Retry-After", "3"}}), now);
  EXPECT_EQ(r.outcome, attempt_result::verdict::retry);
  EXPECT_EQ(r.http_status, 429);
  EXPECT_EQ(r.retry_after, millis{3000});
  EXPECT_EQ(r.error, "HTTP 429: You have been rate limited. (Notion code rate_limited)");
  EXPECT_FALSE(r.sink_broken);
  // Newer plans' windows ask for minutes; a wait past a day is capped.
  EXPECT_EQ(classify_notion_response(response(429, "", {{"Retry-After", "90"}}), now).retry_after, millis{90'000});
  EXPECT_EQ(classify_notion_response(response(429, "", {{"Retry-After", "9999999"}}), now).retry_after, max_sink_wait);
  EXPECT_FALSE(classify_notion_response(response(429), now).retry_after);
}

TEST(notion_classification, conflicts_server_errors_and_redirects_are_retried) {
  struct known {
    int status;
    const char* code;
  };
  for (auto [status, code] : {known{409, "conflict_error"}, known{500, "internal_server_error"},
                              known{502, "bad_gateway"}, known{503, "service_unavailable"},
                              known{504, "gateway_timeout"}, known{529, "service_overload"}}) {
    auto r = classify_notion_response(response(status, notion_error_body(status, code, "try later")), now);
    EXPECT_EQ(r.outcome, attempt_result::verdict::retry) << status;
    EXPECT_EQ(r.http_status, status);
    EXPECT_FALSE(r.sink_broken);
    EXPECT_EQ(r.error, "HTTP " + std::to_string(status) + ": try later (Notion code " + code + ")");
  }
  EXPECT_EQ(classify_notion_response(response(503, "", {{"Retry-After", "5"}}), now).retry_after, millis{5000});
  auto moved = classify_notion_response(response(301, "", {{"Location", "https://elsewhere"}}), now);
  EXPECT_EQ(moved.outcome, attempt_result::verdict::retry);
  EXPECT_EQ(moved.error, "HTTP 301 (redirects are not followed)");
  auto html = classify_notion_response(response(502, "<html>Bad gateway</html>"), now);
  EXPECT_EQ(html.error, "HTTP 502: <html>Bad gateway</html>");
}

TEST(notion_classification, transport_failures_are_retried) {
  http_outcome o;
  o.transport_error = "connect: Connection refused";
  auto r = classify_notion_response(o, now);
  EXPECT_EQ(r.outcome, attempt_result::verdict::retry);
  EXPECT_EQ(r.http_status, 0);
  EXPECT_EQ(r.error, "connect: Connection refused");
}

TEST(notion_classification, bad_requests_are_permanent_for_the_page_only) {
  for (auto code : {"validation_error", "invalid_json", "invalid_request", "missing_version"}) {
    auto r = classify_notion_response(response(400, notion_error_body(400, code, "body failed validation")), now);
    EXPECT_EQ(r.outcome, attempt_result::verdict::permanent) << code;
    EXPECT_FALSE(r.sink_broken) << code;
    EXPECT_EQ(r.error, std::string{"HTTP 400: body failed validation (Notion code "} + code + ")");
  }
  EXPECT_EQ(classify_notion_response(response(422), now).outcome, attempt_result::verdict::permanent);
}

TEST(notion_classification, losing_access_to_the_database_breaks_the_sink) {
  auto unauthorized = classify_notion_response(
    response(401, notion_error_body(401, "unauthorized", "API token is invalid.")), now);
  EXPECT_EQ(unauthorized.outcome, attempt_result::verdict::permanent);
  EXPECT_TRUE(unauthorized.sink_broken);
  EXPECT_EQ(unauthorized.error, "HTTP 401: API token is invalid. (Notion code unauthorized)");
  EXPECT_TRUE(classify_notion_response(response(401, "<html>401</html>"), now).sink_broken);

  auto restricted = classify_notion_response(
    response(403, notion_error_body(403, "restricted_resource", "Insufficient permissions for this endpoint.")), now);
  EXPECT_EQ(restricted.outcome, attempt_result::verdict::permanent);
  EXPECT_TRUE(restricted.sink_broken);

  auto not_found = classify_notion_response(
    response(404, notion_error_body(404, "object_not_found", "Could not find database with ID: 1d4f.")), now);
  EXPECT_EQ(not_found.outcome, attempt_result::verdict::permanent);
  EXPECT_TRUE(not_found.sink_broken);
  EXPECT_EQ(not_found.error, "HTTP 404: Could not find database with ID: 1d4f. (Notion code object_not_found)");

  // Without Notion's code (a proxy's page) it says nothing about the database.
  EXPECT_FALSE(classify_notion_response(response(404, "Not Found"), now).sink_broken);
  EXPECT_FALSE(classify_notion_response(response(403, "Forbidden"), now).sink_broken);
  EXPECT_EQ(classify_notion_response(response(404, "Not Found"), now).outcome, attempt_result::verdict::permanent);
}

TEST(notion_classification, a_long_message_is_cut_to_one_line) {
  auto r = classify_notion_response(
    response(400, notion_error_body(400, "validation_error", std::string(1000, 'm') + "\\nsecond line")), now);
  EXPECT_LT(r.error.size(), 300u);
  EXPECT_EQ(r.error.find('\n'), std::string::npos);
  EXPECT_NE(r.error.find("(Notion code validation_error)"), std::string::npos);
}

TEST(notion_classification, the_token_is_redacted_from_errors) {
  const std::string token = "ntn_s3cr3tT0kEn0123456789abcdefghijklmnopqrstuv";
  // Notion never echoes it; a debugging proxy might.
  auto r = classify_notion_response(
    response(401, notion_error_body(401, "unauthorized", "Bearer " + token + " is not valid; " + token)), now);
  ASSERT_NE(r.error.find(token), std::string::npos) << "the pure classifier does not know the token";
  redact_notion_token(r.error, token);
  EXPECT_EQ(r.error.find(token), std::string::npos) << r.error;
  EXPECT_EQ(r.error, "HTTP 401: Bearer … is not valid; … (Notion code unauthorized)");
  std::string unchanged = "nothing secret";
  redact_notion_token(unchanged, "");
  EXPECT_EQ(unchanged, "nothing secret");
}

} // namespace
