// Discord and Slack sinks end to end, in-process: events in over HTTP, a
// PostgreSQL commit, the sender out to fakes that enforce the providers' real
// rate limits. What matters is that txrelay never comes back early (a caller
// that ignores retry_after gets banned by Discord and disabled by Slack) and
// still delivers every event exactly once.
//
// The sinks run with max_in_flight: 1 here: with one request in flight, a
// request that reaches the fake while it has told txrelay to wait is early
// beyond doubt (with several, requests already on the wire when the limit was
// announced would look early too). The client-side rate_limit is raised so
// the fakes' limits, not txrelay's own defaults, are what is exercised.
#include "pg/engine_harness.hpp"
#include "core/utf8.hpp"
#include "sinks/chat_text.hpp"
#include "support/fake_discord_server.hpp"
#include "support/fake_slack_server.hpp"
#include "support/json_probe.hpp"

#include <gtest/gtest.h>

#include <map>
#include <vector>

using namespace txrelay;
using namespace txrelay::testing;

namespace {

std::string provider_yaml(const std::string& kind, const std::string& url) {
  return "sinks:\n"
         "  - name: chat\n"
         "    kind: " + kind + "\n"
         "    url: \"" + url + "\"\n"
         "    timeout: 2s\n"
         "    max_in_flight: 1\n"
         "    rate_limit: {per_second: 100, burst: 100}\n"
         "    retry: {max_attempts: 20, base: 1ms, cap: 5ms}\n"
         "routes:\n"
         "  - topic: feedback\n"
         "    sinks: [chat]\n";
}

std::string numbered_event(int n) {
  return R"({"topic":"feedback","key":"user-)" + std::to_string(n) + R"(","payload":{"n":)" + std::to_string(n) +
         R"(,"content":"message )" + std::to_string(n) + R"("}})";
}

class provider_sinks_pgtest : public ::testing::Test {
protected:
  void SetUp() override {
    TXRELAY_REQUIRE_DATABASE();
    db = std::make_unique<test_database>();
  }

  /// Posts `count` numbered events; returns their ids in order.
  std::vector<std::string> post_numbered_events(const engine_harness& e, int count) {
    std::vector<std::string> ids;
    for (int n = 0; n < count; ++n) {
      auto res = e.post_event(numbered_event(n));
      EXPECT_EQ(res.status, 201) << res.body;
      if (auto id = json_string_at(res.body, "/id"))
        ids.push_back(*id);
    }
    return ids;
  }

  std::string delivery_field(const engine_harness& e, const std::string& event_id, const std::string& field) {
    auto body = e.get("/v1/events/" + event_id).body;
    if (field == "attempts")
      return std::to_string(json_int_at(body, "/deliveries/0/attempts").value_or(-1));
    return json_string_at(body, "/deliveries/0/" + field).value_or("?");
  }

  bool all_delivered(const engine_harness& e, const std::vector<std::string>& ids) {
    for (const auto& id : ids)
      if (delivery_field(e, id, "status") != "delivered")
        return false;
    return true;
  }

  /// How often each numbered event's text arrived: "message N" appears in exactly one message each.
  static std::map<int, int> arrivals(const std::vector<std::string>& messages, int count) {
    std::map<int, int> seen;
    for (const auto& m : messages)
      for (int n = 0; n < count; ++n)
        if (m.find("\"message " + std::to_string(n) + "\"") != std::string::npos)
          ++seen[n];
    return seen;
  }

  std::unique_ptr<test_database> db;
};

constexpr int event_count = 15;

TEST_F(provider_sinks_pgtest, discord_429_storm_every_event_once_and_never_early) {
  // Bucket headers only on 429s: txrelay learns the limit the hard way, a
  // 429 per window of 3 requests, and must wait out each float retry_after.
  discord_fake_options options;
  options.limit = 3;
  options.window = std::chrono::milliseconds{400};
  options.rate_limit_headers_on_success = false;
  fake_discord_server discord{options};
  engine_harness e{*db, provider_yaml("discord", discord.webhook_url())};

  auto ids = post_numbered_events(e, event_count);
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(event_count));
  bool all_arrived = discord.wait_for_messages(event_count, std::chrono::seconds{20});
  // Checked before the outcome: a caller that hammers also fails by running
  // out of attempts, but this says why.
  EXPECT_EQ(discord.early_request_count(), 0u);
  EXPECT_GT(discord.rate_limited_count(), 0u) << "the storm did not happen, so this test proved nothing";
  ASSERT_TRUE(all_arrived) << discord.messages().size() << " of " << event_count;
  ASSERT_TRUE(eventually([&] { return all_delivered(e, ids); }));
  auto messages = discord.messages();
  EXPECT_EQ(messages.size(), static_cast<std::size_t>(event_count));
  auto seen = arrivals(messages, event_count);
  for (int n = 0; n < event_count; ++n)
    EXPECT_EQ(seen[n], 1) << "event " << n;
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.delivery_status WHERE status = 'delivered'"),
            std::to_string(event_count));
}

TEST_F(provider_sinks_pgtest, discord_bucket_headers_pause_the_sink_before_any_429) {
  // Real Discord: the bucket's headers on every reply. Reading
  // X-RateLimit-Remaining: 0 and Reset-After, one request at a time, txrelay
  // never runs into a 429 at all.
  discord_fake_options options;
  options.limit = 3;
  options.window = std::chrono::milliseconds{400};
  fake_discord_server discord{options};
  engine_harness e{*db, provider_yaml("discord", discord.webhook_url())};

  auto ids = post_numbered_events(e, event_count);
  bool all_arrived = discord.wait_for_messages(event_count, std::chrono::seconds{20});
  EXPECT_EQ(discord.early_request_count(), 0u);
  EXPECT_EQ(discord.rate_limited_count(), 0u);
  ASSERT_TRUE(all_arrived) << discord.messages().size() << " of " << event_count;
  ASSERT_TRUE(eventually([&] { return all_delivered(e, ids); }));
  auto seen = arrivals(discord.messages(), event_count);
  for (int n = 0; n < event_count; ++n)
    EXPECT_EQ(seen[n], 1) << "event " << n;
  for (const auto& id : ids)
    EXPECT_EQ(delivery_field(e, id, "attempts"), "1") << id;
}

TEST_F(provider_sinks_pgtest, discord_content_over_2000_characters_is_truncated_and_delivered) {
  fake_discord_server discord;
  engine_harness e{*db, provider_yaml("discord", discord.webhook_url())};
  std::string long_text;
  for (int i = 0; i < 2500; ++i)
    long_text += "\xc3\xa9"; // é
  auto res = e.post_event(R"({"topic":"feedback","payload":{"content":")" + long_text + R"("}})");
  ASSERT_EQ(res.status, 201) << res.body;
  auto id = *json_string_at(res.body, "/id");
  ASSERT_TRUE(discord.wait_for_messages(1, std::chrono::seconds{10}));
  ASSERT_TRUE(eventually([&] { return delivery_field(e, id, "status") == "delivered"; }));
  auto message = discord.messages().at(0);
  EXPECT_EQ(count_code_points(message), 2000u);
  EXPECT_EQ(message.substr(message.size() - std::string{chat_truncation_marker}.size()), chat_truncation_marker);
}

TEST_F(provider_sinks_pgtest, a_deleted_discord_webhook_kills_the_delivery_with_discords_reason) {
  fake_discord_server discord;
  discord.delete_webhook();
  engine_harness e{*db, provider_yaml("discord", discord.webhook_url())};
  auto res = e.post_event(numbered_event(1));
  ASSERT_EQ(res.status, 201) << res.body;
  auto id = *json_string_at(res.body, "/id");

  // Permanent at the first answer: no retries against a webhook Discord says is gone.
  ASSERT_TRUE(eventually([&] { return delivery_field(e, id, "status") == "dead"; }))
    << e.get("/v1/events/" + id).body;
  EXPECT_EQ(delivery_field(e, id, "attempts"), "1");
  EXPECT_EQ(discord.server().request_count(), 1u);
  auto body = e.get("/v1/events/" + id).body;
  EXPECT_EQ(json_int_at(body, "/deliveries/0/last_status"), 404);
  auto last_error = json_string_at(body, "/deliveries/0/last_error").value_or("");
  EXPECT_EQ(last_error, "HTTP 404: Unknown Webhook (Discord code 10015)");
  EXPECT_EQ(body.find(fake_discord_server::token), std::string::npos) << body;
}

TEST_F(provider_sinks_pgtest, slack_429_storm_every_event_once_and_never_early) {
  // Slack's shape, sped up so the test is quick: bursts of 5, then 429 with
  // a Retry-After in whole seconds, which txrelay must honour in full.
  slack_fake_options options;
  options.per_second = 5;
  options.burst = 5;
  fake_slack_server slack{options};
  engine_harness e{*db, provider_yaml("slack", slack.webhook_url())};

  auto ids = post_numbered_events(e, event_count);
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(event_count));
  bool all_arrived = slack.wait_for_messages(event_count, std::chrono::seconds{20});
  // Checked before the outcome: a caller that hammers also fails by running
  // out of attempts, but this says why.
  EXPECT_EQ(slack.early_request_count(), 0u);
  EXPECT_GT(slack.rate_limited_count(), 0u) << "the storm did not happen, so this test proved nothing";
  ASSERT_TRUE(all_arrived) << slack.messages().size() << " of " << event_count;
  ASSERT_TRUE(eventually([&] { return all_delivered(e, ids); }));
  auto messages = slack.messages();
  EXPECT_EQ(messages.size(), static_cast<std::size_t>(event_count));
  auto seen = arrivals(messages, event_count);
  for (int n = 0; n < event_count; ++n)
    EXPECT_EQ(seen[n], 1) << "event " << n;
}

TEST_F(provider_sinks_pgtest, a_slack_error_word_becomes_the_dead_deliverys_last_error) {
  fake_slack_server slack;
  slack.fail_with(404, "channel_not_found");
  engine_harness e{*db, provider_yaml("slack", slack.webhook_url())};
  auto res = e.post_event(numbered_event(1));
  ASSERT_EQ(res.status, 201) << res.body;
  auto id = *json_string_at(res.body, "/id");
  ASSERT_TRUE(eventually([&] { return delivery_field(e, id, "status") == "dead"; }))
    << e.get("/v1/events/" + id).body;
  EXPECT_EQ(delivery_field(e, id, "attempts"), "1");
  EXPECT_EQ(delivery_field(e, id, "last_error"), "HTTP 404: channel_not_found");
  EXPECT_EQ(e.get("/v1/events/" + id).body.find(fake_slack_server::token), std::string::npos);
}

} // namespace
