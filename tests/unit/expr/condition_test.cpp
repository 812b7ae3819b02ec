#include "expr/condition.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace txrelay;

namespace {

json_value doc(const char* json) {
  auto v = json_value::parse(json);
  EXPECT_TRUE(v) << v.error();
  return v ? *v : json_value{};
}

const json_value& sample() {
  static const json_value d = doc(R"({
    "topic": "poll.closed", "key": null, "event_id": "evt_1", "delivery_id": null,
    "created_at": "2026-11-23T17:20:14Z",
    "payload": {"closed": false, "rating": 4, "score": 2.5, "menu": "lunch", "empty": "",
                "zero": 0, "tags": ["a", "b", "c", "d"], "user": {"name": "Zoë", "admin": true},
                "nothing": null, "big": 9007199254740993}
  })");
  return d;
}

bool check(const char* text, const json_value& event = sample()) {
  auto c = condition::parse(text);
  EXPECT_TRUE(c) << text << ": " << (c ? "" : c.error().to_string());
  return c && c->matches(event);
}

expression_error parse_error(const char* text) {
  auto c = condition::parse(text);
  EXPECT_FALSE(c) << text << " should not parse";
  return c ? expression_error{} : c.error();
}

} // namespace

TEST(Condition, ExamplesFromTheHeader) {
  EXPECT_TRUE(check("payload.closed == false"));
  EXPECT_TRUE(check("payload.rating >= 4 && payload.menu != null"));
  EXPECT_TRUE(check(R"(topic in ["poll.created", "poll.closed"])"));
  EXPECT_TRUE(check("exists(payload.contact) || !(len(payload.tags) > 3)") == false);
  EXPECT_EQ(condition::parse("payload.closed == false")->text(), "payload.closed == false");
}

TEST(Condition, EqualityIsJsonEquality) {
  EXPECT_TRUE(check("payload.rating == 4"));
  EXPECT_TRUE(check("payload.rating == 4.0")); // integer and double by value
  EXPECT_TRUE(check("payload.score == 2.5"));
  EXPECT_FALSE(check(R"(payload.rating == "4")")); // across types: false
  EXPECT_TRUE(check(R"(payload.rating != "4")"));
  EXPECT_FALSE(check("payload.closed == 0"));
  EXPECT_TRUE(check(R"(payload.user.name == "Zoë")"));
  EXPECT_TRUE(check("payload.big == 9007199254740993"));
  EXPECT_FALSE(check("payload.big == 9007199254740992")); // integers compare exactly
  EXPECT_TRUE(check(R"(payload.tags == payload.tags)"));
}

TEST(Condition, NullEqualsMissing) {
  EXPECT_TRUE(check("payload.missing == null"));
  EXPECT_TRUE(check("payload.nothing == null"));
  EXPECT_TRUE(check("key == null"));
  EXPECT_TRUE(check("payload.missing == payload.nothing"));
  EXPECT_FALSE(check("payload.missing != null"));
  EXPECT_TRUE(check("payload.menu != null"));
  EXPECT_TRUE(check("payload.menu.deeper == null")); // through a string
}

TEST(Condition, OrderingNeedsTwoNumbersOrTwoStrings) {
  EXPECT_TRUE(check("payload.rating > 3"));
  EXPECT_TRUE(check("payload.rating >= 4"));
  EXPECT_FALSE(check("payload.rating > 4"));
  EXPECT_TRUE(check("payload.rating <= 4"));
  EXPECT_TRUE(check("payload.rating < 4.5"));
  EXPECT_TRUE(check("payload.score < payload.rating"));
  EXPECT_TRUE(check(R"(payload.menu < "m")"));  // byte order
  EXPECT_TRUE(check(R"(payload.menu >= "lunch")"));
  EXPECT_FALSE(check(R"(payload.menu < 5)"));   // a string and a number: false both ways
  EXPECT_FALSE(check(R"(payload.menu >= 5)"));
  EXPECT_FALSE(check("payload.missing < 5"));
  EXPECT_FALSE(check("payload.missing >= 5"));
  EXPECT_FALSE(check("payload.closed < true"));
  EXPECT_TRUE(check("-1 < 0 && 1e2 == 100"));
}

TEST(Condition, InAList) {
  EXPECT_TRUE(check("payload.rating in [1, 4.0, \"x\"]"));
  EXPECT_FALSE(check("payload.rating in []"));
  EXPECT_TRUE(check("payload.missing in [null]"));
  EXPECT_TRUE(check("payload.closed in [true, false]"));
  EXPECT_FALSE(check(R"(topic in ["poll.created"])"));
}

TEST(Condition, ExistsAndLen) {
  EXPECT_TRUE(check("exists(payload.user.name)"));
  EXPECT_FALSE(check("exists(payload.nothing)")); // present but null
  EXPECT_FALSE(check("exists(payload.missing)"));
  EXPECT_TRUE(check("exists(payload.closed)"));   // false is a value
  EXPECT_TRUE(check("len(payload.tags) == 4"));
  EXPECT_TRUE(check("len(payload.user.name) == 3")); // code points, not bytes
  EXPECT_TRUE(check("len(payload.user) == 2"));
  EXPECT_TRUE(check("len(payload.rating) == null"));
  EXPECT_TRUE(check("len(payload.missing) == null"));
  EXPECT_TRUE(check(R"(len("abc") == 3)"));
  EXPECT_TRUE(check("len(payload.tags) > 3"));
}

TEST(Condition, BareValuesAreTruthy) {
  EXPECT_TRUE(check("payload.user.admin"));
  EXPECT_FALSE(check("payload.closed"));
  EXPECT_FALSE(check("payload.missing"));
  EXPECT_FALSE(check("payload.nothing"));
  EXPECT_FALSE(check("payload.zero"));
  EXPECT_FALSE(check("payload.empty"));
  EXPECT_TRUE(check("payload.menu"));
  EXPECT_TRUE(check("payload.tags"));
  EXPECT_TRUE(check("payload.user"));
  EXPECT_TRUE(check("!payload.missing"));
  EXPECT_TRUE(check("!!payload.menu"));
  EXPECT_TRUE(check("true"));
  EXPECT_FALSE(check("null"));
  EXPECT_TRUE(check("len(payload.tags)"));
}

TEST(Condition, Precedence) {
  // && binds tighter than ||
  EXPECT_TRUE(check("true || false && false"));
  EXPECT_FALSE(check("(true || false) && false"));
  // ! binds tighter than && and applies to a whole comparison
  EXPECT_FALSE(check("!true && true"));
  EXPECT_TRUE(check("!(true && false)"));
  EXPECT_TRUE(check("!payload.rating == 5")); // !(payload.rating == 5)
  EXPECT_TRUE(check("payload.rating == 4 && payload.closed == false || payload.missing"));
  EXPECT_TRUE(check("payload.missing || payload.rating > 3 && payload.menu == \"lunch\""));
}

TEST(Condition, StringEscapes) {
  EXPECT_TRUE(check(R"("a\"b\\c\n\u00e9\ud83d\ude00" == "a\"b\\c\n\u00e9\ud83d\ude00")"));
  json_value event = doc(R"({"payload": {"s": "é😀\"x"}})");
  EXPECT_TRUE(check(R"(payload.s == "\u00e9\ud83d\ude00\"x")", event));
}

TEST(Condition, ErrorsSayWhere) {
  auto e = parse_error("payload.a ==");
  EXPECT_EQ(e.position, 12u);
  EXPECT_EQ(e.to_string().rfind("at column 13: ", 0), 0u) << e.to_string();

  e = parse_error("payload.a === 1");
  EXPECT_EQ(e.position, 10u);
  EXPECT_NE(e.message.find("'=='"), std::string::npos) << e.message;

  e = parse_error(R"(topic == "abc)");
  EXPECT_EQ(e.position, 9u);
  EXPECT_NE(e.message.find("unterminated string"), std::string::npos);

  e = parse_error("size(payload.tags) > 1");
  EXPECT_EQ(e.position, 0u);
  EXPECT_NE(e.message.find("unknown function 'size'"), std::string::npos);

  e = parse_error("topic in payload.topics");
  EXPECT_EQ(e.position, 9u);
  EXPECT_NE(e.message.find("after 'in'"), std::string::npos);

  e = parse_error("topic in");
  EXPECT_EQ(e.position, 8u);

  e = parse_error("payload.a == 1 payload.b");
  EXPECT_EQ(e.position, 15u);

  e = parse_error("payload.a == 1 == 2");
  EXPECT_EQ(e.position, 15u);

  e = parse_error(R"(topic in ["a" "b"])");
  EXPECT_EQ(e.position, 14u);
  EXPECT_NE(e.message.find("']'"), std::string::npos);

  e = parse_error("topic in [payload.a]");
  EXPECT_EQ(e.position, 10u);

  e = parse_error("(payload.a == 1");
  EXPECT_EQ(e.position, 15u);

  e = parse_error("payload. == 1");
  EXPECT_EQ(e.position, 9u);

  e = parse_error("payload.a = 1");
  EXPECT_EQ(e.position, 10u);

  e = parse_error("payload.a & payload.b");
  EXPECT_EQ(e.position, 10u);

  e = parse_error("payload.a == 'x'");
  EXPECT_EQ(e.position, 13u);

  e = parse_error(R"("\q" == 1)");
  EXPECT_EQ(e.position, 1u);

  e = parse_error("exists(1)");
  EXPECT_EQ(e.position, 7u);

  e = parse_error("len(payload.a");
  EXPECT_EQ(e.position, 13u);

  e = parse_error("payload.a | upper");
  EXPECT_EQ(e.position, 10u);

  e = parse_error("");
  EXPECT_EQ(e.position, 0u);

  e = parse_error("   ");
  EXPECT_EQ(e.position, 3u);

  e = parse_error("1.x == 1");
  EXPECT_EQ(e.position, 0u);
}

TEST(Condition, DeepNestingIsAnErrorNotACrash) {
  std::string deep(10000, '(');
  EXPECT_FALSE(condition::parse(deep + "true"));
  std::string bangs(10000, '!');
  EXPECT_FALSE(condition::parse(bangs + "true"));
  std::string moderate = std::string(20, '(') + "true" + std::string(20, ')');
  EXPECT_TRUE(check(moderate.c_str()));
}

TEST(Condition, NeverThrowsOnAnyDocument) {
  const char* conditions[] = {
      "payload.a == 1",        "payload.a.b < 2",       "len(payload) > 0",       "exists(payload.x.y)",
      "payload in [1, null]",  "topic >= payload",      "!payload",               "payload.a || payload.b && key",
      "len(payload.a) <= len(topic)", "created_at > \"2026\"",
  };
  const char* documents[] = {
      "null", "[]", "[1,2]", "1", "\"x\"", "{}", R"({"payload": null})", R"({"payload": [1, {"a": 1}]})",
      R"({"payload": {"a": {"b": [1]}}, "topic": 5})", R"({"payload": "text", "topic": null, "key": {}})",
  };
  for (const char* text : conditions) {
    auto c = condition::parse(text);
    ASSERT_TRUE(c) << text << ": " << c.error().to_string();
    for (const char* d : documents)
      EXPECT_NO_THROW((void)c->matches(doc(d))) << text << " on " << d;
  }
}

TEST(Condition, ParsedOnceEvaluatedManyTimes) {
  auto c = condition::parse("payload.n % 2");
  ASSERT_FALSE(c); // '%' is not an operator
  auto even = condition::parse("payload.n in [0, 2, 4]");
  ASSERT_TRUE(even);
  auto copy = *even; // copies share the tree
  int matched = 0;
  for (int i = 0; i < 5; ++i) {
    json_value event{json_value::object_t{}};
    event.set("payload", json_value{json_value::object_t{{"n", json_value{i}}}});
    matched += copy.matches(event);
  }
  EXPECT_EQ(matched, 3);
}

TEST(Condition, APathMustStartWithANameOfTheEventDocument) {
  auto typo = txrelay::condition::parse("paylaod.closed == false");
  ASSERT_FALSE(typo);
  EXPECT_EQ(typo.error().position, 0u);
  EXPECT_NE(typo.error().message.find("paylaod"), std::string::npos);
  EXPECT_FALSE(txrelay::condition::parse("exists(contact)"));
  EXPECT_TRUE(txrelay::condition::parse("key != null && exists(payload.contact) && topic == \"t\""));
}
