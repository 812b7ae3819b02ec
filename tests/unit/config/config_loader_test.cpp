#include "config/config.hpp"

#include "routing/routing_table.hpp"
#include "env_map.hpp"

#include <gtest/gtest.h>


namespace txrelay {
namespace {

using testing::env_map;

// Known-good secrets (24 and 32 bytes after "whsec_").
const std::string secret_a = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const std::string secret_b = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

const std::string file = "test.yaml";

txrelay_config load_ok(const std::string& yaml, const env_lookup& env = env_map()) {
  auto r = load_config_text(yaml, file, env);
  EXPECT_TRUE(r) << (r ? "" : r.error().to_string());
  return r ? *r : txrelay_config{};
}

/// Asserts the load fails with exactly `key` and a problem containing `problem`.
config_error expect_error(const std::string& yaml, const std::string& key, const std::string& problem,
                          const env_lookup& env = env_map()) {
  auto r = load_config_text(yaml, file, env);
  EXPECT_FALSE(r) << "loaded without error:\n" << yaml;
  if (r)
    return {};
  EXPECT_EQ(r.error().file, file);
  EXPECT_EQ(r.error().key, key) << r.error().to_string();
  EXPECT_NE(r.error().problem.find(problem), std::string::npos)
    << "expected \"" << problem << "\" in: " << r.error().to_string();
  return r.error();
}

// --- valid configurations -------------------------------------------------

TEST(load_config, full_valid_config) {
  auto c = load_ok(R"(
server:
  listen: "0.0.0.0:9090"
  max_body_bytes: 4096
auth:
  keys:
    - {name: orders-service, role: producer, key: "k-orders-0123456789abcdef"}
    - {name: ops, role: admin, key_sha256: "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"}
database:
  url: "postgresql://txrelay@db/txrelay"
sinks:
  - name: audit_log
    kind: log
    max_in_flight: 2
    retry: {max_attempts: 3}
  - name: hook-1
    kind: webhook
    url: "http://hooks.example.com:8443/in/abc?x=1"
    secrets: [")" + secret_a + R"(", ")" + secret_b + R"("]
    timeout: 250ms
    max_in_flight: 16
    retry: {max_attempts: 12, base: 2s, cap: 5m}
routes:
  - topic: order.created
    sinks: [hook-1, audit_log]
  - topic: feedback
    sinks: [audit_log]
)");
  EXPECT_EQ(c.source_file, file);
  EXPECT_EQ(c.server.listen.host, "0.0.0.0");
  EXPECT_EQ(c.server.listen.port, 9090);
  EXPECT_EQ(c.server.max_body_bytes, 4096u);
  EXPECT_EQ(c.database.url, "postgresql://txrelay@db/txrelay");
  ASSERT_EQ(c.sinks.size(), 2u);
  EXPECT_TRUE(c.disabled_sinks.empty());

  const auto& log = c.sinks[0];
  EXPECT_EQ(log.name, "audit_log");
  EXPECT_EQ(log.kind, sink_kind::log);
  EXPECT_FALSE(log.endpoint);
  EXPECT_TRUE(log.secrets.empty());
  EXPECT_EQ(log.max_in_flight, 2);
  EXPECT_EQ(log.retry.max_attempts, 3);
  EXPECT_EQ(log.retry.base, millis{1000}); // defaults kept for keys not given
  EXPECT_EQ(log.retry.cap, millis{3'600'000});

  const auto& hook = c.sinks[1];
  EXPECT_EQ(hook.name, "hook-1");
  EXPECT_EQ(hook.kind, sink_kind::webhook);
  ASSERT_TRUE(hook.endpoint);
  EXPECT_EQ(hook.endpoint->scheme, "http");
  EXPECT_EQ(hook.endpoint->host, "hooks.example.com");
  EXPECT_EQ(hook.endpoint->port, 8443);
  EXPECT_EQ(hook.endpoint->target, "/in/abc?x=1");
  EXPECT_EQ(hook.secrets, (std::vector<std::string>{secret_a, secret_b}));
  EXPECT_EQ(hook.request_timeout, millis{250});
  EXPECT_EQ(hook.max_in_flight, 16);
  EXPECT_EQ(hook.retry.max_attempts, 12);
  EXPECT_EQ(hook.retry.base, millis{2000});
  EXPECT_EQ(hook.retry.cap, millis{300'000});

  ASSERT_EQ(c.routes.size(), 2u);
  EXPECT_EQ(c.routes[0].topic, "order.created");
  EXPECT_EQ(c.routes[0].sinks, (std::vector<std::string>{"hook-1", "audit_log"}));
  EXPECT_EQ(c.routes[1].topic, "feedback");
  EXPECT_EQ(c.routes[1].sinks, (std::vector<std::string>{"audit_log"}));
}

TEST(load_config, empty_file_gives_defaults) {
  for (const char* text : {"", "# only a comment\n", "---\n"}) {
    auto c = load_ok(text);
    EXPECT_EQ(c.server.listen.host, "127.0.0.1") << text;
    EXPECT_EQ(c.server.listen.port, 8080) << text;
    EXPECT_EQ(c.server.max_body_bytes, 1u << 20) << text;
    EXPECT_EQ(c.database.url, "") << text;
    EXPECT_TRUE(c.sinks.empty()) << text;
    EXPECT_TRUE(c.routes.empty()) << text;
  }
}

TEST(load_config, sink_defaults) {
  auto c = load_ok("sinks:\n  - {name: h, kind: webhook, url: 'http://127.0.0.1:9/x'}\n");
  ASSERT_EQ(c.sinks.size(), 1u);
  const auto& s = c.sinks[0];
  EXPECT_EQ(s.request_timeout, millis{10'000});
  EXPECT_EQ(s.max_in_flight, 8);
  EXPECT_EQ(s.retry.max_attempts, 8);
  EXPECT_EQ(s.retry.base, millis{1000});
  EXPECT_EQ(s.retry.cap, millis{3'600'000});
  EXPECT_TRUE(s.secrets.empty());
}

TEST(load_config, ipv6_listen_and_port_zero) {
  auto c = load_ok("server: {listen: '[::1]:0'}\n");
  EXPECT_EQ(c.server.listen.host, "::1");
  EXPECT_EQ(c.server.listen.port, 0);
}

// --- interpolation --------------------------------------------------------

TEST(load_config, values_are_interpolated_before_they_are_interpreted) {
  auto env = env_map({{"LISTEN", "10.0.0.1:7000"}, {"INFLIGHT", "3"}, {"HOOK", "http://h.example/p"},
                      {"SECRET", secret_a}, {"WAIT", "5s"}, {"TOPIC", "orders"}, {"OPT", "false"}});
  auto c = load_ok(R"(
server: {listen: "${LISTEN}", max_body_bytes: "${BODY:-512}"}
auth: {disabled: "${NO_AUTH:-true}"}
sinks:
  - name: "${NAME:-hook}"
    kind: "${KIND:-webhook}"
    url: ${HOOK}
    optional: ${OPT}
    secret: ${SECRET}
    timeout: ${WAIT}
    max_in_flight: ${INFLIGHT}
routes:
  - {topic: "${TOPIC}", sinks: ["${NAME:-hook}"]}
)",
                   env);
  EXPECT_EQ(c.server.listen.host, "10.0.0.1");
  EXPECT_EQ(c.server.listen.port, 7000);
  EXPECT_EQ(c.server.max_body_bytes, 512u);
  ASSERT_EQ(c.sinks.size(), 1u);
  EXPECT_EQ(c.sinks[0].name, "hook");
  EXPECT_EQ(c.sinks[0].endpoint->host, "h.example");
  EXPECT_EQ(c.sinks[0].secrets, std::vector<std::string>{secret_a});
  EXPECT_EQ(c.sinks[0].request_timeout, millis{5000});
  EXPECT_EQ(c.sinks[0].max_in_flight, 3);
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].topic, "orders");
}

TEST(load_config, alternative_word_and_literal_dollar_in_values) {
  auto c = load_ok("database: {url: 'host=db password=pa$$word${SSL:+ sslmode=require}'}\n",
                   env_map({{"SSL", "1"}}));
  EXPECT_EQ(c.database.url, "host=db password=pa$word sslmode=require");
  c = load_ok("database: {url: 'host=db password=pa$$word${SSL:+ sslmode=require}'}\n");
  EXPECT_EQ(c.database.url, "host=db password=pa$word");
}

TEST(load_config, unset_variable_error_names_the_key_and_the_variable) {
  auto e = expect_error("sinks:\n  - {name: h, kind: webhook, url: '${HOOK_URL}'}\n", "sinks[0].url", "HOOK_URL");
  EXPECT_NE(e.problem.find("not set"), std::string::npos) << e.problem;
  expect_error("server: {listen: '${LISTEN}'}\n", "server.listen", "LISTEN");
  expect_error("routes:\n  - {topic: t, sinks: [a, '${SECOND}']}\nsinks: [{name: a, kind: log}]\n",
               "routes[0].sinks[1]", "SECOND");
}

TEST(load_config, keys_are_not_interpolated) {
  expect_error("server:\n  ${KEY}: 1\n", "server.${KEY}", "unknown key", env_map({{"KEY", "max_body_bytes"}}));
}

// --- unknown keys, duplicates, types ------------------------------------------

TEST(load_config, unknown_keys_are_errors_everywhere) {
  expect_error("serverr: {}\n", "serverr", "unknown key");
  expect_error("server: {listen: '127.0.0.1:1', max_body: 5}\n", "server.max_body", "unknown key");
  expect_error("database: {uri: x}\n", "database.uri", "unknown key");
  expect_error("sinks:\n  - {name: a, kind: log, colour: red}\n", "sinks[0].colour", "unknown key");
  expect_error("sinks:\n  - {name: a, kind: log, retry: {attempts: 3}}\n", "sinks[0].retry.attempts",
               "unknown key");
  auto e = expect_error("routes:\n  - {topic: t, sink: [a]}\n", "routes[0].sink", "unknown key");
  EXPECT_NE(e.problem.find("topic, when, sinks"), std::string::npos) << e.problem; // says what is allowed
}

TEST(load_config, a_misspelt_key_gets_the_nearest_one_offered_and_a_sink_is_named) {
  auto e = expect_error("sinks:\n  - {name: a, kind: log}\n  - {name: hook, kind: webhook, url: 'http://h/x', "
                        "max_inflight: 4}\n",
                        "sinks[1].max_inflight", "did you mean \"max_in_flight\"?");
  EXPECT_NE(e.problem.find("(sink \"hook\")"), std::string::npos) << e.problem;
  e = expect_error("retention: {deliverd: 7d}\n", "retention.deliverd", "did you mean \"delivered\"?");
  // Nothing near: no guess, only the list.
  e = expect_error("server: {colour: red}\n", "server.colour", "unknown key");
  EXPECT_EQ(e.problem.find("did you mean"), std::string::npos) << e.problem;
}

TEST(load_config, duplicate_keys_are_errors) {
  expect_error("server:\n  listen: '127.0.0.1:1'\n  listen: '127.0.0.1:2'\n", "server.listen", "duplicate key");
}

TEST(load_config, wrong_types_are_errors) {
  expect_error("server: {max_body_bytes: lots}\n", "server.max_body_bytes", "expected an integer");
  expect_error("server: {max_body_bytes: 1.5}\n", "server.max_body_bytes", "expected an integer");
  expect_error("server: {max_body_bytes: [1]}\n", "server.max_body_bytes", "expected an integer, got a list");
  expect_error("server: [listen]\n", "server", "expected a mapping, got a list");
  expect_error("server: {listen: {host: x}}\n", "server.listen", "expected a string, got a mapping");
  expect_error("server: {listen: }\n", "server.listen", "expected a string, got no value");
  expect_error("sinks: {name: a}\n", "sinks", "expected a list of sinks");
  expect_error("sinks: [log]\n", "sinks[0]", "expected a mapping, got a scalar");
  expect_error("routes: feedback\n", "routes", "expected a list of routes");
  expect_error("routes:\n  - {topic: [a, b], sinks: [x]}\n", "routes[0].topic", "expected a string");
  expect_error("sinks:\n  - {name: h, kind: webhook, url: 'http://h/x', optional: maybe}\n", "sinks[0].optional",
               "expected true or false");
  expect_error("sinks:\n  - {name: h, kind: webhook, url: 'http://h/x', timeout: soon}\n", "sinks[0].timeout",
               "not a duration");
  expect_error("sinks:\n  - {name: a, kind: log, retry: 3}\n", "sinks[0].retry", "expected a mapping");
  expect_error("just text\n", "", "expected a mapping");
}

// --- ranges ----------------------------------------------------------------

TEST(load_config, numbers_out_of_range_are_errors) {
  expect_error("server: {max_body_bytes: 0}\n", "server.max_body_bytes", "must be from 1");
  expect_error("server: {max_body_bytes: -5}\n", "server.max_body_bytes", "must be from 1");
  expect_error("server: {max_body_bytes: 99999999999999999999999}\n", "server.max_body_bytes", "must be from 1");
  expect_error("sinks:\n  - {name: a, kind: log, max_in_flight: 0}\n", "sinks[0].max_in_flight", "1 to 1024");
  expect_error("sinks:\n  - {name: a, kind: log, max_in_flight: 1025}\n", "sinks[0].max_in_flight", "1 to 1024");
  expect_error("sinks:\n  - {name: a, kind: log, retry: {max_attempts: 0}}\n", "sinks[0].retry.max_attempts",
               "1 to 100");
  expect_error("sinks:\n  - {name: a, kind: log, retry: {max_attempts: 101}}\n", "sinks[0].retry.max_attempts",
               "1 to 100");
  auto c = load_ok("sinks:\n  - {name: a, kind: log, max_in_flight: 1024, retry: {max_attempts: 100}}\n");
  ASSERT_EQ(c.sinks.size(), 1u);
  EXPECT_EQ(c.sinks[0].max_in_flight, 1024);
  EXPECT_EQ(c.sinks[0].retry.max_attempts, 100);
}

TEST(load_config, retry_base_must_be_positive_and_cap_at_least_base) {
  expect_error("sinks:\n  - {name: a, kind: log}\n  - {name: b, kind: log, retry: {base: 0ms}}\n",
               "sinks[1].retry.base", "greater than 0");
  expect_error("sinks:\n  - {name: b, kind: log, retry: {base: 2s, cap: 1s}}\n", "sinks[0].retry.cap",
               "at least base");
  expect_error("sinks:\n  - {name: b, kind: log, retry: {cap: 500ms}}\n", "sinks[0].retry.cap", "at least base");
  auto c = load_ok("sinks:\n  - {name: b, kind: log, retry: {base: 1s, cap: 1s}}\n");
  ASSERT_EQ(c.sinks.size(), 1u);
  EXPECT_EQ(c.sinks[0].retry.cap, millis{1000});
}

TEST(load_config, webhook_timeout_must_be_positive) {
  expect_error("sinks:\n  - {name: h, kind: webhook, url: 'http://h/x', timeout: 0s}\n", "sinks[0].timeout",
               "greater than 0");
}

TEST(load_config, bad_listen_address_is_an_error) {
  expect_error("server: {listen: localhost}\n", "server.listen", "no port");
  expect_error("server: {listen: '::1:8080'}\n", "server.listen", "brackets");
  expect_error("server: {listen: '127.0.0.1:70000'}\n", "server.listen", "out of range");
}

// --- sinks -------------------------------------------------------------------

TEST(load_config, sink_name_is_required_valid_and_unique) {
  expect_error("sinks:\n  - {kind: log}\n", "sinks[0].name", "is required");
  expect_error("sinks:\n  - {name: Feedback, kind: log}\n", "sinks[0].name", "not a valid sink name");
  expect_error("sinks:\n  - {name: 'a b', kind: log}\n", "sinks[0].name", "not a valid sink name");
  expect_error("sinks:\n  - {name: '', kind: log}\n", "sinks[0].name", "not a valid sink name");
  expect_error("sinks:\n  - {name: " + std::string(65, 'a') + ", kind: log}\n", "sinks[0].name",
               "not a valid sink name");
  auto c = load_ok("sinks:\n  - {name: " + std::string(64, 'a') + ", kind: log}\n  - {name: a_b-9, kind: log}\n");
  EXPECT_EQ(c.sinks.size(), 2u);
  auto e = expect_error("sinks:\n  - {name: a, kind: log}\n  - {name: b, kind: log}\n  - {name: a, kind: log}\n",
                        "sinks[2].name", "already declared");
  EXPECT_NE(e.problem.find("sinks[0]"), std::string::npos) << e.problem;
}

TEST(load_config, a_disabled_sink_still_claims_its_name) {
  expect_error("sinks:\n  - {name: a, kind: webhook, url: '', optional: true}\n  - {name: a, kind: log}\n",
               "sinks[1].name", "already declared");
}

TEST(load_config, sink_kind_is_required_and_known) {
  expect_error("sinks:\n  - {name: a}\n", "sinks[0].kind", "is required");
  expect_error("sinks:\n  - {name: a, kind: teams}\n", "sinks[0].kind", "unknown sink kind");
  expect_error("sinks:\n  - {name: a, kind: Discord}\n", "sinks[0].kind", "expected webhook, discord, slack, notion, sql or log");
}

TEST(load_config, discord_and_slack_sinks_take_a_url_and_a_timeout) {
  auto c = load_ok("sinks:\n"
                   "  - {name: d, kind: discord, url: 'http://127.0.0.1:9/api/webhooks/1/TOKEN', timeout: 3s}\n"
                   "  - {name: s, kind: slack, url: 'http://127.0.0.1:9/services/T1/B2/XYZ'}\n");
  ASSERT_EQ(c.sinks.size(), 2u);
  EXPECT_EQ(c.sinks[0].kind, sink_kind::discord);
  ASSERT_TRUE(c.sinks[0].endpoint);
  EXPECT_EQ(c.sinks[0].endpoint->target, "/api/webhooks/1/TOKEN");
  EXPECT_EQ(c.sinks[0].request_timeout, millis{3000});
  EXPECT_TRUE(c.sinks[0].secrets.empty());
  EXPECT_EQ(c.sinks[1].kind, sink_kind::slack);
  ASSERT_TRUE(c.sinks[1].endpoint);
  EXPECT_EQ(c.sinks[1].endpoint->target, "/services/T1/B2/XYZ");
  EXPECT_EQ(c.sinks[1].request_timeout, millis{10'000});
}

TEST(load_config, a_discord_sink_takes_an_author_embeds_and_a_thread) {
  auto c = load_ok("sinks:\n  - {name: d, kind: discord, url: 'http://127.0.0.1:9/api/webhooks/1/TOKEN',\n"
                   "     username: 'Bot {{ key }}', avatar_url: 'https://cdn.example/a.png', thread_id: '42',\n"
                   "     embeds: [{title: '{{ payload.title }}'}]}\n");
  const auto& s = c.sinks.at(0);
  EXPECT_EQ(s.endpoint->target, "/api/webhooks/1/TOKEN?thread_id=42");
  EXPECT_TRUE(s.templates.username && s.templates.avatar_url && s.templates.embeds);
  const std::string head = "sinks:\n  - {name: d, kind: discord, url: 'http://h/x', ";
  expect_error(head + "thread_id: 'general'}\n", "sinks[0].thread_id", "expected a Discord thread id");
  expect_error(head + "embeds: {title: x}}\n", "sinks[0].embeds", "expected a list of 1 to 10 embed objects");
  expect_error(head + "embeds: [x]}\n", "sinks[0].embeds[0]", "expected an embed object");
  expect_error(head + "embeds: [{},{},{},{},{},{},{},{},{},{},{}]}\n", "sinks[0].embeds", "got 11 items");
  expect_error("sinks:\n  - {name: s, kind: slack, url: 'http://h/x', username: u}\n", "sinks[0].username",
               "a slack sink takes no username");
}

TEST(load_config, discord_and_slack_urls_are_handled_like_a_webhook_url) {
  for (std::string kind : {"discord", "slack"}) {
    expect_error("sinks:\n  - {name: h, kind: " + kind + "}\n", "sinks[0].url", "is required for a " + kind + " sink");
    expect_error("sinks:\n  - {name: h, kind: " + kind + ", url: ''}\n", "sinks[0].url", "optional: true");
    expect_error("sinks:\n  - {name: h, kind: " + kind + ", url: 'http://h/x', timeout: 0s}\n", "sinks[0].timeout",
                 "greater than 0");
    auto https = load_ok("sinks:\n  - {name: h, kind: " + kind + ", url: 'https://hooks.example/x/TOKEN77'}\n");
    ASSERT_TRUE(https.sinks[0].endpoint) << kind;
    EXPECT_EQ(https.sinks[0].endpoint->scheme, "https");
    EXPECT_EQ(https.sinks[0].endpoint->port, 443);

    auto c = load_ok("sinks:\n  - {name: h, kind: " + kind + ", url: '${HOOK_URL:-}', optional: true}\n");
    EXPECT_TRUE(c.sinks.empty()) << kind;
    EXPECT_EQ(c.disabled_sinks, std::vector<std::string>{"h"}) << kind;
  }
}

TEST(load_config, discord_and_slack_sinks_take_no_secret) {
  for (std::string kind : {"discord", "slack"}) {
    auto e = expect_error("sinks:\n  - {name: h, kind: " + kind + ", url: 'http://h/x', secret: '" + secret_a + "'}\n",
                          "sinks[0].secret", "a " + kind + " sink takes no secret");
    EXPECT_EQ(e.to_string().find(secret_a), std::string::npos) << e.to_string();
    expect_error("sinks:\n  - {name: h, kind: " + kind + ", url: 'http://h/x', secrets: []}\n", "sinks[0].secrets",
                 "a " + kind + " sink takes no secrets");
  }
}

TEST(load_config, each_kind_has_its_providers_rate_limit_by_default) {
  auto c = load_ok("sinks:\n"
                   "  - {name: d, kind: discord, url: 'http://h/api/webhooks/1/T'}\n"
                   "  - {name: s, kind: slack, url: 'http://h/services/T/B/X'}\n"
                   "  - {name: w, kind: webhook, url: 'http://h/x'}\n"
                   "  - {name: l, kind: log}\n");
  ASSERT_EQ(c.sinks.size(), 4u);
  // Discord: 5 requests per 2 s per webhook.
  EXPECT_DOUBLE_EQ(c.sinks[0].rate.per_second, 2.5);
  EXPECT_DOUBLE_EQ(c.sinks[0].rate.burst, 5);
  // Slack: 1 per second, short bursts.
  EXPECT_DOUBLE_EQ(c.sinks[1].rate.per_second, 1);
  EXPECT_DOUBLE_EQ(c.sinks[1].rate.burst, 3);
  EXPECT_DOUBLE_EQ(c.sinks[2].rate.per_second, 0); // unlimited
  EXPECT_DOUBLE_EQ(c.sinks[3].rate.per_second, 0);
  EXPECT_DOUBLE_EQ(default_rate_limit(sink_kind::discord).per_second, 2.5);
  EXPECT_DOUBLE_EQ(default_rate_limit(sink_kind::webhook).per_second, 0);
}

TEST(load_config, a_rate_limit_overrides_only_what_it_sets) {
  auto c = load_ok("sinks:\n"
                   "  - {name: d, kind: discord, url: 'http://h/x', rate_limit: {per_second: 1}}\n"
                   "  - {name: s, kind: slack, url: 'http://h/x', rate_limit: {per_second: 10, burst: 10}}\n"
                   "  - {name: w, kind: webhook, url: 'http://h/x', rate_limit: {per_second: 4}}\n");
  EXPECT_DOUBLE_EQ(c.sinks[0].rate.per_second, 1);
  EXPECT_DOUBLE_EQ(c.sinks[0].rate.burst, 5); // Discord's, kept
  EXPECT_DOUBLE_EQ(c.sinks[1].rate.per_second, 10);
  EXPECT_DOUBLE_EQ(c.sinks[1].rate.burst, 10);
  EXPECT_DOUBLE_EQ(c.sinks[2].rate.per_second, 4);
  EXPECT_DOUBLE_EQ(c.sinks[2].rate.burst, 1);
}

TEST(load_config, log_sinks_take_no_webhook_keys) {
  expect_error("sinks:\n  - {name: a, kind: log, url: 'http://h/x'}\n", "sinks[0].url", "a log sink takes no url");
  auto e = expect_error("sinks:\n  - {name: a, kind: log, secret: '" + secret_a + "'}\n", "sinks[0].secret",
                        "a log sink takes no secret");
  EXPECT_EQ(e.to_string().find(secret_a), std::string::npos);
  expect_error("sinks:\n  - {name: a, kind: log, secrets: []}\n", "sinks[0].secrets", "a log sink takes no secrets");
  expect_error("sinks:\n  - {name: a, kind: log, optional: true}\n", "sinks[0].optional",
               "a log sink takes no optional");
  expect_error("sinks:\n  - {name: a, kind: log, timeout: 1s}\n", "sinks[0].timeout", "a log sink takes no timeout");
}

TEST(load_config, webhook_url_is_required_and_must_be_http) {
  expect_error("sinks:\n  - {name: h, kind: webhook}\n", "sinks[0].url", "is required");
  expect_error("sinks:\n  - {name: h, kind: webhook, optional: true}\n", "sinks[0].url", "is required");
  expect_error("sinks:\n  - {name: h, kind: webhook, url: ''}\n", "sinks[0].url", "optional: true");
  expect_error("sinks:\n  - {name: h, kind: webhook, url: '${EMPTY_URL:-}'}\n", "sinks[0].url", "is empty");
  expect_error("sinks:\n  - {name: h, kind: webhook, url: 'ftp://h/x'}\n", "sinks[0].url", "scheme");
  auto c = load_ok("sinks:\n  - {name: h, kind: webhook, url: 'https://discord.example/webhooks/1/TOKEN'}\n");
  ASSERT_TRUE(c.sinks[0].endpoint);
  EXPECT_EQ(c.sinks[0].endpoint->scheme, "https");
}

TEST(load_config, an_optional_notion_sink_without_its_token_is_disabled_not_sent_to) {
  auto notion = [](const std::string& extra) {
    return "sinks:\n  - {name: n, kind: notion, token: '${TOKEN:-}', database_id: '${DB:-}'," + extra +
           "\n     properties: {Name: {title: '{{payload.title}}'}}}\n";
  };
  expect_error(notion(""), "sinks[0].token", "optional: true");
  auto c = load_ok(notion(" optional: true,"));
  EXPECT_TRUE(c.sinks.empty());
  ASSERT_EQ(c.disabled_sinks.size(), 1u);
  EXPECT_EQ(c.disabled_sinks[0], "n");
}

TEST(load_config, url_errors_do_not_echo_the_url_path) {
  // A Discord-style URL: the path is the credential.
  auto e = expect_error("sinks:\n  - {name: h, kind: webhook, url: 'https://discord.example:notaport/webhooks/1/"
                        "TOKEN123'}\n",
                        "sinks[0].url", "port");
  EXPECT_EQ(e.to_string().find("TOKEN123"), std::string::npos) << e.to_string();
}

TEST(load_config, optional_webhook_with_empty_url_is_disabled_and_skipped_by_routing) {
  auto c = load_ok(R"(
sinks:
  - {name: log, kind: log}
  - name: hook
    kind: webhook
    url: "${HOOK_URL:-}"
    optional: true
    secret: "${HOOK_SECRET:-}"
routes:
  - {topic: feedback, sinks: [log, hook]}
  - {topic: only-hook, sinks: [hook]}
)");
  ASSERT_EQ(c.sinks.size(), 1u);
  EXPECT_EQ(c.sinks[0].name, "log");
  EXPECT_EQ(c.disabled_sinks, std::vector<std::string>{"hook"});
  ASSERT_EQ(c.routes.size(), 2u);
  EXPECT_EQ(c.routes[0].sinks, (std::vector<std::string>{"log", "hook"})); // the rule reads as written

  std::vector<std::string> enabled;
  for (const auto& s : c.sinks)
    enabled.push_back(s.name);
  routing_table table{c.routes, enabled};
  EXPECT_EQ(table.sinks_for("feedback"), std::vector<std::string>{"log"});
  EXPECT_TRUE(table.sinks_for("only-hook").empty());
}

TEST(load_config, optional_webhook_with_a_url_is_enabled) {
  auto c = load_ok("sinks:\n  - {name: hook, kind: webhook, url: '${HOOK_URL:-}', optional: true}\n",
                   env_map({{"HOOK_URL", "http://127.0.0.1:9000/in"}}));
  ASSERT_EQ(c.sinks.size(), 1u);
  EXPECT_TRUE(c.disabled_sinks.empty());
  ASSERT_TRUE(c.sinks[0].endpoint);
  EXPECT_EQ(c.sinks[0].endpoint->port, 9000);
  EXPECT_EQ(c.sinks[0].endpoint->target, "/in");
}

TEST(load_config, a_disabled_sink_is_still_checked) {
  expect_error("sinks:\n  - {name: h, kind: webhook, url: '', optional: true, secret: 'nope'}\n", "sinks[0].secret",
               "not a valid whsec_ secret");
  expect_error("sinks:\n  - {name: h, kind: webhook, url: '', optional: true, max_in_flight: 0}\n",
               "sinks[0].max_in_flight", "1 to 1024");
}

TEST(load_config, secrets) {
  auto c = load_ok("sinks:\n  - {name: h, kind: webhook, url: 'http://h/x', secret: '" + secret_a + "'}\n");
  ASSERT_EQ(c.sinks.size(), 1u);
  EXPECT_EQ(c.sinks[0].secrets, std::vector<std::string>{secret_a});

  // An empty secret means unsigned, in both forms.
  c = load_ok("sinks:\n  - {name: h, kind: webhook, url: 'http://h/x', secret: '${S:-}'}\n");
  ASSERT_EQ(c.sinks.size(), 1u);
  EXPECT_TRUE(c.sinks[0].secrets.empty());
  c = load_ok("sinks:\n  - {name: h, kind: webhook, url: 'http://h/x', secrets: ['${NEW:-}', '" + secret_b + "']}\n");
  ASSERT_EQ(c.sinks.size(), 1u);
  EXPECT_EQ(c.sinks[0].secrets, std::vector<std::string>{secret_b});

  expect_error("sinks:\n  - {name: h, kind: webhook, url: 'http://h/x', secret: '" + secret_a + "', secrets: ['" +
                 secret_b + "']}\n",
               "sinks[0].secrets", "either secret or secrets");
  expect_error("sinks:\n  - {name: h, kind: webhook, url: 'http://h/x', secrets: '" + secret_a + "'}\n",
               "sinks[0].secrets", "expected a list");
}

TEST(load_config, an_invalid_secret_is_named_by_key_and_never_echoed) {
  const std::string bad = "whsec_c2hvcnQ="; // base64 of "short": too few bytes
  auto e = expect_error("sinks:\n  - {name: h, kind: webhook, url: 'http://h/x', secrets: ['" + secret_a + "', '" +
                          bad + "']}\n",
                        "sinks[0].secrets[1]", "is not a valid whsec_ secret: ");
  EXPECT_NE(e.problem.find("24 to 64"), std::string::npos) << e.problem; // the reason is given
  EXPECT_EQ(e.to_string().find("c2hvcnQ"), std::string::npos) << e.to_string();
  EXPECT_EQ(e.to_string().find(secret_a.substr(6)), std::string::npos) << e.to_string();

  e = expect_error("sinks:\n  - {name: h, kind: webhook, url: 'http://h/x', secret: '${HOOK_SECRET}'}\n",
                   "sinks[0].secret", "not a valid whsec_ secret", env_map({{"HOOK_SECRET", "hunter2-password"}}));
  EXPECT_EQ(e.to_string().find("hunter2"), std::string::npos) << e.to_string();
}

// --- routes ------------------------------------------------------------------

TEST(load_config, route_topic_is_required_and_non_empty) {
  const std::string sinks = "sinks: [{name: a, kind: log}]\n";
  expect_error(sinks + "routes:\n  - {sinks: [a]}\n", "routes[0].topic", "is required");
  expect_error(sinks + "routes:\n  - {topic: a, sinks: [a]}\n  - {topic: '', sinks: [a]}\n", "routes[1].topic",
               "must not be empty");
  expect_error(sinks + "routes:\n  - {topic: '${T:-}', sinks: [a]}\n", "routes[0].topic", "must not be empty");
  expect_error(sinks + "routes:\n  - {topic: " + std::string(201, 't') + ", sinks: [a]}\n", "routes[0].topic",
               "longer than 200");
}

TEST(load_config, route_sinks_must_be_a_non_empty_list_of_declared_names) {
  const std::string sinks = "sinks: [{name: a, kind: log}, {name: b, kind: log}]\n";
  expect_error(sinks + "routes:\n  - {topic: t}\n", "routes[0].sinks", "is required");
  expect_error(sinks + "routes:\n  - {topic: t, sinks: []}\n", "routes[0].sinks", "non-empty list");
  expect_error(sinks + "routes:\n  - {topic: t, sinks: a}\n", "routes[0].sinks", "non-empty list");
  auto e = expect_error(sinks + "routes:\n  - {topic: t, sinks: [a]}\n  - {topic: u, sinks: [b, a, c]}\n",
                        "routes[1].sinks[2]", "no sink named \"c\"");
  EXPECT_NE(e.problem.find("declared: a, b"), std::string::npos) << e.problem;
  expect_error("routes:\n  - {topic: t, sinks: [a]}\n", "routes[0].sinks[0]", "no sinks are declared");
  expect_error(sinks + "routes:\n  - {topic: t, sinks: [a, b, a]}\n", "routes[0].sinks[2]", "listed twice");
  expect_error(sinks + "routes:\n  - [t, a]\n", "routes[0]", "expected a mapping");
}

TEST(load_config, routes_may_come_before_sinks_in_the_file) {
  auto c = load_ok("routes:\n  - {topic: t, sinks: [a]}\nsinks:\n  - {name: a, kind: log}\n");
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].sinks, std::vector<std::string>{"a"});
}

// --- YAML and error formatting ----------------------------------------------

TEST(load_config, yaml_syntax_error_gives_line_and_column) {
  auto e = expect_error("server:\n  listen: '127.0.0.1:1'\n  max_body_bytes: [1, 2\n", "", "invalid YAML at line ");
  EXPECT_NE(e.problem.find("column"), std::string::npos) << e.problem;
  e = expect_error("server:\n  listen: x: y\n", "", "invalid YAML at line 2, column 12");
}

TEST(load_config, several_yaml_documents_are_an_error) {
  expect_error("server: {}\n---\nserver: {}\n", "", "one YAML document");
}

TEST(config_error, to_string_is_file_key_problem) {
  EXPECT_EQ((config_error{"config/txrelay.yaml", "sinks[1].retry.base", "must be greater than 0"}.to_string()),
            "config/txrelay.yaml: sinks[1].retry.base: must be greater than 0");
  EXPECT_EQ((config_error{"x.yaml", "", "invalid YAML at line 1, column 2: oops"}.to_string()),
            "x.yaml: invalid YAML at line 1, column 2: oops");
}

TEST(sink_kind, names) {
  EXPECT_STREQ(to_string(sink_kind::webhook), "webhook");
  EXPECT_STREQ(to_string(sink_kind::log), "log");
  EXPECT_STREQ(to_string(sink_kind::discord), "discord");
  EXPECT_STREQ(to_string(sink_kind::slack), "slack");
}

} // namespace
TEST(load_config, supervision_sets_restart_intensity_per_sink) {
  auto c = load_ok("sinks:\n  - {name: a, kind: log, supervision: {max_restarts: 3, restart_window: 30s}}\n"
                   "  - {name: b, kind: log}\n");
  ASSERT_EQ(c.sinks.size(), 2u);
  EXPECT_EQ(c.sinks[0].supervision.max_restarts, 3);
  EXPECT_EQ(c.sinks[0].supervision.restart_window, millis{30'000});
  EXPECT_EQ(c.sinks[1].supervision.max_restarts, 5); // defaults
  EXPECT_EQ(c.sinks[1].supervision.restart_window, millis{60'000});
  expect_error("sinks:\n  - {name: a, kind: log, supervision: {max_restarts: -1}}\n",
               "sinks[0].supervision.max_restarts", "from 0 to 1000");
  expect_error("sinks:\n  - {name: a, kind: log, supervision: {restart_window: 0s}}\n",
               "sinks[0].supervision.restart_window", "greater than 0");
  expect_error("sinks:\n  - {name: a, kind: log, supervision: {max_restart: 1}}\n",
               "sinks[0].supervision.max_restart", "unknown");
}

TEST(load_config, rate_limit_per_sink) {
  auto c = load_ok("sinks:\n  - {name: a, kind: log, rate_limit: {per_second: 2.5, burst: 5}}\n  - {name: b, kind: log}\n");
  EXPECT_DOUBLE_EQ(c.sinks[0].rate.per_second, 2.5);
  EXPECT_DOUBLE_EQ(c.sinks[0].rate.burst, 5);
  EXPECT_DOUBLE_EQ(c.sinks[1].rate.per_second, 0); // unlimited
  expect_error("sinks:\n  - {name: a, kind: log, rate_limit: {per_second: fast}}\n",
               "sinks[0].rate_limit.per_second", "expected a number");
  expect_error("sinks:\n  - {name: a, kind: log, rate_limit: {per_second: 1, burst: 0}}\n",
               "sinks[0].rate_limit.burst", "must be from");
}

} // namespace txrelay

namespace txrelay {
namespace {

TEST(load_config, publish_section_sets_the_router_and_checks_its_bounds) {
  auto defaults = load_config_text("", "test.yaml", testing::env_map());
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->publish.poll_interval, millis{5});
  EXPECT_EQ(defaults->publish.batch, 1000);

  auto set = load_config_text("publish: {poll_interval: 250ms, batch: 50}\n", "test.yaml", testing::env_map());
  ASSERT_TRUE(set) << set.error().to_string();
  EXPECT_EQ(set->publish.poll_interval, millis{250});
  EXPECT_EQ(set->publish.batch, 50);

  auto error = [](const std::string& yaml) {
    auto r = load_config_text(yaml, "test.yaml", testing::env_map());
    return r ? std::string{"loaded"} : r.error().to_string();
  };
  EXPECT_EQ(error("publish: {poll_interval: 0s}\n"), "test.yaml: publish.poll_interval: must be from 1ms to 10s");
  EXPECT_EQ(error("publish: {poll_interval: 1m}\n"), "test.yaml: publish.poll_interval: must be from 1ms to 10s");
  EXPECT_NE(error("publish: {batch: 0}\n").find("test.yaml: publish.batch: must be from 1 to 10000"), std::string::npos);
  EXPECT_NE(error("publish: {interval: 5ms}\n").find("test.yaml: publish.interval: unknown key"), std::string::npos);
}

TEST(load_config, retention_and_node_sections_set_the_policy_and_check_it) {
  auto defaults = load_config_text("", "test.yaml", testing::env_map());
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->retention.delivered, std::chrono::hours{7 * 24});
  EXPECT_EQ(defaults->retention.dead, std::chrono::hours{30 * 24});
  EXPECT_EQ(defaults->retention.rejected, std::chrono::hours{30 * 24});
  EXPECT_EQ(defaults->node_id, "");

  auto set = load_config_text("retention: {delivered: 0, dead: 90d, rejected: 12h, interval: 5m, batch: 500}\n"
                              "node: {id: eu-1}\n",
                              "test.yaml", testing::env_map());
  ASSERT_TRUE(set) << set.error().to_string();
  EXPECT_EQ(set->retention.delivered, millis{0}); // forever
  EXPECT_EQ(set->retention.dead, std::chrono::hours{90 * 24});
  EXPECT_EQ(set->retention.rejected, std::chrono::hours{12});
  EXPECT_EQ(set->retention.interval, std::chrono::minutes{5});
  EXPECT_EQ(set->retention.batch, 500);
  EXPECT_EQ(set->node_id, "eu-1");

  auto error = [](const std::string& yaml) {
    auto r = load_config_text(yaml, "test.yaml", testing::env_map());
    return r ? std::string{"loaded"} : r.error().to_string();
  };
  EXPECT_EQ(error("retention: {delivered: 5m}\n"),
            "test.yaml: retention.delivered: must be 0 (keep forever) or at least 1h");
  EXPECT_EQ(error("retention: {interval: 10ms}\n"), "test.yaml: retention.interval: must be from 100ms to 1d");
  EXPECT_NE(error("retention: {dead: 1y}\n").find("test.yaml: retention.dead: unknown duration unit"), std::string::npos);
  EXPECT_NE(error("retention: {keep: 1d}\n").find("test.yaml: retention.keep: unknown key"), std::string::npos);
  EXPECT_EQ(error("node: {id: \"\"}\n"), "test.yaml: node.id: must be 1 to 100 characters");
}

TEST(routed_topics, lists_each_routed_topic_once_in_order) {
  auto config = load_config_text("sinks: [{name: a, kind: log}, {name: b, kind: log}]\n"
                                 "routes:\n"
                                 "  - {topic: zeta, sinks: [a]}\n"
                                 "  - {topic: alpha, sinks: [a]}\n"
                                 "  - {topic: zeta, when: 'payload.x == 1', sinks: [b]}\n",
                                 "test.yaml", testing::env_map());
  ASSERT_TRUE(config) << config.error().to_string();
  EXPECT_EQ(routed_topics(*config), (std::vector<std::string>{"alpha", "zeta"}));
}

} // namespace
} // namespace txrelay

namespace txrelay {
namespace {

TEST(load_config, auth_keys_are_kept_as_digests_with_their_roles) {
  auto c = load_config_text("auth:\n"
                            "  keys:\n"
                            "    - {name: orders-service, role: producer, key: \"${ORDERS_KEY}\"}\n"
                            "    - {name: ops, role: admin, key_sha256: "
                            "\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"}\n",
                            "test.yaml", testing::env_map({{"ORDERS_KEY", "orders-key-0123456789"}}));
  ASSERT_TRUE(c) << c.error().to_string();
  ASSERT_EQ(c->auth.keys.size(), 2u);
  EXPECT_EQ(c->auth.keys[0].name, "orders-service");
  EXPECT_EQ(c->auth.keys[0].role, api_role::producer);
  EXPECT_EQ(c->auth.keys[0].digest, sha256_of("orders-key-0123456789"));
  EXPECT_EQ(c->auth.keys[1].role, api_role::admin);
  EXPECT_EQ(c->auth.keys[1].digest, sha256_of("test")); // sha256("test") = 9f86d0...
  EXPECT_FALSE(c->auth.disabled);
}

TEST(load_config, auth_mistakes_name_the_key_and_never_echo_a_secret) {
  auto error = [](const std::string& yaml) {
    auto r = load_config_text(yaml, "test.yaml", testing::env_map({{"EMPTY", ""}}));
    return r ? std::string{"loaded"} : r.error().to_string();
  };
  const std::string good = "{name: a, role: admin, key: \"aaaaaaaaaaaaaaaaaaaa\"}";
  EXPECT_EQ(error("auth: {keys: [" + good + ", {name: a, role: reader, key: \"bbbbbbbbbbbbbbbbbbbb\"}]}\n"),
            "test.yaml: auth.keys[1].name: key name \"a\" is already used by auth.keys[0]");
  EXPECT_EQ(error("auth: {keys: [{name: a, role: admin, key: \"${EMPTY}\"}]}\n"),
            "test.yaml: auth.keys[0].key: is empty (an unset environment variable?)");
  auto short_key = error("auth: {keys: [{name: a, role: admin, key: \"s3cr3t-short\"}]}\n");
  EXPECT_EQ(short_key, "test.yaml: auth.keys[0].key: is shorter than 16 characters: too easy to guess");
  EXPECT_EQ(short_key.find("s3cr3t"), std::string::npos);
  EXPECT_EQ(error("auth: {keys: [{name: a, role: admin, key_sha256: \"abc\"}]}\n"),
            "test.yaml: auth.keys[0].key_sha256: expected the key's SHA-256 as 64 hex digits (sha256sum)");
  EXPECT_EQ(error("auth: {keys: [{name: a, role: root, key: \"aaaaaaaaaaaaaaaaaaaa\"}]}\n"),
            "test.yaml: auth.keys[0].role: expected producer, reader or admin");
  EXPECT_EQ(error("auth: {keys: [{name: a, role: admin}]}\n"), "test.yaml: auth.keys[0]: missing key or key_sha256");
  EXPECT_EQ(error("auth: {keys: [" + good + ", {name: b, role: reader, key: \"aaaaaaaaaaaaaaaaaaaa\"}]}\n"),
            "test.yaml: auth.keys[1]: the same key as auth.keys[0]: every client needs a key of its own");
  EXPECT_EQ(error("auth: {keys: [{name: a, role: admin, key: \"aaaaaaaaaaaaaaaaaaaa\", key_sha256: x}]}\n"),
            "test.yaml: auth.keys[0]: give key or key_sha256, not both");
}

TEST(load_config, listening_beyond_loopback_needs_keys_or_an_explicit_opt_out) {
  auto load = [](const std::string& yaml) { return load_config_text(yaml, "test.yaml", testing::env_map()); };
  auto exposed = load("server: {listen: \"0.0.0.0:8080\"}\n");
  ASSERT_FALSE(exposed);
  EXPECT_EQ(exposed.error().key, "server.listen");
  EXPECT_NE(exposed.error().problem.find("add API keys"), std::string::npos);
  EXPECT_NE(exposed.error().problem.find("auth: {disabled: true}"), std::string::npos);
  EXPECT_TRUE(load("server: {listen: \"127.0.0.1:8080\"}\n"));
  EXPECT_TRUE(load("server: {listen: \"[::1]:8080\"}\n"));
  EXPECT_TRUE(load("server: {listen: \"0.0.0.0:8080\"}\nauth: {disabled: true}\n"));
  EXPECT_TRUE(load("server: {listen: \"0.0.0.0:8080\"}\n"
                   "auth: {keys: [{name: a, role: admin, key: \"aaaaaaaaaaaaaaaaaaaa\"}]}\n"));
  EXPECT_TRUE(is_loopback_host("127.0.0.53"));
  EXPECT_FALSE(is_loopback_host("127.evil.example"));
  EXPECT_FALSE(is_loopback_host("10.0.0.1"));
}

TEST(load_config, server_limits_are_read_and_bounded) {
  auto c = load_config_text("server: {max_json_depth: 32, max_connections: 10, read_timeout: 2s, "
                            "max_queued_events: 5000, allowed_hosts: [TxRelay.Example.com, localhost]}\n",
                            "test.yaml", testing::env_map());
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->server.max_json_depth, 32);
  EXPECT_EQ(c->server.max_connections, 10u);
  EXPECT_EQ(c->server.read_timeout, millis{2000});
  EXPECT_EQ(c->server.max_queued_events, 5000u);
  EXPECT_EQ(c->server.allowed_hosts, (std::vector<std::string>{"txrelay.example.com", "localhost"}));
  auto bad = load_config_text("server: {allowed_hosts: [\"example.com:8080/x\"]}\n", "test.yaml", testing::env_map());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().key, "server.allowed_hosts[0]");
}

} // namespace
} // namespace txrelay

namespace txrelay {
namespace {

// yaml-cpp 0.7's LoadAll loops forever on a stream that starts with ","
// (found by the config fuzzer): the loader answers instead.
TEST(load_config, malformed_yaml_that_once_hung_the_loader_is_an_error) {
  for (const char* text : {",", ",\n", "a: 1\n---\n,", ", , ,"}) {
    auto r = load_config_text(text, "test.yaml", testing::env_map());
    EXPECT_FALSE(r) << text;
  }
  auto two = load_config_text("server: {}\n---\nsinks: []\n", "test.yaml", testing::env_map());
  ASSERT_FALSE(two);
  EXPECT_EQ(two.error().to_string(), "test.yaml: expected one YAML document, found more (separated by ---)");
}

} // namespace
} // namespace txrelay
