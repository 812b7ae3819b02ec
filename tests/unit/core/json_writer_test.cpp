#include "core/json_writer.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

namespace txrelay {
namespace {

bool parses(const std::string& text) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  return parser.parse(text).get(doc) == simdjson::SUCCESS;
}

TEST(json_writer, places_commas_and_colons_in_nested_containers) {
  json_writer w;
  w.begin_object().key("id").string("e1").key("n").number(-3).key("ok").boolean(true).key("none").null();
  w.key("list").begin_array().number(1).begin_object().key("a").number(2).end_object().begin_array().end_array().end_array();
  w.strings("names", {"x", "y"}).key("empty").begin_object().end_object();
  w.end_object();
  auto text = std::move(w).take();
  EXPECT_EQ(text, R"({"id":"e1","n":-3,"ok":true,"none":null,"list":[1,{"a":2},[]],"names":["x","y"],"empty":{}})");
  EXPECT_TRUE(parses(text));
}

TEST(json_writer, escapes_every_string_keys_included) {
  json_writer w;
  w.begin_object().key("a\"b").string("line\nbreak \\ \x01 \"q\"").end_object();
  auto text = std::move(w).take();
  EXPECT_EQ(text, R"({"a\"b":"line\nbreak \\ \u0001 \"q\""})");
  EXPECT_TRUE(parses(text));
}

TEST(json_writer, inserts_raw_json_and_optional_values) {
  json_writer w;
  w.begin_array().raw(R"({"k":[1,2]})").string_or_null(std::nullopt).string_or_null(std::string{"s"});
  w.number_or_null(std::nullopt).number_or_null(7).end_array();
  EXPECT_EQ(std::move(w).take(), R"([{"k":[1,2]},null,"s",null,7])");
}

TEST(json_writer, a_top_level_scalar_is_a_document_too) {
  json_writer w;
  w.string("alone");
  EXPECT_EQ(std::move(w).take(), R"("alone")");
}

} // namespace
} // namespace txrelay
