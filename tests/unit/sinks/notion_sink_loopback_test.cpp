// The Notion transport against the fake over loopback, and the fake itself:
// "never early" means something only if the fake really enforces Notion's
// limits and notices a caller that comes back before Retry-After.
#include "sinks/notion_sink.hpp"

#include "support/fake_notion_server.hpp"
#include "support/http_test_client.hpp"
#include "support/json_probe.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

using namespace txrelay;
using namespace txrelay::testing;
using namespace std::chrono_literals;

namespace {

// A function, not a global: fake_notion_server::token lives in another
// translation unit and may not be initialised before this one's globals.
http::header_list notion_headers() {
  return {{"Authorization", "Bearer " + fake_notion_server::token}, {"Notion-Version", "2022-06-28"}};
}

std::string page_in(const std::string& parent_id, const std::string& properties = R"({})") {
  return R"({"parent":{"database_id":")" + parent_id + R"("},"properties":)" + properties + "}";
}

test_response create_page(fake_notion_server& notion, const std::string& body,
                          const http::header_list& headers = notion_headers()) {
  return post_json(notion.server().port(), "/v1/pages", body, headers);
}

std::string items(int n, std::size_t each) {
  std::string out = "[";
  for (int i = 0; i < n; ++i) {
    if (i > 0)
      out += ',';
    out += R"({"type":"text","text":{"content":")" + std::string(each, 'x') + R"("}})";
  }
  return out + "]";
}

// -- the fake ------------------------------------------------------------------

TEST(fake_notion, creates_a_page_for_a_valid_request) {
  fake_notion_server notion;
  auto ok = create_page(notion, page_in(fake_notion_server::database_id,
                                        R"({"Name":{"title":[{"type":"text","text":{"content":"hi"}}]}})"));
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(json_string_at(ok.body, "/object"), "page");
  EXPECT_TRUE(json_string_at(ok.body, "/id"));
  ASSERT_EQ(notion.pages().size(), 1u);
  EXPECT_EQ(notion.property_text(0, "Name"), "hi");
  EXPECT_EQ(notion.property_text(0, "Missing"), "");
  // Ids match with or without dashes; data sources are parents too.
  std::string undashed;
  for (char c : fake_notion_server::database_id)
    if (c != '-')
      undashed += c;
  EXPECT_EQ(create_page(notion, page_in(undashed)).status, 200);
  EXPECT_EQ(create_page(notion, R"({"parent":{"type":"data_source_id","data_source_id":")" +
                                  fake_notion_server::data_source_id + R"("},"properties":{}})")
              .status,
            200);
}

TEST(fake_notion, refuses_what_notion_refuses) {
  notion_fake_options options;
  options.burst = 100; // this test is not about the rate limit
  fake_notion_server notion{options};
  auto page = page_in(fake_notion_server::database_id);

  auto no_token = create_page(notion, page, {{"Notion-Version", "2022-06-28"}});
  EXPECT_EQ(no_token.status, 401);
  EXPECT_EQ(json_string_at(no_token.body, "/object"), "error");
  EXPECT_EQ(json_int_at(no_token.body, "/status"), 401);
  EXPECT_EQ(json_string_at(no_token.body, "/code"), "unauthorized");
  EXPECT_TRUE(json_string_at(no_token.body, "/request_id"));
  EXPECT_EQ(create_page(notion, page, {{"Authorization", "Bearer wrong"}, {"Notion-Version", "2022-06-28"}}).status,
            401);

  auto no_version = create_page(notion, page, {{"Authorization", "Bearer " + fake_notion_server::token}});
  EXPECT_EQ(no_version.status, 400);
  EXPECT_EQ(json_string_at(no_version.body, "/code"), "missing_version");

  auto not_json = create_page(notion, "{not json");
  EXPECT_EQ(not_json.status, 400);
  EXPECT_EQ(json_string_at(not_json.body, "/code"), "invalid_json");

  auto unshared = create_page(notion, page_in("00000000-0000-0000-0000-000000000000"));
  EXPECT_EQ(unshared.status, 404);
  EXPECT_EQ(json_string_at(unshared.body, "/code"), "object_not_found");

  auto long_item = create_page(notion, page_in(fake_notion_server::database_id, R"({"C":{"rich_text":)" +
                                                                                  items(1, 2001) + "}}"));
  EXPECT_EQ(long_item.status, 400);
  EXPECT_EQ(json_string_at(long_item.body, "/code"), "validation_error");
  EXPECT_EQ(json_string_at(long_item.body, "/message"),
            "body failed validation: body.properties.C.rich_text[0].text.content.length should be ≤ `2000`, "
            "instead was `2001`.");

  auto many_items = create_page(notion, page_in(fake_notion_server::database_id, R"({"C":{"rich_text":)" +
                                                                                   items(101, 1) + "}}"));
  EXPECT_EQ(many_items.status, 400);
  EXPECT_EQ(json_string_at(many_items.body, "/code"), "validation_error");

  // Exactly at the limits is fine.
  EXPECT_EQ(create_page(notion, page_in(fake_notion_server::database_id,
                                        R"({"C":{"rich_text":)" + items(100, 2000) + "}}"))
              .status,
            200);

  notion.fail_with(409, "conflict_error");
  auto conflict = create_page(notion, page);
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(json_string_at(conflict.body, "/code"), "conflict_error");
  notion.stop_failing();
  EXPECT_EQ(create_page(notion, page).status, 200);
  EXPECT_EQ(notion.pages().size(), 2u);
}

TEST(fake_notion, bursts_then_429_with_whole_seconds_and_counts_early_callers) {
  notion_fake_options options;
  options.per_second = 0.01; // no refill during the test
  options.burst = 2;
  fake_notion_server notion{options};
  auto page = page_in(fake_notion_server::database_id);
  EXPECT_EQ(create_page(notion, page).status, 200);
  EXPECT_EQ(create_page(notion, page).status, 200);
  auto limited = create_page(notion, page);
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.header("Retry-After"), "100");
  EXPECT_EQ(json_string_at(limited.body, "/code"), "rate_limited");
  EXPECT_EQ(notion.early_request_count(), 0u);
  EXPECT_EQ(create_page(notion, page).status, 429);
  EXPECT_EQ(notion.early_request_count(), 1u);
  EXPECT_EQ(notion.rate_limited_count(), 2u);
  EXPECT_EQ(notion.pages().size(), 2u);
}

// -- notion_sink against the fake ------------------------------------------------

class notion_transport_fixture : public ::testing::Test {
protected:
  using work_guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

  void SetUp() override { runner_ = std::thread{[this] { io_.run(); }}; }
  void TearDown() override {
    transport_.reset();
    work_.reset();
    io_.stop();
    runner_.join();
  }

  std::future<attempt_result> start(sink_transport& transport, const delivery_job& job) {
    auto promise = std::make_shared<std::promise<attempt_result>>();
    auto future = promise->get_future();
    transport.attempt(job, [promise](attempt_result r) { promise->set_value(std::move(r)); });
    return future;
  }

  attempt_result finish(std::future<attempt_result>& future) {
    if (future.wait_for(30s) != std::future_status::ready) {
      ADD_FAILURE() << "done was not called";
      return {};
    }
    return future.get();
  }

  attempt_result attempt(sink_transport& transport, const delivery_job& job) {
    auto future = start(transport, job);
    return finish(future);
  }

  static delivery_job job(std::string content = "payment declined") {
    delivery_job j;
    j.id = "d1";
    j.event_id = "e1";
    j.topic = "feedback";
    j.key = "user-42";
    j.payload_json = std::move(content); // not JSON: the renderer below uses it as the Content text as is
    j.created_at = "2026-11-22T20:52:25.123456Z";
    return j;
  }

  static notion_sink_options options_for(const fake_notion_server& notion) {
    notion_sink_options o;
    o.api_base = *parse_url(notion.api_base());
    o.token = fake_notion_server::token;
    o.parent = {notion_parent_kind::database_id, fake_notion_server::database_id};
    o.request_timeout = millis{5000};
    o.render = [](const delivery_job& j) {
      return std::vector<notion_property>{{"Name", notion_property_type::title, j.topic + " " + j.key.value_or("")},
                                          {"Content", notion_property_type::rich_text, j.payload_json},
                                          {"Date", notion_property_type::date, j.created_at}};
    };
    return o;
  }

  boost::asio::io_context io_;
  std::optional<work_guard> work_{io_.get_executor()};
  std::thread runner_;
  std::shared_ptr<sink_transport> transport_;
};

TEST_F(notion_transport_fixture, creates_a_page_with_the_notion_headers) {
  fake_notion_server notion;
  transport_ = std::make_shared<notion_sink>(io_, options_for(notion), default_clock());
  auto r = attempt(*transport_, job());
  EXPECT_EQ(r.outcome, attempt_result::verdict::delivered) << r.error;
  EXPECT_EQ(r.http_status, 200);
  ASSERT_EQ(notion.pages().size(), 1u);
  EXPECT_EQ(notion.property_text(0, "Name"), "feedback user-42");
  EXPECT_EQ(notion.property_text(0, "Content"), "payment declined");
  EXPECT_EQ(json_string_at(notion.pages()[0], "/properties/Date/date/start"), "2026-11-22T20:52:25.123456Z");
  EXPECT_EQ(json_string_at(notion.pages()[0], "/parent/database_id"), fake_notion_server::database_id);

  auto request = notion.server().requests().at(0);
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/v1/pages");
  EXPECT_EQ(request.header("authorization"), "Bearer " + fake_notion_server::token);
  EXPECT_EQ(request.header("notion-version"), "2022-06-28");
  EXPECT_EQ(request.header("content-type"), "application/json");
}

TEST_F(notion_transport_fixture, a_data_source_parent_with_a_newer_version_and_a_base_path) {
  fake_notion_server notion;
  auto o = options_for(notion);
  o.notion_version = "2025-09-03";
  o.parent = {notion_parent_kind::data_source_id, fake_notion_server::data_source_id};
  o.render = {}; // the default: a Name title
  transport_ = std::make_shared<notion_sink>(io_, std::move(o), default_clock());
  auto r = attempt(*transport_, job());
  EXPECT_EQ(r.outcome, attempt_result::verdict::delivered) << r.error;
  EXPECT_EQ(notion.property_text(0, "Name"), "feedback user-42");
  EXPECT_EQ(notion.server().requests().at(0).header("notion-version"), "2025-09-03");

  EXPECT_EQ(notion_pages_target(*parse_url("https://api.notion.com")), "/v1/pages");
  EXPECT_EQ(notion_pages_target(*parse_url("https://proxy.example/notion/")), "/notion/v1/pages");
}

TEST_F(notion_transport_fixture, a_5000_character_content_arrives_as_3_items) {
  fake_notion_server notion;
  transport_ = std::make_shared<notion_sink>(io_, options_for(notion), default_clock());
  std::string content;
  for (int i = 0; i < 5000; ++i)
    content += static_cast<char>('a' + i % 26);
  auto r = attempt(*transport_, job(content));
  EXPECT_EQ(r.outcome, attempt_result::verdict::delivered) << r.error;
  ASSERT_EQ(notion.pages().size(), 1u);
  EXPECT_EQ(json_array_size(notion.pages()[0], "/properties/Content/rich_text"), 3);
  EXPECT_EQ(notion.property_text(0, "Content"), content);
}

TEST_F(notion_transport_fixture, a_429_storm_is_retried_after_retry_after_and_never_early) {
  // The fake's bucket runs on manual time: the test advances it instead of
  // sleeping through each Retry-After. Declared before the fake, which reads it.
  const auto start_time = std::chrono::steady_clock::now();
  std::atomic<std::chrono::steady_clock::duration> elapsed{std::chrono::steady_clock::duration::zero()};
  auto advance = [&](std::chrono::steady_clock::duration by) { elapsed.store(elapsed.load() + by); };
  notion_fake_options options;
  options.per_second = 3;
  options.burst = 2;
  options.now = [&] { return start_time + elapsed.load(); };
  fake_notion_server notion{options};
  transport_ = std::make_shared<notion_sink>(io_, options_for(notion), default_clock());

  // Five at once against a burst of two: a storm of 429s.
  std::vector<std::future<attempt_result>> storm;
  for (int i = 0; i < 5; ++i)
    storm.push_back(start(*transport_, job("storm " + std::to_string(i))));
  std::size_t delivered = 0;
  std::size_t waiting = 0;
  millis longest{0};
  for (auto& f : storm) {
    auto r = finish(f);
    if (r.outcome == attempt_result::verdict::delivered) {
      ++delivered;
      continue;
    }
    EXPECT_EQ(r.outcome, attempt_result::verdict::retry);
    EXPECT_EQ(r.http_status, 429);
    ASSERT_TRUE(r.retry_after) << r.error;
    EXPECT_GE(*r.retry_after, 1s);
    EXPECT_NE(r.error.find("rate_limited"), std::string::npos) << r.error;
    longest = std::max(longest, *r.retry_after);
    ++waiting;
  }
  EXPECT_GE(delivered, 2u); // the burst (a slow machine may see the bucket refill a third)
  EXPECT_GE(waiting, 1u);
  EXPECT_EQ(delivered + waiting, 5u);
  // The storm's requests were on the wire together, so those behind the
  // first 429 look early to the fake (it cannot tell); what counts is that
  // none comes after this.
  auto early_in_the_storm = notion.early_request_count();

  // Honour it as the sender does: nothing before retry_after, one at a time.
  advance(longest);
  for (std::size_t left = waiting; left > 0;) {
    auto r = attempt(*transport_, job("retried"));
    if (r.outcome == attempt_result::verdict::delivered) {
      --left;
      continue;
    }
    ASSERT_EQ(r.outcome, attempt_result::verdict::retry) << r.error;
    ASSERT_TRUE(r.retry_after);
    advance(*r.retry_after);
  }
  EXPECT_EQ(notion.pages().size(), 5u);
  EXPECT_GE(notion.rate_limited_count(), waiting);
  EXPECT_EQ(notion.early_request_count(), early_in_the_storm);
}

TEST_F(notion_transport_fixture, a_revoked_token_is_permanent_and_breaks_the_sink) {
  fake_notion_server notion;
  auto o = options_for(notion);
  o.token = "ntn_r3v0kEdT0kEn0123456789abcdefghijklmnopqrstuvw";
  auto token = o.token;
  transport_ = std::make_shared<notion_sink>(io_, std::move(o), default_clock());
  auto r = attempt(*transport_, job());
  EXPECT_EQ(r.outcome, attempt_result::verdict::permanent);
  EXPECT_TRUE(r.sink_broken);
  EXPECT_EQ(r.http_status, 401);
  EXPECT_EQ(r.error, "HTTP 401: API token is invalid. (Notion code unauthorized)");
  EXPECT_EQ(r.error.find(token), std::string::npos);
  EXPECT_TRUE(notion.pages().empty());
}

TEST_F(notion_transport_fixture, an_echoed_token_never_reaches_the_error) {
  fake_notion_server notion;
  // A debugging proxy that echoes the request's headers.
  notion.server().set_behaviour([](const recorded_request& request, std::size_t) {
    fake_reply reply;
    reply.status = 400;
    reply.body = "bad request; you sent Authorization: " + std::string{request.header("authorization")};
    return reply;
  });
  transport_ = std::make_shared<notion_sink>(io_, options_for(notion), default_clock());
  auto r = attempt(*transport_, job());
  EXPECT_EQ(r.outcome, attempt_result::verdict::permanent);
  EXPECT_FALSE(r.sink_broken);
  EXPECT_EQ(r.error.find(fake_notion_server::token), std::string::npos) << r.error;
  EXPECT_EQ(r.error, "HTTP 400: bad request; you sent Authorization: Bearer …");
}

TEST_F(notion_transport_fixture, an_unshared_database_breaks_the_sink) {
  fake_notion_server notion;
  auto o = options_for(notion);
  o.parent.id = "00000000-0000-0000-0000-000000000000";
  transport_ = std::make_shared<notion_sink>(io_, std::move(o), default_clock());
  auto r = attempt(*transport_, job());
  EXPECT_EQ(r.outcome, attempt_result::verdict::permanent);
  EXPECT_TRUE(r.sink_broken);
  EXPECT_EQ(r.http_status, 404);
  EXPECT_NE(r.error.find("object_not_found"), std::string::npos) << r.error;
}

} // namespace
