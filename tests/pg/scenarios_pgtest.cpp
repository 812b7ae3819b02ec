// The scenarios txrelay exists for (/work/shared/SCENARIOS.md), end to end
// from the very example files users copy (config/examples/), in-process: the
// environment variables the examples read point their sinks at fakes that
// speak the providers' real APIs. Nothing here sets a sink option the example
// does not: what runs is what ships.
//
// Timing: the examples' retry bases (1 s, 2 s) and client-side rate limits
// (Discord 5 per 2 s, Slack 1 per second) are the product's; the tests are
// built so that they stay quick under them (first attempts succeed, bursts
// fit the limits, 429 storms are one window long).
#include "pg/engine_harness.hpp"
#include "sinks/sink_transport.hpp"
#include "support/fake_discord_server.hpp"
#include "support/fake_notion_server.hpp"
#include "support/fake_slack_server.hpp"
#include "support/json_probe.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace txrelay;
using namespace txrelay::testing;

namespace {

/// A config from config/examples/, as shipped.
std::string example(const std::string& name) {
  std::ifstream in{std::string{TXRELAY_SOURCE_DIR} + "/config/examples/" + name};
  std::stringstream text;
  text << in.rdbuf();
  if (text.str().empty())
    throw std::runtime_error("cannot read config/examples/" + name);
  return text.str();
}

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + needle.size()))
    ++n;
  return n;
}

/// What the `datetime` filter makes of an RFC 3339 UTC timestamp.
std::string datetime_text(const std::string& created_at) {
  return created_at.substr(0, 10) + " " + created_at.substr(11, 8) + " UTC";
}

class scenario_pgtest : public ::testing::Test {
protected:
  void SetUp() override {
    TXRELAY_REQUIRE_DATABASE();
    db = std::make_unique<test_database>();
  }

  long long count(const std::string& sql) const { return std::stoll(db->scalar(sql)); }

  /// Posts an event that must be accepted; returns its id.
  static std::string accepted(const engine_harness& e, const std::string& body) {
    auto res = e.post_event(body);
    EXPECT_EQ(res.status, 201) << res.body;
    return json_string_at(res.body, "/id").value_or("?");
  }

  /// The event's delivery to `sink` (GET /v1/events/{id}), as minified JSON; empty if none.
  static std::string delivery(const engine_harness& e, const std::string& event_id, const std::string& sink) {
    auto body = e.get("/v1/events/" + event_id).body;
    for (int i = 0, n = json_array_size(body, "/deliveries"); i < n; ++i) {
      auto at = "/deliveries/" + std::to_string(i);
      if (json_string_at(body, at + "/sink") == sink)
        return json_raw_at(body, at).value_or("");
    }
    return "";
  }

  static std::string status_of(const engine_harness& e, const std::string& event_id, const std::string& sink) {
    return json_string_at(delivery(e, event_id, sink), "/status").value_or("?");
  }

  static bool all_delivered(const engine_harness& e, const std::vector<std::string>& ids, const std::string& sink) {
    for (const auto& id : ids)
      if (status_of(e, id, sink) != "delivered")
        return false;
    return true;
  }

  std::unique_ptr<test_database> db;
};

// -- Scenario 1: customer feedback to Discord and Notion ----------------------

class scenario_1_feedback : public scenario_pgtest {
protected:
  std::map<std::string, std::string> env(const fake_discord_server& feedback, const fake_notion_server& notion) {
    return {{"FEEDBACK_DISCORD_URL", feedback.webhook_url()},
            {"NOTION_API_URL", notion.api_base()},
            {"NOTION_TOKEN", fake_notion_server::token},
            {"NOTION_DATABASE_ID", fake_notion_server::database_id}};
  }

  static std::string feedback(const std::string& user_name, const std::string& content_json,
                              const std::string& contact_json, int user_id = 42) {
    return R"({"topic":"feedback","key":"user-)" + std::to_string(user_id) + R"(","payload":{"user_id":)" +
           std::to_string(user_id) + R"(,"user_name":")" + user_name + R"(","content":)" + content_json +
           R"(,"contact":)" + contact_json + "}}";
  }

  /// `count` feedback events, one per user from `first_user_id` on, with the
  /// content "<text> <n>"; returns their ids.
  static std::vector<std::string> post_burst(const engine_harness& e, int count, const std::string& text,
                                             int first_user_id) {
    std::vector<std::string> ids;
    for (int n = 0; n < count; ++n)
      ids.push_back(accepted(e, feedback("User" + std::to_string(n), "\"" + text + " " + std::to_string(n) + "\"",
                                         "null", first_user_id + n)));
    return ids;
  }

  /// How many of `received` contain `needle`.
  static int containing(const std::vector<std::string>& received, const std::string& needle) {
    return static_cast<int>(std::count_if(received.begin(), received.end(),
                                          [&](const std::string& r) { return r.find(needle) != std::string::npos; }));
  }

  /// The Discord message the example's template makes, for an event with no
  /// backticks in it (inside the ``` block nothing else is escaped).
  static std::string expected_discord(const std::string& created_at, const std::string& user, int user_id,
                                      const std::string& contact, const std::string& content) {
    return "```\nNew feedback\nSent at: " + datetime_text(created_at) + "\nUser:    " + user + " (#" +
           std::to_string(user_id) + ")\nContact: " + contact + "\n\n" + content + "\n```\n";
  }

  const std::string yaml = example("1-feedback.yaml");
};

TEST_F(scenario_1_feedback, one_discord_message_and_one_notion_page_per_feedback) {
  fake_discord_server discord;
  fake_notion_server notion;
  engine_harness e{*db, yaml, {}, env(discord, notion)};

  auto res = e.post_event(feedback("Kim", R"("Love it, but *dark mode* please")", "null"));
  ASSERT_EQ(res.status, 201) << res.body;
  auto id = *json_string_at(res.body, "/id");
  // One delivery per routed sink, committed with the event.
  ASSERT_EQ(json_array_size(res.body, "/deliveries"), 3) << res.body;

  ASSERT_TRUE(eventually([&] {
    return status_of(e, id, "feedback-discord") == "delivered" && status_of(e, id, "feedback-notion") == "delivered" &&
           status_of(e, id, "audit") == "delivered";
  })) << e.get("/v1/events/" + id).body;
  auto created_at = *json_string_at(e.get("/v1/events/" + id).body, "/created_at");

  // Discord: exactly one message, the fenced block with every line filled in.
  auto messages = discord.messages();
  ASSERT_EQ(messages.size(), 1u);
  const auto& m = messages[0];
  EXPECT_EQ(m, expected_discord(created_at, "Kim", 42, "none", "Love it, but *dark mode* please"));
  EXPECT_EQ(m.rfind("```\n", 0), 0u) << m;
  EXPECT_NE(m.find("Sent at: "), std::string::npos);
  EXPECT_EQ(occurrences(m, "```"), 2u) << m;
  EXPECT_EQ(json_string_at(delivery(e, id, "feedback-discord"), "/status"), "delivered");
  EXPECT_EQ(json_int_at(delivery(e, id, "feedback-discord"), "/attempts"), 1);

  // Notion: exactly one page in the configured database, ContactInfo left out.
  auto pages = notion.pages();
  ASSERT_EQ(pages.size(), 1u);
  const auto& page = pages[0];
  EXPECT_EQ(json_string_at(page, "/parent/database_id"), fake_notion_server::database_id) << page;
  EXPECT_EQ(notion.property_text(0, "Name"), "Feedback from Kim");
  EXPECT_TRUE(json_raw_at(page, "/properties/Name/title").has_value()) << page;
  EXPECT_EQ(notion.property_text(0, "Content"), "Love it, but *dark mode* please");
  EXPECT_TRUE(json_raw_at(page, "/properties/Content/rich_text").has_value()) << page;
  EXPECT_EQ(json_string_at(page, "/properties/Date/date/start"), created_at) << page;
  EXPECT_FALSE(json_raw_at(page, "/properties/ContactInfo").has_value()) << page;
  EXPECT_EQ(json_string_at(delivery(e, id, "feedback-notion"), "/status"), "delivered");
}

TEST_F(scenario_1_feedback, a_given_contact_shows_in_the_message_and_as_contact_info) {
  fake_discord_server discord;
  fake_notion_server notion;
  engine_harness e{*db, yaml, {}, env(discord, notion)};

  auto id = accepted(e, feedback("Lee", R"("The reminder came twice")", R"("lee@example.com")", 7));
  ASSERT_TRUE(discord.wait_for_messages(1, std::chrono::seconds{10}));
  ASSERT_TRUE(notion.wait_for_pages(1, std::chrono::seconds{10}));
  ASSERT_TRUE(eventually([&] {
    return status_of(e, id, "feedback-discord") == "delivered" && status_of(e, id, "feedback-notion") == "delivered";
  }));
  auto created_at = *json_string_at(e.get("/v1/events/" + id).body, "/created_at");

  auto messages = discord.messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0], expected_discord(created_at, "Lee", 7, "lee@example.com", "The reminder came twice"));
  EXPECT_EQ(messages[0].find("Contact: none"), std::string::npos);

  ASSERT_EQ(notion.pages().size(), 1u);
  EXPECT_EQ(notion.property_text(0, "Name"), "Feedback from Lee");
  EXPECT_EQ(notion.property_text(0, "ContactInfo"), "lee@example.com");
  EXPECT_TRUE(json_raw_at(notion.pages()[0], "/properties/ContactInfo/rich_text").has_value());
}

TEST_F(scenario_1_feedback, content_cannot_break_the_fence_or_ping_anyone) {
  fake_discord_server discord;
  fake_notion_server notion;
  engine_harness e{*db, yaml, {}, env(discord, notion)};

  // Closes the block, pings everyone and opens a new block; then a lone
  // backtick pair that would join the template's closing fence.
  const std::string hostile = "```\\n@everyone **FREE NITRO** <@&123>\\n```js\\nalert(1)``";
  auto id = accepted(e, feedback("Mallory```", "\"" + hostile + "\"", R"("``` @here")", 666));
  ASSERT_TRUE(discord.wait_for_messages(1, std::chrono::seconds{10}));
  ASSERT_TRUE(eventually([&] { return status_of(e, id, "feedback-discord") == "delivered"; }));

  auto m = discord.messages().at(0);
  // Only the template's own two fences: no value opened or closed a block.
  EXPECT_EQ(occurrences(m, "```"), 2u) << m;
  EXPECT_EQ(m.rfind("```\n", 0), 0u) << m;
  ASSERT_GE(m.size(), 4u);
  EXPECT_EQ(m.substr(m.size() - 4), "```\n") << m;
  // The text is all there, backticks kept apart by zero-width spaces.
  EXPECT_NE(m.find("@everyone **FREE NITRO** <@&123>"), std::string::npos) << m;
  EXPECT_NE(m.find("`\u200b`\u200b`js"), std::string::npos) << m;
  EXPECT_NE(m.find("alert(1)`\u200b`\n```\n"), std::string::npos) << m;
  EXPECT_NE(m.find("Contact: `\u200b`\u200b` @here"), std::string::npos) << m;
  // And Discord is told to parse no mention at all.
  auto requests = discord.server().requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(json_raw_at(requests[0].body, "/allowed_mentions"), R"({"parse":[]})") << requests[0].body;
}

TEST_F(scenario_1_feedback, bad_feedback_is_refused_with_every_violation_and_nothing_is_stored) {
  fake_discord_server discord;
  fake_notion_server notion;
  engine_harness e{*db, yaml, {}, env(discord, notion)};

  auto res = e.post_event(feedback("Kim", R"("   ")", "\"" + std::string(101, 'c') + "\""));
  ASSERT_EQ(res.status, 422) << res.body;
  EXPECT_EQ(json_string_at(res.body, "/error/code"), "schema_violation") << res.body;
  ASSERT_EQ(json_array_size(res.body, "/error/violations"), 2) << res.body;
  std::map<std::string, std::string> problems;
  for (int i = 0; i < 2; ++i)
    problems[json_string_at(res.body, "/error/violations/" + std::to_string(i) + "/field").value_or("?")] =
      json_string_at(res.body, "/error/violations/" + std::to_string(i) + "/problem").value_or("?");
  EXPECT_EQ(problems["payload.content"], "must not be blank") << res.body;
  EXPECT_EQ(problems["payload.contact"], "must be at most 100 characters (got 101)") << res.body;

  // 800 characters is still fine, 801 is not; a contact of exactly 100 is fine.
  auto too_long = e.post_event(feedback("Kim", "\"" + std::string(801, 'x') + "\"", "null"));
  EXPECT_EQ(too_long.status, 422) << too_long.body;
  EXPECT_EQ(json_string_at(too_long.body, "/error/violations/0/field"), "payload.content") << too_long.body;

  EXPECT_EQ(count("SELECT count(*) FROM txrelay.events"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM txrelay.delivery_status"), 0);

  // The barrier: a good one after them is the only thing that ever reaches the sinks.
  auto id = accepted(e, feedback("Kim", "\"" + std::string(800, 'x') + "\"", "\"" + std::string(100, 'c') + "\""));
  ASSERT_TRUE(eventually([&] {
    return status_of(e, id, "feedback-discord") == "delivered" && status_of(e, id, "feedback-notion") == "delivered";
  }));
  EXPECT_EQ(count("SELECT count(*) FROM txrelay.events"), 1);
  EXPECT_EQ(discord.messages().size(), 1u);
  EXPECT_EQ(notion.pages().size(), 1u);
}

TEST_F(scenario_1_feedback, notion_down_does_not_stop_discord_and_loses_nothing) {
  fake_discord_server discord;
  fake_notion_server notion;
  notion.fail_with(500, "internal_server_error");
  engine_harness e{*db, yaml, {}, env(discord, notion)};

  std::vector<std::string> ids;
  for (int n = 1; n <= 3; ++n)
    ids.push_back(accepted(e, feedback("User" + std::to_string(n), "\"feedback " + std::to_string(n) + "\"", "null", n)));

  // Every Discord message arrives, first time, while every Notion request fails.
  ASSERT_TRUE(discord.wait_for_messages(3, std::chrono::seconds{10})) << discord.messages().size();
  ASSERT_TRUE(eventually([&] { return all_delivered(e, ids, "feedback-discord"); }));
  for (const auto& id : ids)
    EXPECT_EQ(json_int_at(delivery(e, id, "feedback-discord"), "/attempts"), 1) << id;

  // Notion's deliveries are not dead nor forgotten: pending, with the failure on record.
  ASSERT_TRUE(eventually([&] {
    for (const auto& id : ids) {
      auto d = delivery(e, id, "feedback-notion");
      if (json_string_at(d, "/status") != "pending" || json_int_at(d, "/attempts").value_or(0) < 1)
        return false;
    }
    return true;
  })) << e.get("/v1/events/" + ids[0]).body;
  auto failed = delivery(e, ids[0], "feedback-notion");
  EXPECT_EQ(json_int_at(failed, "/last_status"), 500) << failed;
  EXPECT_NE(json_string_at(failed, "/last_error").value_or("").find("500"), std::string::npos) << failed;
  EXPECT_EQ(failed.find(fake_notion_server::token), std::string::npos) << failed;
  EXPECT_TRUE(notion.pages().empty());
  // The operator's view of the sink: failing since, nothing delivered yet, and how far behind.
  auto sinks = e.get("/v1/sinks").body;
  EXPECT_NE(sink_field(sinks, "feedback-notion", "last_error_at"), "null") << sinks;
  EXPECT_EQ(sink_field(sinks, "feedback-notion", "last_success_at"), "null") << sinks;
  EXPECT_NE(sink_field(sinks, "feedback-notion", "oldest_pending_at"), "null") << sinks;
  EXPECT_EQ(sink_field(sinks, "feedback-discord", "last_error_at"), "null") << sinks;
  EXPECT_NE(sink_field(sinks, "feedback-discord", "last_success_at"), "null") << sinks;
  EXPECT_NE(e.get("/metrics").body.find("txrelay_sink_oldest_pending_age_seconds{sink=\"feedback-notion\"} "),
            std::string::npos);

  // Notion comes back: the pages are created by the retries, once each.
  notion.stop_failing();
  ASSERT_TRUE(notion.wait_for_pages(3, std::chrono::seconds{20})) << notion.pages().size();
  ASSERT_TRUE(eventually([&] { return all_delivered(e, ids, "feedback-notion"); }));
  EXPECT_EQ(notion.pages().size(), 3u);
  // Recovered: the last error is still shown, with a success after it (RFC 3339 texts compare in time order).
  sinks = e.get("/v1/sinks").body;
  EXPECT_GE(sink_field(sinks, "feedback-notion", "last_success_at"), sink_field(sinks, "feedback-notion", "last_error_at"))
    << sinks;
  EXPECT_EQ(sink_field(sinks, "feedback-notion", "oldest_pending_at"), "null") << sinks;
  EXPECT_EQ(discord.messages().size(), 3u);
}

TEST_F(scenario_1_feedback, a_discord_429_storm_delivers_every_feedback_once_and_never_early) {
  // A webhook whose bucket is the example's own burst (5), over a longer
  // window than txrelay's default rate assumes, and that only tells the
  // limit with a 429: the sixth request, sent when txrelay's own bucket
  // refills, is refused with a float retry_after that txrelay must wait out
  // in full (for every delivery, not only the refused one).
  discord_fake_options options;
  options.limit = 5;
  options.window = std::chrono::milliseconds{2000};
  options.rate_limit_headers_on_success = false;
  fake_discord_server discord{options};
  notion_fake_options generous;
  generous.per_second = 100;
  generous.burst = 100;
  fake_notion_server notion{generous};
  engine_harness e{*db, yaml, {}, env(discord, notion)};

  constexpr int burst = 10;
  auto ids = post_burst(e, burst, "storm message", 100);
  bool all_arrived = discord.wait_for_messages(burst, std::chrono::seconds{20});
  EXPECT_EQ(discord.early_request_count(), 0u);
  EXPECT_GT(discord.rate_limited_count(), 0u) << "the storm did not happen, so this test proved nothing";
  ASSERT_TRUE(all_arrived) << discord.messages().size() << " of " << burst;
  ASSERT_TRUE(eventually([&] { return all_delivered(e, ids, "feedback-discord"); }));

  auto messages = discord.messages();
  EXPECT_EQ(messages.size(), static_cast<std::size_t>(burst));
  for (int n = 0; n < burst; ++n)
    EXPECT_EQ(containing(messages, "\nstorm message " + std::to_string(n) + "\n"), 1) << "message " << n;
  EXPECT_EQ(count("SELECT count(*) FROM txrelay.delivery_status WHERE sink = 'feedback-discord' AND status = 'delivered'"),
            burst);
}

// Notion allows 3 requests/s with short bursts; a workspace on a tighter plan
// (here 1/s, no burst) answers 429 with an integer Retry-After. txrelay's
// default budget for notion is 3/s, so the storm happens, and every wait is
// honoured for the whole sink: no page request arrives early.
TEST_F(scenario_1_feedback, a_notion_429_storm_creates_every_page_once_and_never_early) {
  fake_discord_server discord;
  notion_fake_options tight;
  tight.per_second = 1;
  tight.burst = 1;
  fake_notion_server notion{tight};
  engine_harness e{*db, yaml, {}, env(discord, notion)};

  constexpr int burst = 4;
  auto ids = post_burst(e, burst, "page", 200);
  ASSERT_TRUE(eventually([&] { return all_delivered(e, ids, "feedback-notion"); }, std::chrono::seconds{30}));
  EXPECT_GT(notion.rate_limited_count(), 0u) << "the storm did not happen, so this test proved nothing";
  EXPECT_EQ(notion.early_request_count(), 0u);
  auto pages = notion.pages();
  ASSERT_EQ(pages.size(), static_cast<std::size_t>(burst));
  for (int n = 0; n < burst; ++n)
    EXPECT_EQ(containing(pages, "page " + std::to_string(n)), 1) << "page " << n;
}

TEST_F(scenario_1_feedback, a_sign_up_is_announced_on_the_second_webhook_only) {
  fake_discord_server feedback_hook;
  fake_discord_server signup_hook;
  fake_notion_server notion;
  auto vars = env(feedback_hook, notion);
  vars["SIGNUP_DISCORD_URL"] = signup_hook.webhook_url();
  engine_harness e{*db, yaml, {}, vars};

  auto res = e.post_event(R"({"topic":"user.signed_up","key":"user-1042","payload":{"user_number":1042,"user_name":"Kim"}})");
  ASSERT_EQ(res.status, 201) << res.body;
  auto id = *json_string_at(res.body, "/id");
  ASSERT_EQ(json_array_size(res.body, "/deliveries"), 1) << res.body;
  EXPECT_EQ(json_string_at(res.body, "/deliveries/0/sink"), "signup-discord");
  ASSERT_TRUE(eventually([&] { return status_of(e, id, "signup-discord") == "delivered"; }))
    << e.get("/v1/events/" + id).body;
  ASSERT_EQ(signup_hook.messages().size(), 1u);
  EXPECT_EQ(signup_hook.messages()[0], "Welcome Kim! You are user number 1042.");

  // A feedback after it reaches the feedback webhook: the sign-up never did.
  auto fid = accepted(e, feedback("Kim", R"("hello")", "null"));
  ASSERT_TRUE(eventually([&] {
    return status_of(e, fid, "feedback-discord") == "delivered" && status_of(e, fid, "feedback-notion") == "delivered";
  }));
  ASSERT_EQ(feedback_hook.messages().size(), 1u);
  EXPECT_EQ(feedback_hook.messages()[0].find("user number"), std::string::npos);
  EXPECT_EQ(signup_hook.messages().size(), 1u);
  EXPECT_EQ(notion.pages().size(), 1u);

  // The schema: user_number is at least 1.
  auto bad = e.post_event(R"({"topic":"user.signed_up","payload":{"user_number":0,"user_name":"Kim"}})");
  EXPECT_EQ(bad.status, 422) << bad.body;
  EXPECT_EQ(json_string_at(bad.body, "/error/violations/0/field"), "payload.user_number") << bad.body;
}

// -- Scenario 3: poll notifications to Slack, with conditions -----------------

/// Fails the first attempt of every delivery for which `pick` says so, before
/// it reaches the sink (a connection reset), then passes attempts through.
class fail_first_attempt final : public sink_transport {
public:
  fail_first_attempt(std::shared_ptr<sink_transport> inner, std::function<bool(const delivery_job&)> pick)
    : inner_(std::move(inner)), pick_(std::move(pick)) {}
  void attempt(const delivery_job& job, attempt_callback done) override {
    if (job.attempts == 0 && pick_(job)) {
      attempt_result r;
      r.outcome = attempt_result::verdict::retry;
      r.error = "connection reset (injected)";
      return done(std::move(r));
    }
    inner_->attempt(job, std::move(done));
  }
private:
  std::shared_ptr<sink_transport> inner_;
  std::function<bool(const delivery_job&)> pick_;
};

class scenario_3_polls : public scenario_pgtest {
protected:
  static std::map<std::string, std::string> env(const fake_slack_server& slack) {
    return {{"POLLS_SLACK_URL", slack.webhook_url()}};
  }

  static std::string poll(int id, const std::string& title, bool closed, const std::string& extra = R"(,"author":"kim")") {
    return R"({"topic":"poll","key":"poll-)" + std::to_string(id) + R"(","payload":{"id":)" + std::to_string(id) +
           R"(,"title":")" + title + R"(","closed":)" + (closed ? "true" : "false") + extra + "}}";
  }

  const std::string yaml = example("3-polls.yaml");
};

TEST_F(scenario_3_polls, each_kind_of_event_gets_its_own_message) {
  fake_slack_server slack;
  engine_harness e{*db, yaml, {}, env(slack)};

  // Three distinct keys: the burst (3) of the example's own rate limit.
  std::vector<std::string> ids;
  ids.push_back(accepted(e, poll(9, "Team lunch", false)));
  ids.push_back(accepted(e, poll(10, "Offsite", true, R"(,"winner":"Wed")")));
  ids.push_back(accepted(
    e, R"({"topic":"appointment","key":"appt-3","payload":{"title":"Standup","starts_at":"2025-07-25T09:00:00Z"}})"));
  // One delivery each: exactly one of the two poll routes matched.
  for (const auto& id : ids)
    EXPECT_EQ(json_array_size(e.get("/v1/events/" + id).body, "/deliveries"), 1) << id;
  ASSERT_TRUE(slack.wait_for_messages(3, std::chrono::seconds{10})) << slack.messages().size();
  ASSERT_TRUE(eventually([&] { return all_delivered(e, ids, "team-slack"); }));

  auto messages = slack.messages();
  ASSERT_EQ(messages.size(), 3u);
  std::multiset<std::string> got(messages.begin(), messages.end());
  EXPECT_EQ(got, (std::multiset<std::string>{":ballot_box: New poll *Team lunch* by kim",
                                             ":lock: Poll *Offsite* is closed: Wed won",
                                             ":calendar: New appointment *Standup* at 2025-07-25T09:00:00Z"}));
  EXPECT_EQ(json_string_at(delivery(e, ids[0], "team-slack"), "/status"), "delivered");
}

TEST_F(scenario_3_polls, a_closed_poll_without_winner_and_an_anonymous_poll) {
  fake_slack_server slack;
  engine_harness e{*db, yaml, {}, env(slack)};
  auto a = accepted(e, poll(11, "Retro", true, ""));
  auto b = accepted(e, poll(12, "Book club", false, ""));
  ASSERT_TRUE(slack.wait_for_messages(2, std::chrono::seconds{10}));
  ASSERT_TRUE(eventually([&] { return all_delivered(e, {a, b}, "team-slack"); }));
  auto messages = slack.messages();
  std::multiset<std::string> got(messages.begin(), messages.end());
  EXPECT_EQ(got, (std::multiset<std::string>{":lock: Poll *Retro* is closed",
                                             ":ballot_box: New poll *Book club* by someone"}));
}

TEST_F(scenario_3_polls, a_title_cannot_ping_the_channel) {
  fake_slack_server slack;
  engine_harness e{*db, yaml, {}, env(slack)};
  auto id = accepted(e, poll(13, "<!channel> free pizza & <https://evil.example|click>", false,
                             R"(,"author":"<@U123>")"));
  ASSERT_TRUE(slack.wait_for_messages(1, std::chrono::seconds{10}));
  ASSERT_TRUE(eventually([&] { return status_of(e, id, "team-slack") == "delivered"; }));
  auto m = slack.messages().at(0);
  EXPECT_EQ(m, ":ballot_box: New poll *&lt;!channel&gt; free pizza &amp; &lt;https://evil.example|click&gt;* by "
               "&lt;@U123&gt;");
  EXPECT_EQ(m.find('<'), std::string::npos) << m;
  EXPECT_EQ(m.find('>'), std::string::npos) << m;
}

TEST_F(scenario_3_polls, closed_never_arrives_before_created_for_the_same_poll) {
  // The "created" notification of poll 20 fails once (before reaching
  // Slack) and waits for its backoff; per_key ordering must hold "closed"
  // back until "created" is through (without it, "closed" would go out
  // within milliseconds, long before the retry's backoff of up to 1 s).
  fake_slack_server slack;
  auto wrap = [](const sink_config& sink, std::shared_ptr<sink_transport> inner) -> std::shared_ptr<sink_transport> {
    if (sink.name != "team-slack")
      return inner;
    return std::make_shared<fail_first_attempt>(std::move(inner), [](const delivery_job& job) {
      // The payload is the client's text when dispatched, PostgreSQL's
      // rendering of the jsonb when a sweep loaded it: spaces may differ.
      auto compact = job.payload_json;
      std::erase(compact, ' ');
      return job.key == "poll-20" && compact.find(R"("closed":false)") != std::string::npos;
    });
  };
  engine_harness e{*db, yaml, wrap, env(slack)};

  auto created = accepted(e, poll(20, "Friday drinks", false));
  auto closed = accepted(e, poll(20, "Friday drinks", true));
  auto other = accepted(e, poll(21, "Quiz night", false));

  ASSERT_TRUE(slack.wait_for_messages(3, std::chrono::seconds{15})) << slack.messages().size();
  ASSERT_TRUE(eventually([&] { return all_delivered(e, {created, closed, other}, "team-slack"); }));
  auto messages = slack.messages();
  ASSERT_EQ(messages.size(), 3u);
  auto index_of = [&](const std::string& text) {
    return std::find(messages.begin(), messages.end(), text) - messages.begin();
  };
  auto i_created = index_of(":ballot_box: New poll *Friday drinks* by kim");
  auto i_closed = index_of(":lock: Poll *Friday drinks* is closed");
  auto i_other = index_of(":ballot_box: New poll *Quiz night* by kim");
  ASSERT_LT(i_created, 3);
  ASSERT_LT(i_closed, 3);
  ASSERT_LT(i_other, 3);
  EXPECT_LT(i_created, i_closed);
  EXPECT_EQ(json_int_at(delivery(e, created, "team-slack"), "/attempts"), 2);
  EXPECT_EQ(json_int_at(delivery(e, closed, "team-slack"), "/attempts"), 1);
}

TEST_F(scenario_3_polls, channel_not_found_is_dead_with_slacks_word_as_the_error) {
  fake_slack_server slack;
  slack.fail_with(404, "channel_not_found");
  engine_harness e{*db, yaml, {}, env(slack)};
  auto id = accepted(e, poll(30, "Team lunch", false));
  ASSERT_TRUE(eventually([&] { return status_of(e, id, "team-slack") == "dead"; })) << e.get("/v1/events/" + id).body;
  auto d = delivery(e, id, "team-slack");
  EXPECT_EQ(json_string_at(d, "/last_error"), "HTTP 404: channel_not_found") << d;
  EXPECT_EQ(json_int_at(d, "/last_status"), 404) << d;
  EXPECT_EQ(json_int_at(d, "/attempts"), 1) << d;
  EXPECT_EQ(slack.server().request_count(), 1u);
  EXPECT_EQ(e.get("/v1/events/" + id).body.find(fake_slack_server::token), std::string::npos);
  EXPECT_TRUE(slack.messages().empty());
}

TEST_F(scenario_3_polls, a_slack_429_storm_delivers_every_notification_once_and_never_early) {
  // The webhook allows bursts of 2 where txrelay's default (Slack's
  // published 1 per second, bursts of 3) sends 3: the third is refused with
  // Retry-After: 1, which txrelay must honour for the whole sink.
  slack_fake_options options;
  options.per_second = 2;
  options.burst = 2;
  fake_slack_server slack{options};
  engine_harness e{*db, yaml, {}, env(slack)};

  constexpr int burst = 6;
  std::vector<std::string> ids;
  for (int n = 0; n < burst; ++n)
    ids.push_back(accepted(e, poll(100 + n, "storm poll " + std::to_string(n), n % 2 == 1)));
  bool all_arrived = slack.wait_for_messages(burst, std::chrono::seconds{20});
  EXPECT_EQ(slack.early_request_count(), 0u);
  EXPECT_GT(slack.rate_limited_count(), 0u) << "the storm did not happen, so this test proved nothing";
  ASSERT_TRUE(all_arrived) << slack.messages().size() << " of " << burst;
  ASSERT_TRUE(eventually([&] { return all_delivered(e, ids, "team-slack"); }));
  auto messages = slack.messages();
  EXPECT_EQ(messages.size(), static_cast<std::size_t>(burst));
  for (int n = 0; n < burst; ++n) {
    int seen = 0;
    for (const auto& m : messages)
      seen += m.find("*storm poll " + std::to_string(n) + "*") != std::string::npos;
    EXPECT_EQ(seen, 1) << "poll " << n;
  }
}

// -- Scenario 4: business verification requests --------------------------------

class scenario_4_verification : public scenario_pgtest {
protected:
  static std::map<std::string, std::string> env(const fake_discord_server& discord) {
    return {{"ADMIN_DISCORD_URL", discord.webhook_url()}};
  }

  static std::string request(int id, const std::string& name, const std::string& status,
                             const std::string& registration = R"(,"registration_number":"123-45-67890")") {
    return R"({"topic":"verification.requested","key":"req-)" + std::to_string(id) + R"(","payload":{"request_id":)" +
           std::to_string(id) + R"(,"business_name":")" + name + "\"" + registration + R"(,"status":")" + status +
           R"(","requested_by":"lee"}})";
  }

  const std::string yaml = example("4-business-verification.yaml");
};

TEST_F(scenario_4_verification, a_pending_request_alerts_once_with_markdown_escaped) {
  fake_discord_server discord;
  engine_harness e{*db, yaml, {}, env(discord)};
  auto res = e.post_event(request(31, "**FREE** _study_ @everyone", "PENDING"));
  ASSERT_EQ(res.status, 201) << res.body;
  auto id = *json_string_at(res.body, "/id");
  ASSERT_EQ(json_array_size(res.body, "/deliveries"), 1) << res.body;

  ASSERT_TRUE(eventually([&] { return status_of(e, id, "admin-discord") == "delivered"; }))
    << e.get("/v1/events/" + id).body;
  auto d = delivery(e, id, "admin-discord");
  EXPECT_EQ(json_raw_at(d, "/last_status"), "null") << d; // a first attempt's success records nothing else
  EXPECT_EQ(json_int_at(d, "/attempts"), 1) << d;
  auto messages = discord.messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0], "New business verification request #31: \\*\\*FREE\\*\\* \\_study\\_ \\@everyone "
                         "(registration 123\\-45\\-67890) by lee. Status: PENDING. Review it in the admin console.");
  EXPECT_NE(messages[0].find("\\*\\*FREE\\*\\*"), std::string::npos);
}

TEST_F(scenario_4_verification, approved_and_rejected_requests_alert_nobody) {
  fake_discord_server discord;
  engine_harness e{*db, yaml, {}, env(discord)};
  for (const std::string& status : std::vector<std::string>{"APPROVED", "REJECTED"}) {
    auto res = e.post_event(request(status == "APPROVED" ? 40 : 41, "Study Hub", status));
    ASSERT_EQ(res.status, 201) << res.body;
    EXPECT_EQ(json_array_size(res.body, "/deliveries"), 0) << res.body;
  }
  EXPECT_EQ(count("SELECT count(*) FROM txrelay.events"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM txrelay.delivery_status"), 0);

  // The barrier: a PENDING one after them is the only request Discord ever sees.
  auto id = accepted(e, request(42, "Study Hub", "PENDING"));
  ASSERT_TRUE(eventually([&] { return status_of(e, id, "admin-discord") == "delivered"; }));
  EXPECT_EQ(discord.server().request_count(), 1u);
  ASSERT_EQ(discord.messages().size(), 1u);
  EXPECT_NE(discord.messages()[0].find("request #42: Study Hub"), std::string::npos) << discord.messages()[0];
}

TEST_F(scenario_4_verification, a_request_without_registration_number_is_refused) {
  fake_discord_server discord;
  engine_harness e{*db, yaml, {}, env(discord)};
  auto res = e.post_event(request(50, "Study Hub", "PENDING", ""));
  ASSERT_EQ(res.status, 422) << res.body;
  EXPECT_EQ(json_string_at(res.body, "/error/code"), "schema_violation") << res.body;
  ASSERT_EQ(json_array_size(res.body, "/error/violations"), 1) << res.body;
  EXPECT_EQ(json_string_at(res.body, "/error/violations/0/field"), "payload.registration_number");
  EXPECT_EQ(json_string_at(res.body, "/error/violations/0/problem"), "is required");

  auto unknown_status = e.post_event(request(51, "Study Hub", "MAYBE"));
  EXPECT_EQ(unknown_status.status, 422) << unknown_status.body;
  EXPECT_EQ(json_string_at(unknown_status.body, "/error/violations/0/field"), "payload.status");

  EXPECT_EQ(count("SELECT count(*) FROM txrelay.events"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM txrelay.delivery_status"), 0);
  EXPECT_EQ(discord.server().request_count(), 0u);
}

} // namespace
