// The Discord and Slack transports against the fakes over loopback, and the
// fakes themselves: the pg tests' "never early" means something only if the
// fakes really enforce the limits and notice a caller that comes back early.
#include "config/config.hpp"
#include "sinks/discord_sink.hpp"
#include "sinks/sink_transport.hpp"
#include "sinks/slack_sink.hpp"

#include "support/fake_discord_server.hpp"
#include "support/fake_slack_server.hpp"
#include "support/http_test_client.hpp"
#include "support/json_probe.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <future>
#include <thread>

using namespace txrelay;
using namespace txrelay::testing;
using namespace std::chrono_literals;

namespace {

std::string target_of(const std::string& url) {
  auto parsed = parse_url(url);
  return parsed ? parsed->target : "";
}

test_response post_to(const fake_sink_server& server, const std::string& url, const std::string& body) {
  return post_json(server.port(), target_of(url), body);
}

const std::string discord_message = R"({"content":"hello"})";

TEST(fake_discord, enforces_its_bucket_and_counts_a_caller_that_comes_back_early) {
  discord_fake_options options;
  options.limit = 2;
  options.window = 60s; // nothing resets during the test
  fake_discord_server discord{options};
  auto url = discord.webhook_url();

  auto first = post_to(discord.server(), url, discord_message);
  EXPECT_EQ(first.status, 204);
  EXPECT_EQ(first.header("X-RateLimit-Limit"), "2");
  EXPECT_EQ(first.header("X-RateLimit-Remaining"), "1");
  auto second = post_to(discord.server(), url, discord_message);
  EXPECT_EQ(second.status, 204);
  EXPECT_EQ(second.header("X-RateLimit-Remaining"), "0");
  EXPECT_FALSE(second.header("X-RateLimit-Reset-After").empty());
  EXPECT_EQ(discord.early_request_count(), 0u);

  // Told Remaining: 0, and back before the reset: early, and refused.
  auto third = post_to(discord.server(), url, discord_message);
  EXPECT_EQ(third.status, 429);
  EXPECT_EQ(json_string_at(third.body, "/message"), "You are being rate limited.");
  EXPECT_TRUE(json_raw_at(third.body, "/retry_after"));
  EXPECT_EQ(json_raw_at(third.body, "/global"), "false");
  auto retry_after_header = std::string{third.header("Retry-After")};
  EXPECT_TRUE(!retry_after_header.empty() && retry_after_header.find('.') == std::string::npos) << retry_after_header;
  EXPECT_EQ(discord.early_request_count(), 1u);
  EXPECT_EQ(discord.rate_limited_count(), 1u);
  EXPECT_EQ(discord.messages().size(), 2u);
}

TEST(fake_discord, without_success_headers_only_a_request_after_a_429_is_early) {
  discord_fake_options options;
  options.limit = 1;
  options.window = 60s;
  options.rate_limit_headers_on_success = false;
  fake_discord_server discord{options};
  auto url = discord.webhook_url();
  auto first = post_to(discord.server(), url, discord_message);
  EXPECT_EQ(first.status, 204);
  EXPECT_TRUE(first.header("X-RateLimit-Remaining").empty());
  EXPECT_EQ(post_to(discord.server(), url, discord_message).status, 429);
  EXPECT_EQ(discord.early_request_count(), 0u); // it could not have known
  EXPECT_EQ(post_to(discord.server(), url, discord_message).status, 429);
  EXPECT_EQ(discord.early_request_count(), 1u);
}

TEST(fake_discord, refuses_what_discord_refuses) {
  fake_discord_server discord;
  auto url = discord.webhook_url();
  auto too_long = post_to(discord.server(), url, R"({"content":")" + std::string(2001, 'x') + R"("})");
  EXPECT_EQ(too_long.status, 400);
  EXPECT_EQ(json_int_at(too_long.body, "/code"), 50035);
  EXPECT_EQ(post_to(discord.server(), url, R"({"content":""})").status, 400);
  auto wrong_token = post_json(discord.server().port(), "/api/webhooks/1180000000000000001/nope", discord_message);
  EXPECT_EQ(wrong_token.status, 401);
  EXPECT_EQ(json_int_at(wrong_token.body, "/code"), 50027);
  discord.delete_webhook();
  auto gone = post_to(discord.server(), url, discord_message);
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(json_int_at(gone.body, "/code"), 10015);
  EXPECT_TRUE(discord.messages().empty());
}

TEST(fake_slack, bursts_then_429_with_whole_seconds_and_counts_early_callers) {
  slack_fake_options options;
  options.per_second = 0.01; // no refill during the test
  options.burst = 2;
  fake_slack_server slack{options};
  auto url = slack.webhook_url();
  for (int i = 0; i < 2; ++i) {
    auto ok = post_to(slack.server(), url, R"({"text":"hi"})");
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.body, "ok");
  }
  auto limited = post_to(slack.server(), url, R"({"text":"hi"})");
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.header("Retry-After"), "100");
  EXPECT_EQ(slack.early_request_count(), 0u);
  EXPECT_EQ(post_to(slack.server(), url, R"({"text":"hi"})").status, 429);
  EXPECT_EQ(slack.early_request_count(), 1u);
  EXPECT_EQ(slack.rate_limited_count(), 2u);
  EXPECT_EQ(slack.messages(), (std::vector<std::string>{"hi", "hi"}));
}

TEST(fake_slack, answers_error_words_in_plain_text) {
  fake_slack_server slack;
  auto url = slack.webhook_url();
  EXPECT_EQ(post_to(slack.server(), url, "not json").body, "invalid_payload");
  slack.fail_with(410, "channel_is_archived");
  auto gone = post_to(slack.server(), url, R"({"text":"hi"})");
  EXPECT_EQ(gone.status, 410);
  EXPECT_EQ(gone.body, "channel_is_archived");
  slack.stop_failing();
  EXPECT_EQ(post_to(slack.server(), url, R"({"text":"hi"})").status, 200);
}

class provider_transport_fixture : public ::testing::Test {
protected:
  using work_guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

  void SetUp() override { runner_ = std::thread{[this] { io_.run(); }}; }
  void TearDown() override {
    transport_.reset();
    work_.reset();
    io_.stop();
    runner_.join();
  }

  attempt_result attempt(sink_transport& transport, const delivery_job& job) {
    auto promise = std::make_shared<std::promise<attempt_result>>();
    auto future = promise->get_future();
    transport.attempt(job, [promise](attempt_result r) { promise->set_value(std::move(r)); });
    if (future.wait_for(30s) != std::future_status::ready) {
      ADD_FAILURE() << "done was not called";
      return {};
    }
    return future.get();
  }

  static delivery_job job() {
    delivery_job j;
    j.id = "d1";
    j.event_id = "e1";
    j.topic = "feedback";
    j.key = "user-42";
    j.payload_json = R"({"content":"hi"})";
    j.created_at = "2026-11-22T20:52:25.123456Z";
    return j;
  }

  boost::asio::io_context io_;
  std::optional<work_guard> work_{io_.get_executor()};
  std::thread runner_;
  std::shared_ptr<sink_transport> transport_;
};

TEST_F(provider_transport_fixture, discord_sink_posts_the_message_and_reads_the_bucket) {
  discord_fake_options options;
  options.limit = 1;
  options.window = 60s;
  fake_discord_server discord{options};
  transport_ = std::make_shared<discord_sink>(io_, *parse_url(discord.webhook_url()), millis{2000}, default_clock());

  auto r = attempt(*transport_, job());
  EXPECT_EQ(r.outcome, attempt_result::verdict::delivered);
  EXPECT_EQ(r.http_status, 204);
  ASSERT_TRUE(r.retry_after) << "Remaining: 0 pauses the sink";
  EXPECT_GT(*r.retry_after, 59s);
  ASSERT_EQ(discord.messages().size(), 1u);
  EXPECT_EQ(discord.messages()[0], discord_content(job()));
  auto request = discord.server().requests().at(0);
  EXPECT_EQ(request.header("content-type"), "application/json");
  EXPECT_EQ(json_raw_at(request.body, "/allowed_mentions"), R"({"parse":[]})");

  auto limited = attempt(*transport_, job());
  EXPECT_EQ(limited.outcome, attempt_result::verdict::retry);
  EXPECT_EQ(limited.http_status, 429);
  ASSERT_TRUE(limited.retry_after);
  EXPECT_GT(*limited.retry_after, 59s);
}

TEST_F(provider_transport_fixture, discord_sink_sets_author_and_embeds_and_posts_into_a_thread) {
  fake_discord_server discord;
  auto config = load_config_text("sinks:\n"
                                 "  - name: polls\n"
                                 "    kind: discord\n"
                                 "    url: \"" + discord.webhook_url() + "\"\n"
                                 "    username: \"Polls bot for {{ key }}\"\n"
                                 "    avatar_url: https://cdn.example/polls.png\n"
                                 "    thread_id: \"1234567890\"\n"
                                 "    embeds:\n"
                                 "      - {title: \"{{ payload.content }}\", color: 5814783}\n",
                                 "test.yaml", [](const std::string&) { return std::nullopt; });
  ASSERT_TRUE(config) << config.error().to_string();
  transport_ = make_sink_transport(config->sinks.at(0), transport_environment{io_, default_clock(), ""});
  auto r = attempt(*transport_, job());
  EXPECT_EQ(r.outcome, attempt_result::verdict::delivered) << r.error;
  auto request = discord.server().requests().at(0);
  EXPECT_NE(request.target.find("?thread_id=1234567890"), std::string::npos) << request.target;
  EXPECT_EQ(json_string_at(request.body, "/username"), "Polls bot for user-42");
  EXPECT_EQ(json_string_at(request.body, "/avatar_url"), "https://cdn.example/polls.png");
  EXPECT_EQ(json_string_at(request.body, "/embeds/0/title"), "hi");
  EXPECT_EQ(json_int_at(request.body, "/embeds/0/color"), 5814783);
  EXPECT_FALSE(json_raw_at(request.body, "/content")) << "the embed is the message: no default text beside it";
  EXPECT_EQ(json_raw_at(request.body, "/allowed_mentions"), R"({"parse":[]})");
}

TEST_F(provider_transport_fixture, discord_sink_errors_never_carry_the_token) {
  fake_discord_server discord;
  // A proxy that echoes the path, as Express's "Cannot POST /…" does.
  discord.server().set_behaviour([](const recorded_request& request, std::size_t) {
    fake_reply reply;
    reply.status = 404;
    reply.body = "Cannot POST " + request.target;
    return reply;
  });
  transport_ = std::make_shared<discord_sink>(io_, *parse_url(discord.webhook_url()), millis{2000}, default_clock());
  auto r = attempt(*transport_, job());
  EXPECT_EQ(r.outcome, attempt_result::verdict::permanent);
  EXPECT_EQ(r.error.find(fake_discord_server::token), std::string::npos) << r.error;
  EXPECT_EQ(r.error.rfind("HTTP 404: Cannot POST", 0), 0u) << r.error;
}

TEST_F(provider_transport_fixture, slack_sink_posts_the_text_and_honours_retry_after) {
  slack_fake_options options;
  options.per_second = 0.01;
  options.burst = 1;
  fake_slack_server slack{options};
  transport_ = std::make_shared<slack_sink>(io_, *parse_url(slack.webhook_url()), millis{2000}, default_clock());
  auto r = attempt(*transport_, job());
  EXPECT_EQ(r.outcome, attempt_result::verdict::delivered);
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(slack.messages(), std::vector<std::string>{slack_text(job())});
  auto limited = attempt(*transport_, job());
  EXPECT_EQ(limited.outcome, attempt_result::verdict::retry);
  EXPECT_EQ(limited.retry_after, millis{100'000});
  EXPECT_EQ(limited.error, "HTTP 429: rate_limited");
}

} // namespace
