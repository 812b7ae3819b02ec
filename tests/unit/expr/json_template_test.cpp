#include "expr/json_template.hpp"

#include <gtest/gtest.h>

using namespace txrelay;

namespace {

json_value doc(const char* json) {
  auto v = json_value::parse(json);
  EXPECT_TRUE(v) << v.error();
  return v ? *v : json_value{};
}

const json_value& sample() {
  static const json_value d = doc(R"({
    "topic": "profile.failed", "key": "u-7", "created_at": "2026-11-23T17:20:14Z",
    "payload": {"user_id": 7, "email": "a@example.com", "score": 2.5, "ok": false,
                "profile": {"name": "Ada", "tags": ["x"]}, "nothing": null}
  })");
  return d;
}

json_value render(const char* shape, const json_value& event = sample()) {
  auto t = json_template::parse(doc(shape));
  EXPECT_TRUE(t) << shape << ": " << (t ? "" : t.error().where + " " + t.error().error.to_string());
  return t ? t->render(event) : json_value{"<parse error>"};
}

template_error parse_error(const char* shape) {
  auto t = json_template::parse(doc(shape));
  EXPECT_FALSE(t) << shape << " should not parse";
  return t ? template_error{} : t.error();
}

} // namespace

TEST(JsonTemplate, SolePathsKeepTheirJsonType) {
  auto out = render(R"({"user_id": "{{ payload.user_id }}", "reason": "profile failed: {{ payload.email }}",
                        "score": "{{payload.score}}", "ok": "{{ payload.ok }}", "profile": "{{ payload.profile }}",
                        "missing": "{{ payload.nope }}", "null": "{{ payload.nothing }}",
                        "as_text": "{{ payload.user_id | json }}", "key": "{{ key }}"})");
  EXPECT_EQ(out.to_json(),
            R"({"user_id":7,"reason":"profile failed: a@example.com","score":2.5,"ok":false,)"
            R"("profile":{"name":"Ada","tags":["x"]},"missing":null,"null":null,"as_text":"7","key":"u-7"})");
}

TEST(JsonTemplate, NestedShapesAndConstants) {
  auto out = render(R"({"a": {"b": ["{{ payload.profile.name }}", 1, true, null, {"c": "{{ topic | upper }}"}]},
                        "n": 3.5, "plain": "no tags", "list": []})");
  EXPECT_EQ(out.to_json(), R"({"a":{"b":["Ada",1,true,null,{"c":"PROFILE.FAILED"}]},"n":3.5,"plain":"no tags","list":[]})");
  EXPECT_EQ(render(R"("{{ payload.user_id }}")").to_json(), "7");
  EXPECT_EQ(render("[1, \"{{ payload.profile.tags }}\"]").to_json(), R"([1,["x"]])");
  EXPECT_EQ(render("42").to_json(), "42");
}

TEST(JsonTemplate, KeysAreNotTemplates) {
  EXPECT_EQ(render(R"({"{{ topic }}": "x"})").to_json(), R"({"{{ topic }}":"x"})");
}

TEST(JsonTemplate, ErrorsSayWhereInTheShape) {
  auto e = parse_error(R"({"reason": "bad {{ payload.email | uper }}"})");
  EXPECT_EQ(e.where, "reason");
  EXPECT_EQ(e.error.position, 23u);
  EXPECT_NE(e.error.message.find("unknown filter"), std::string::npos);

  e = parse_error(R"({"items": [{"text": "ok"}, {"text": "ok"}, {"text": "{{ unclosed"}]})");
  EXPECT_EQ(e.where, "items[2].text");
  EXPECT_EQ(e.error.position, 0u);

  e = parse_error(R"({"a": {"b": "{{/if}}"}})");
  EXPECT_EQ(e.where, "a.b");

  e = parse_error(R"(["x", "{{ == }}"])");
  EXPECT_EQ(e.where, "[1]");

  e = parse_error(R"("{{")");
  EXPECT_EQ(e.where, "");
}

TEST(JsonTemplate, RenderNeverThrows) {
  auto t = json_template::parse(doc(R"({"a": "{{ payload.a }}", "b": ["{{ payload | json }}", "x {{ payload.a.b }}"],
                                        "c": "{{#if payload}}{{ payload | truncate(3) }}{{/if}}"})"));
  ASSERT_TRUE(t);
  const char* documents[] = {"null", "[]", "1", "{}", R"({"payload": null})", R"({"payload": [1, {"a": 1}]})",
                             R"({"payload": {"a": {"b": [1]}}})", R"({"payload": "text"})"};
  for (const char* d : documents)
    EXPECT_NO_THROW((void)t->render(doc(d))) << d;
  EXPECT_EQ(t->render(doc(R"({"payload": null})")).to_json(), R"({"a":null,"b":["null","x "],"c":""})");
  json_template empty;
  EXPECT_TRUE(empty.render(doc("{}")).is_null());
}
