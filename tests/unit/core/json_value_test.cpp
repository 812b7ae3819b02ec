#include "core/json_value.hpp"

#include <gtest/gtest.h>

using namespace txrelay;

TEST(JsonValue, ParsesAndRoundTripsInMemberOrder) {
  auto v = json_value::parse(R"({"b":1,"a":[true,null,"x\"y",2.5],"c":{"d":-7}})");
  ASSERT_TRUE(v) << v.error();
  EXPECT_EQ(v->to_json(), R"({"b":1,"a":[true,null,"x\"y",2.5],"c":{"d":-7}})");
  EXPECT_EQ(v->at({"c", "d"})->as_integer(), -7);
  EXPECT_EQ(v->at({"c", "missing"}), nullptr);
  EXPECT_EQ(v->at({"b", "deeper"}), nullptr); // through a non-object
}

TEST(JsonValue, ReportsInvalidJson) {
  auto v = json_value::parse("{\"a\":");
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().find("not valid JSON"), std::string::npos);
}

TEST(JsonValue, NumbersCompareByValueAndPrintExactly) {
  EXPECT_EQ(json_value{std::int64_t{4}}, json_value{4.0});
  EXPECT_EQ(json_value{0.1}.to_json(), "0.1");
  EXPECT_EQ(json_value{std::int64_t{9007199254740993}}.to_json(), "9007199254740993");
  EXPECT_FALSE(json_value::parse("1e400")); // out of range: an error, not infinity
}

TEST(JsonValue, TextFormIsWhatAPersonOrSqlParameterWants) {
  EXPECT_EQ(json_value{"héllo"}.to_text(), "héllo");
  EXPECT_EQ(json_value{}.to_text(), "");
  EXPECT_EQ(json_value{std::int64_t{42}}.to_text(), "42");
  EXPECT_EQ(json_value::parse(R"([1,"a"])")->to_text(), R"([1,"a"])");
}

TEST(JsonValue, SetReplacesOrAppends) {
  json_value v{json_value::object_t{}};
  v.set("a", 1);
  v.set("b", "x");
  v.set("a", 2);
  EXPECT_EQ(v.to_json(), R"({"a":2,"b":"x"})");
}

// PostgreSQL's jsonb keeps the last of repeated keys; the schema and the
// templates must see the same value as the stored event.
TEST(JsonValue, ARepeatedKeyKeepsItsLastValueLikeJsonb) {
  auto v = json_value::parse(R"({"rating":5,"x":1,"rating":-1000})");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->to_json(), R"({"rating":-1000,"x":1})");
  std::string big = "{";
  for (int i = 0; i < 40; ++i)
    big += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  big += "\"k3\":\"last\"}";
  auto b = json_value::parse(big);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->as_object().size(), 40u);
  EXPECT_EQ(b->find("k3")->as_string(), "last");
}
