#include "expr/text_template.hpp"

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
    "topic": "feedback.created", "key": null, "event_id": "evt_1", "delivery_id": null,
    "created_at": "2026-11-23T17:20:14.123Z",
    "payload": {"user_name": "Ada", "rating": 4, "score": 2.5, "contact": null, "empty": "",
                "tags": ["a", "b"], "user": {"id": 7}, "text": "héllo wörld", "shout": "MiXeD",
                "ok": true}
  })");
  return d;
}

std::string render(const char* text, text_escaping escaping = text_escaping::plain,
                   const json_value& event = sample()) {
  auto t = text_template::parse(text, escaping);
  EXPECT_TRUE(t) << text << ": " << (t ? "" : t.error().to_string());
  return t ? t->render(event) : "<parse error>";
}

expression_error parse_error(const char* text) {
  auto t = text_template::parse(text);
  EXPECT_FALSE(t) << text << " should not parse";
  return t ? expression_error{} : t.error();
}

} // namespace

TEST(TextTemplate, InsertsValues) {
  EXPECT_EQ(render("Feedback from {{ payload.user_name }} ({{payload.rating}}/5, {{ payload.score }})"),
            "Feedback from Ada (4/5, 2.5)");
  EXPECT_EQ(render("{{ payload.tags }} {{ payload.user }} {{ payload.ok }}"), R"(["a","b"] {"id":7} true)");
  EXPECT_EQ(render("no tags at all"), "no tags at all");
  EXPECT_EQ(render(""), "");
  EXPECT_EQ(render(R"({{ "{{" }} literal {{ "}}" }})"), "{{ literal }}");
  EXPECT_EQ(render("a } b }} c {"), "a } b }} c {");
  EXPECT_EQ(render("{{ payload.rating >= 4 }}"), "true");
  EXPECT_EQ(render("{{ len(payload.tags) }}"), "2");
}

TEST(TextTemplate, MissingPathsRenderEmpty) {
  EXPECT_EQ(render("[{{ payload.nope }}][{{ payload.contact }}][{{ key }}][{{ payload.user_name.x }}]"), "[][][][]");
}

TEST(TextTemplate, Filters) {
  EXPECT_EQ(render(R"({{ payload.contact | default("none") }})"), "none");
  EXPECT_EQ(render(R"({{ payload.nope | default("none") }})"), "none");
  EXPECT_EQ(render(R"({{ payload.empty | default("none") }})"), "none");
  EXPECT_EQ(render(R"({{ payload.user_name | default("none") }})"), "Ada");
  EXPECT_EQ(render(R"({{ payload.nope | default(0) }})"), "0");
  EXPECT_EQ(render("{{ payload.shout | upper }} {{ payload.shout | lower }}"), "MIXED mixed");
  EXPECT_EQ(render("{{ payload.text | upper }}"), "HéLLO WöRLD"); // ASCII only
  EXPECT_EQ(render("{{ payload.text | truncate(5) }}"), "héll…");
  EXPECT_EQ(render("{{ payload.text | truncate(11) }}"), "héllo wörld");
  EXPECT_EQ(render("{{ payload.text | truncate(1) }}"), "…");
  EXPECT_EQ(render("{{ payload.text | truncate(0) }}"), "");
  EXPECT_EQ(render("{{ payload.user_name | json }} {{ payload.nope | json }} {{ payload.user | json }}"),
            R"("Ada" null {"id":7})");
  EXPECT_EQ(render("{{ created_at | date }}"), "2026-11-23");
  EXPECT_EQ(render("{{ created_at | datetime }}"), "2026-11-23 17:20:14 UTC");
  EXPECT_EQ(render("{{ payload.nope | default(\"x\") | upper | truncate(3) }}"), "X");
  EXPECT_EQ(render("{{ payload.user_name | upper() }}"), "ADA");
}

TEST(TextTemplate, DatesConvertToUtcAndLeaveOtherTextAlone) {
  json_value event = doc(R"({"payload": {
    "plus": "2026-11-23T17:20:14+00:00", "offset": "2026-12-31T23:30:00-05:00",
    "east": "2026-01-01T01:00:00.5+02:00", "lower": "2026-11-23t17:20:14z",
    "bad_day": "2026-02-30T00:00:00Z", "no_zone": "2026-11-23T17:20:14", "word": "tomorrow",
    "bare": "2026-11-23", "number": 5}})");
  auto r = [&](const char* text) { return render(text, text_escaping::plain, event); };
  EXPECT_EQ(r("{{ payload.plus | datetime }}"), "2026-11-23 17:20:14 UTC");
  EXPECT_EQ(r("{{ payload.offset | datetime }}"), "2027-01-01 04:30:00 UTC");
  EXPECT_EQ(r("{{ payload.offset | date }}"), "2027-01-01");
  EXPECT_EQ(r("{{ payload.east | datetime }}"), "2025-12-31 23:00:00 UTC");
  EXPECT_EQ(r("{{ payload.lower | datetime }}"), "2026-11-23 17:20:14 UTC");
  EXPECT_EQ(r("{{ payload.bad_day | datetime }}"), "2026-02-30T00:00:00Z");
  EXPECT_EQ(r("{{ payload.no_zone | datetime }}"), "2026-11-23T17:20:14");
  EXPECT_EQ(r("{{ payload.word | date }}"), "tomorrow");
  EXPECT_EQ(r("{{ payload.bare | date }}"), "2026-11-23");
  EXPECT_EQ(r("{{ payload.number | date }}"), "5");
  EXPECT_EQ(r("[{{ payload.nope | datetime }}]"), "[]");
}

TEST(TextTemplate, IfElseNests) {
  const char* text = "{{#if payload.rating >= 4}}A good one!{{else}}Needs attention{{/if}}";
  EXPECT_EQ(render(text), "A good one!");
  EXPECT_EQ(render(text, text_escaping::plain, doc(R"({"payload": {"rating": 2}})")), "Needs attention");
  EXPECT_EQ(render("{{#if payload.nope}}yes{{/if}}."), ".");
  EXPECT_EQ(render("{{ #if payload.ok }}yes{{ / if }}"), "yes");
  const char* nested = "{{#if payload.ok}}[{{#if payload.contact}}c{{else}}{{#if payload.rating == 4}}four"
                       "{{else}}other{{/if}}{{/if}}]{{else}}not ok{{/if}}";
  EXPECT_EQ(render(nested), "[four]");
  EXPECT_EQ(render(nested, text_escaping::plain, doc(R"({"payload": {"ok": true, "rating": 1}})")), "[other]");
  EXPECT_EQ(render(nested, text_escaping::plain, doc(R"({"payload": {"ok": true, "contact": "x"}})")), "[c]");
  EXPECT_EQ(render(nested, text_escaping::plain, doc("{}")), "not ok");
}

TEST(TextTemplate, ErrorsSayWhere) {
  auto e = parse_error("Hi {{ payload.name | uper }}");
  EXPECT_EQ(e.position, 21u);
  EXPECT_NE(e.message.find("unknown filter 'uper'"), std::string::npos) << e.message;

  e = parse_error("Hi {{ payload.name ");
  EXPECT_EQ(e.position, 3u);
  EXPECT_NE(e.message.find("'{{'"), std::string::npos);

  e = parse_error("ok {{/if}}");
  EXPECT_EQ(e.position, 3u);

  e = parse_error("ok {{else}}");
  EXPECT_EQ(e.position, 3u);

  e = parse_error("x {{#if payload.ok}} never closed");
  EXPECT_EQ(e.position, 2u);
  EXPECT_NE(e.message.find("never closed"), std::string::npos);

  e = parse_error("{{#if payload.ok}}a{{else}}b{{else}}c{{/if}}");
  EXPECT_EQ(e.position, 28u);

  e = parse_error("{{#each payload.tags}}{{/each}}");
  EXPECT_EQ(e.position, 0u);

  e = parse_error("{{#if payload.a ==}}x{{/if}}");
  EXPECT_EQ(e.position, 18u); // the end of the condition, in the whole template

  e = parse_error("ab {{ payload.a == }}");
  EXPECT_EQ(e.position, 19u);

  e = parse_error("{{ }}");
  EXPECT_EQ(e.position, 3u);

  e = parse_error(R"({{ payload.a | truncate("x") }})");
  EXPECT_EQ(e.position, 15u);
  e = parse_error("{{ payload.a | truncate(-1) }}");
  EXPECT_EQ(e.position, 15u);
  e = parse_error("{{ payload.a | default }}");
  EXPECT_EQ(e.position, 15u);
  e = parse_error("{{ payload.a | upper(1) }}");
  EXPECT_EQ(e.position, 15u);
  e = parse_error("{{ payload.a | truncate(3 }}");
  EXPECT_EQ(e.position, 26u);
  e = parse_error("{{ payload.a | }}");
  EXPECT_EQ(e.position, 15u);
  e = parse_error(R"({{ "abc }})");
  EXPECT_EQ(e.position, 3u);
  EXPECT_NE(e.message.find("unterminated string"), std::string::npos);
}

TEST(TextTemplate, SolePath) {
  auto t = text_template::parse("{{ payload.user.id }}");
  ASSERT_TRUE(t);
  ASSERT_TRUE(t->sole_path());
  EXPECT_EQ(*t->sole_path(), (std::vector<std::string>{"payload", "user", "id"}));
  EXPECT_TRUE(text_template::parse("{{topic}}")->sole_path());
  EXPECT_FALSE(text_template::parse(" {{ topic }}")->sole_path());
  EXPECT_FALSE(text_template::parse("{{ topic }}!")->sole_path());
  EXPECT_FALSE(text_template::parse("{{ topic | upper }}")->sole_path());
  EXPECT_FALSE(text_template::parse("{{ topic }}{{ key }}")->sole_path());
  EXPECT_FALSE(text_template::parse(R"({{ "topic" }})")->sole_path());
  EXPECT_FALSE(text_template::parse("{{#if topic}}{{ topic }}{{/if}}")->sole_path());
  EXPECT_FALSE(text_template::parse("topic")->sole_path());
  EXPECT_EQ(text_template::parse("a {{ topic }}")->text(), "a {{ topic }}");
}

TEST(TextTemplate, DiscordOutsideACodeBlockEscapesMarkdown) {
  json_value event = doc(R"({"payload": {"v": "*bold* _it_ ~s~ `c` |x| > #h -l [a](b) \\ @everyone a@b hi @here"}})");
  EXPECT_EQ(render("**{{ payload.v }}**", text_escaping::discord_markdown, event),
            R"(**\*bold\* \_it\_ \~s\~ \`c\` \|x\| \> \#h \-l \[a\]\(b\) \\ \@everyone a@b hi \@here**)");
}

TEST(TextTemplate, DiscordValueCannotCloseACodeBlock) {
  json_value event = doc(R"({"payload": {"v": "x```\n@everyone *y*"}})");
  std::string out = render("```\n{{ payload.v }}\n```\nafter {{ payload.v }}", text_escaping::discord_markdown, event);
  std::string zwsp = "\u200b";
  std::string inside = "x`" + zwsp + "`" + zwsp + "`\n@everyone *y*"; // unchanged apart from the fence
  std::string outside = "x\\`\\`\\`\n\\@everyone \\*y\\*";
  EXPECT_EQ(out, "```\n" + inside + "\n```\nafter " + outside);
  // Exactly the template's own two fences remain.
  std::size_t fences = 0;
  for (auto at = out.find("```"); at != std::string::npos; at = out.find("```", at + 3))
    ++fences;
  EXPECT_EQ(fences, 2u);
  // Inside a fence opened before an {{#if}}, too.
  EXPECT_EQ(render("```{{#if true}}{{ payload.v }}{{/if}}```", text_escaping::discord_markdown, event),
            "```" + inside + "```");
}

TEST(TextTemplate, SlackEscapesControlCharacters) {
  json_value event = doc(R"({"payload": {"v": "<!channel> & <https://x|click>"}})");
  EXPECT_EQ(render("<b>{{ payload.v }}</b>", text_escaping::slack_mrkdwn, event),
            "<b>&lt;!channel&gt; &amp; &lt;https://x|click&gt;</b>");
}

TEST(TextTemplate, PlainInsertsAsIs) {
  json_value event = doc(R"({"payload": {"v": "*<!channel>* ```"}})");
  EXPECT_EQ(render("{{ payload.v }}", text_escaping::plain, event), "*<!channel>* ```");
}

TEST(TextTemplate, RenderNeverThrows) {
  auto t = text_template::parse(
      "{{ payload.a }} {{ payload | json }} {{ payload.a.b | default(1) | upper | truncate(2) }} "
      "{{#if len(payload) > 1}}{{ payload | datetime }}{{else}}{{ topic | date }}{{/if}} {{ created_at }}",
      text_escaping::discord_markdown);
  ASSERT_TRUE(t) << t.error().to_string();
  const char* documents[] = {"null", "[]", "[1,2]", "1", "\"x\"", "{}", R"({"payload": null})",
                             R"({"payload": [1, {"a": 1}]})", R"({"payload": {"a": {"b": [1]}}, "topic": 5})",
                             R"({"payload": "text", "topic": null, "created_at": 3})"};
  for (const char* d : documents)
    EXPECT_NO_THROW((void)t->render(doc(d))) << d;
  text_template empty;
  EXPECT_EQ(empty.render(doc("{}")), "");
}
