// The keys of issue 3: route conditions, topic schemas, templates, notion and
// sql sinks, on_dead compensation, TLS. Every bad value names the key and,
// for an expression, the column.
#include "config/config.hpp"

#include "env_map.hpp"
#include "expr/event_document.hpp"

#include <gtest/gtest.h>

namespace txrelay {
namespace {

using testing::env_map;

result<txrelay_config, config_error> load(const std::string& yaml) {
  return load_config_text(yaml, "scenario.yaml", env_map({{"NOTION_TOKEN", "secret_abc"}}));
}

json_value doc(std::string_view payload) {
  return event_document_from_json(event_fields{"poll", std::nullopt, "e1", "d1", "2026-11-23T10:00:00Z"}, payload);
}

TEST(routing_and_templates_config, reads_conditions_templates_and_schemas) {
  auto c = load(R"YAML(
sinks:
  - name: polls
    kind: slack
    url: https://hooks.slack.com/services/T/B/x
    text: "{{#if payload.closed}}Closed: {{ payload.title }}{{else}}New poll: {{ payload.title }}{{/if}}"
  - name: hook
    kind: webhook
    url: http://127.0.0.1:9/in
    body: {poll: "{{ payload.id }}", title: "Poll {{ payload.title }}", fixed: 3, flags: [true, null]}
routes:
  - topic: poll
    when: payload.closed == false
    sinks: [polls]
  - topic: poll
    when: payload.closed == true && exists(payload.id)
    sinks: [polls, hook]
topics:
  poll:
    payload:
      title: {type: string, required: true, not_blank: true, max_length: 200}
      id: {type: integer}
      kind: {one_of: [meeting, lunch]}
)YAML");
  ASSERT_TRUE(c) << c.error().to_string();
  ASSERT_EQ(c->routes.size(), 2u);
  ASSERT_TRUE(c->routes[0].when);
  EXPECT_TRUE(c->routes[0].when->matches(doc(R"({"closed": false})")));
  EXPECT_FALSE(c->routes[1].when->matches(doc(R"({"closed": true})")));

  const auto& slack = c->sinks[0];
  ASSERT_TRUE(slack.templates.text);
  EXPECT_EQ(slack.templates.text->render(doc(R"({"closed": true, "title": "<b>Lunch</b>"})")),
            "Closed: &lt;b&gt;Lunch&lt;/b&gt;"); // slack escaping comes with the kind
  const auto& hook = c->sinks[1];
  ASSERT_TRUE(hook.templates.body);
  EXPECT_EQ(hook.templates.body->render(doc(R"({"id": 7, "title": "T"})")).to_json(),
            R"({"poll":7,"title":"Poll T","fixed":3,"flags":[true,null]})");

  ASSERT_EQ(c->topics.size(), 1u);
  const auto& schema = c->topics[0].schema;
  ASSERT_EQ(schema.fields.size(), 3u);
  EXPECT_TRUE(schema.fields[0].required);
  EXPECT_EQ(schema.fields[0].max_length, std::optional<std::size_t>{200});
  EXPECT_EQ(schema.fields[1].type, field_type::integer);
  EXPECT_EQ(schema.fields[2].one_of.size(), 2u);
}

TEST(routing_and_templates_config, reads_notion_sql_and_on_dead) {
  auto c = load(R"YAML(
sinks:
  - name: notion
    kind: notion
    token: "${NOTION_TOKEN}"
    database_id: 0123abcd
    tls: {verify: true}
    connect_timeout: 2s
    properties:
      Name: {title: "Feedback from {{ payload.user_name }}"}
      Contact: {rich_text: "{{ payload.contact }}", when: "exists(payload.contact)"}
      Date: {date: "{{ created_at }}"}
  - name: profile
    kind: sql
    statement: INSERT INTO profiles (id) VALUES ($payload.user_id::bigint)
    on_dead:
      publish: {topic: user.save_failed, payload: {user_id: "{{ payload.user_id }}"}}
  - name: cleanup
    kind: sql
    statement: DELETE FROM users WHERE id = $payload.user_id::bigint
  - name: feedback-row
    kind: sql
    phase: in_transaction
    statement: INSERT INTO feedback (body) VALUES ($payload.content)
routes:
  - {topic: feedback, sinks: [notion, feedback-row]}
  - {topic: user.registered, sinks: [profile]}
  - {topic: user.save_failed, sinks: [cleanup]}
)YAML");
  ASSERT_TRUE(c) << c.error().to_string();
  const auto& notion = c->sinks[0];
  ASSERT_TRUE(notion.notion);
  EXPECT_EQ(notion.endpoint->host, "api.notion.com"); // the default API base
  EXPECT_EQ(notion.notion->token, "secret_abc");
  EXPECT_EQ(notion.notion->version, "2022-06-28");
  EXPECT_FALSE(notion.notion->data_source);
  ASSERT_EQ(notion.notion->properties.size(), 3u);
  EXPECT_EQ(notion.notion->properties[1].type, "rich_text");
  EXPECT_TRUE(notion.notion->properties[1].when);
  EXPECT_EQ(notion.connect_timeout, millis{2000});
  EXPECT_EQ(notion.rate.per_second, 3); // Notion's published average
  EXPECT_EQ(notion.max_in_flight, 1);   // a 429 arrives before the next request leaves
  EXPECT_EQ(c->sinks[1].max_in_flight, 8);

  const auto& profile = c->sinks[1];
  ASSERT_TRUE(profile.sql);
  EXPECT_EQ(profile.sql->statement.text(), "INSERT INTO profiles (id) VALUES ($1::bigint)");
  EXPECT_EQ(profile.sql->phase, sql_phase::after_commit);
  ASSERT_TRUE(profile.on_dead);
  EXPECT_EQ(profile.on_dead->topic, "user.save_failed");
  EXPECT_EQ(c->sinks[2].sql->phase, sql_phase::after_commit);
  EXPECT_EQ(c->sinks[3].sql->phase, sql_phase::in_transaction);
}

struct bad_case {
  std::string yaml;
  std::string key;
  std::string problem;
};

TEST(routing_and_templates_config, errors_name_the_key_and_the_column) {
  const std::string log_sink = "sinks:\n  - {name: a, kind: log}\n";
  const bad_case cases[] = {
    {log_sink + "routes:\n  - {topic: t, when: 'payload.a ==', sinks: [a]}\n", "routes[0].when",
     "invalid condition at column"},
    {log_sink + "routes:\n  - {topic: t, when: 'payload.a = 1', sinks: [a]}\n", "routes[0].when", "column"},
    {"sinks:\n  - {name: d, kind: discord, url: 'https://x/y', content: 'Hi {{ payload.name'}\n", "sinks[0].content",
     "invalid template"},
    {"sinks:\n  - {name: d, kind: discord, url: 'https://x/y', content: '{{ payload.a | uper }}'}\n",
     "sinks[0].content", "uper"},
    {"sinks:\n  - {name: d, kind: discord, url: 'https://x/y', text: 'x'}\n", "sinks[0].text",
     "a discord sink takes no text (only slack sinks do)"},
    {"sinks:\n  - {name: w, kind: webhook, url: 'http://x/y', body: {a: '{{ }}'}}\n", "sinks[0].body.a",
     "invalid template"},
    {"sinks:\n  - {name: s, kind: sql, statement: 'DELETE FROM t WHERE id = $1'}\n", "sinks[0].statement",
     "positional"},
    {"sinks:\n  - {name: s, kind: sql}\n", "sinks[0].statement", "is required"},
    {"sinks:\n  - {name: s, kind: sql, phase: in_transaction, statement: SELECT 1, retry: {max_attempts: 3}}\n",
     "sinks[0].retry", "an in_transaction sql sink takes no retry"},
    {"sinks:\n  - {name: s, kind: sql, statement: 'SELECT 1', phase: later}\n", "sinks[0].phase", "after_commit"},
    {"sinks:\n  - {name: s, kind: sql, statement: 'SELECT 1', url: 'http://x/'}\n", "sinks[0].url",
     "a sql sink takes no url"},
    {"sinks:\n  - {name: n, kind: notion, database_id: x, properties: {Name: {title: x}}}\n", "sinks[0].token",
     "is required"},
    {"sinks:\n  - {name: n, kind: notion, token: t, properties: {Name: {title: x}}}\n", "sinks[0].database_id",
     "is required"},
    {"sinks:\n  - {name: n, kind: notion, token: t, database_id: d, properties: {Body: {rich_text: x}}}\n",
     "sinks[0].properties", "exactly one title"},
    {"sinks:\n  - {name: n, kind: notion, token: t, database_id: d, properties: {Name: {titel: x}}}\n",
     "sinks[0].properties.Name.titel", "unknown property type"},
    {"sinks:\n  - {name: n, kind: notion, token: t, database_id: d, properties: {Name: {title: x, when: 'a =='}}}\n",
     "sinks[0].properties.Name.when", "invalid condition"},
    {"sinks:\n  - {name: w, kind: webhook, url: 'https://x/y', tls: {ca_file: /nonexistent/ca.pem}}\n",
     "sinks[0].tls.ca_file", "not a readable file"},
    {"sinks:\n  - {name: w, kind: webhook, url: 'https://x/y', connect_timeout: 0s}\n", "sinks[0].connect_timeout",
     "greater than 0"},
    {"sinks:\n  - name: s\n    kind: sql\n    statement: SELECT 1\n    on_dead: {publish: {topic: nowhere, payload: {}}}\n",
     "sinks[0].on_dead.publish.topic", "no route has topic \"nowhere\""},
    {"sinks:\n  - name: s\n    kind: sql\n    statement: SELECT 1\n    on_dead: {publish: {topic: t}}\n",
     "sinks[0].on_dead.publish.payload", "is required"},
    {"sinks:\n  - name: s\n    kind: sql\n    phase: in_transaction\n    statement: SELECT 1\n"
     "    on_dead: {publish: {topic: t, payload: {}}}\n",
     "sinks[0].on_dead", "never has dead deliveries"},
    {log_sink + "routes:\n  - {topic: t, sinks: [a]}\ntopics:\n  t: {payload: {a: {type: text}}}\n",
     "topics.t.payload.a.type", "unknown type"},
    {log_sink + "routes:\n  - {topic: t, sinks: [a]}\ntopics:\n  t: {payload: {a: {max_len: 3}}}\n",
     "topics.t.payload.a.max_len", "unknown key"},
    {log_sink + "routes:\n  - {topic: t, sinks: [a]}\ntopics:\n  t: {payload: {a: {min_length: 5, max_length: 3}}}\n",
     "topics.t.payload.a.max_length", "at least min_length"},
    {log_sink + "routes:\n  - {topic: t, sinks: [a]}\ntopics:\n  feedbak: {payload: {a: {type: string}}}\n",
     "topics.feedbak", "no route has this topic"},
    // A compensation that feeds itself, directly or through another sink.
    {"sinks:\n  - {name: a, kind: sql, statement: SELECT 1, on_dead: {publish: {topic: failed, payload: {}}}}\n"
     "routes:\n  - {topic: failed, sinks: [a]}\n",
     "sinks[0].on_dead.publish.topic", "compensation loop: a -> a"},
    {"sinks:\n  - {name: a, kind: sql, statement: SELECT 1, on_dead: {publish: {topic: t1, payload: {}}}}\n"
     "  - {name: b, kind: sql, statement: SELECT 1, on_dead: {publish: {topic: t2, payload: {}}}}\n"
     "routes:\n  - {topic: t1, sinks: [b]}\n  - {topic: t2, sinks: [a]}\n",
     "sinks[0].on_dead.publish.topic", "compensation loop: a -> b -> a"},
    {"sinks:\n  - {name: a, kind: sql, statement: SELECT 1, on_dead: {publish: {topic: t1, payload: {}}}}\n"
     "  - {name: b, kind: sql, phase: in_transaction, statement: SELECT 1}\n"
     "routes:\n  - {topic: t1, sinks: [b]}\n",
     "sinks[0].on_dead.publish.topic", "runs in_transaction"},
  };
  for (const auto& bad : cases) {
    auto c = load(bad.yaml);
    ASSERT_FALSE(c) << bad.yaml;
    EXPECT_EQ(c.error().file, "scenario.yaml");
    EXPECT_EQ(c.error().key, bad.key) << bad.yaml << "\n" << c.error().to_string();
    EXPECT_NE(c.error().problem.find(bad.problem), std::string::npos) << c.error().to_string();
  }
}

TEST(routing_and_templates_config, a_notion_token_never_appears_in_an_error) {
  auto c = load("sinks:\n  - {name: n, kind: notion, token: '${NOTION_TOKEN}', database_id: d, properties: {}}\n");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().to_string().find("secret_abc"), std::string::npos);
}

} // namespace
} // namespace txrelay
