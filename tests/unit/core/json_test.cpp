#include "core/api_error.hpp"
#include "core/json.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

namespace txrelay {
namespace {

using namespace std::string_literals;

TEST(json_string, plain_text_is_quoted) {
  EXPECT_EQ(json_string(""), R"("")");
  EXPECT_EQ(json_string("hello world"), R"("hello world")");
}

TEST(json_string, escapes_quotes_backslashes_and_named_controls) {
  EXPECT_EQ(json_string("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(json_string("\b\f\n\r\t"), R"("\b\f\n\r\t")");
}

TEST(json_string, other_controls_become_u00xx) {
  EXPECT_EQ(json_string("\x01\x1f"), R"("\u0001\u001f")");
  EXPECT_EQ(json_string("a\0b"s), R"("a\u0000b")");
  EXPECT_EQ(json_string("\x0b"), R"("\u000b")");
}

TEST(json_string, leaves_slash_and_del_alone) {
  EXPECT_EQ(json_string("a/b\x7f"), "\"a/b\x7f\"");
}

TEST(json_string, valid_utf8_passes_through) {
  const std::string text = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"; // é € 😀 U+10FFFF
  EXPECT_EQ(json_string(text), "\"" + text + "\"");
}

TEST(json_string, invalid_utf8_becomes_replacement_characters) {
  const std::string fffd = "\xef\xbf\xbd";
  EXPECT_EQ(json_string("a\xff" "b"), "\"a" + fffd + "b\"");                      // never valid
  EXPECT_EQ(json_string("\x80"), "\"" + fffd + "\"");                             // lone continuation
  EXPECT_EQ(json_string("\xc3"), "\"" + fffd + "\"");                             // truncated at the end
  EXPECT_EQ(json_string("\xe2\x82" "x"), "\"" + fffd + fffd + "x\"");            // truncated mid-string
  EXPECT_EQ(json_string("\xc0\xaf"), "\"" + fffd + fffd + "\"");                  // overlong '/'
  EXPECT_EQ(json_string("\xe0\x80\xaf"), "\"" + fffd + fffd + fffd + "\"");       // overlong, 3 bytes
  EXPECT_EQ(json_string("\xed\xa0\x80"), "\"" + fffd + fffd + fffd + "\"");       // UTF-16 surrogate
  EXPECT_EQ(json_string("\xf4\x90\x80\x80"), "\"" + fffd + fffd + fffd + fffd + "\""); // > U+10FFFF
  EXPECT_EQ(json_string("\xf8\x88\x80\x80\x80"), "\"" + fffd + fffd + fffd + fffd + fffd + "\"");
}

TEST(json_string, output_is_always_valid_json_that_round_trips) {
  const std::string nasty = "\"\\\x01\n\xc3\xa9\xff\xe2\x82\xac\x7f</script>"s + '\0';
  auto text = json_string(nasty);
  simdjson::dom::parser parser;
  std::string_view decoded;
  ASSERT_EQ(parser.parse(text).get_string().get(decoded), simdjson::SUCCESS) << text;
  EXPECT_EQ(decoded, "\"\\\x01\n\xc3\xa9\xef\xbf\xbd\xe2\x82\xac\x7f</script>"s + '\0');
}

TEST(append_json_string, appends_after_existing_text) {
  std::string out = "{\"k\":";
  append_json_string(out, "v\n");
  out += '}';
  EXPECT_EQ(out, R"({"k":"v\n"})");
}

TEST(api_error, to_json_shape) {
  api_error e{400, "invalid_event", "\"topic\" must be a non-empty string"};
  EXPECT_EQ(e.to_json(), R"({"error":{"code":"invalid_event","message":"\"topic\" must be a non-empty string"}})");
  simdjson::dom::parser parser;
  std::string_view message;
  ASSERT_EQ(parser.parse(e.to_json())["error"]["message"].get(message), simdjson::SUCCESS);
  EXPECT_EQ(message, e.message);
}

} // namespace
} // namespace txrelay
