// What an operator reads to answer "why did this event not arrive?": each
// failed attempt and the last one with the sink's answer (redacted), events
// found by topic, key, status, sink and time a page at a time, and the
// plans that keep those searches on indexes at millions of rows.
#include "pg/engine_harness.hpp"
#include "pg/migrated_database.hpp"
#include "persistence/event_search.hpp"
#include "support/fake_sink_server.hpp"
#include "support/json_probe.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace txrelay;
using namespace txrelay::testing;

namespace {

class operator_history_pgtest : public ::testing::Test {
protected:
  void SetUp() override {
    TXRELAY_REQUIRE_DATABASE();
    db = std::make_unique<test_database>();
  }

  long long scalar_int(const std::string& sql) const { return std::stoll(db->scalar(sql)); }

  std::unique_ptr<test_database> db;
};

std::string event_id_of(const test_response& r) { return json_string_at(r.body, "/id").value_or(""); }

TEST_F(operator_history_pgtest, failed_attempts_and_the_last_are_kept_with_the_answer_redacted) {
  // Two failures that echo a bearer token, then a success.
  fake_sink_server flaky{[](const recorded_request&, std::size_t n) {
    fake_reply r;
    r.status = n < 2 ? 500 : 204;
    if (n < 2)
      r.body = R"({"error":"database is down","auth":"Bearer sk_live_0123456789abcdef"})";
    return r;
  }};
  // A sink that refuses everything with a long answer.
  fake_sink_server refusing{[](const recorded_request&, std::size_t) {
    fake_reply r;
    r.status = 422;
    r.body = std::string(3000, 'x');
    return r;
  }};
  fake_sink_server fine;
  engine_harness e{*db, "sinks:\n"
                        "  - {name: flaky, kind: webhook, url: \"" + flaky.url() + "\", max_in_flight: 1,\n"
                        "     retry: {max_attempts: 5, base: 1ms, cap: 2ms}}\n"
                        "  - {name: refusing, kind: webhook, url: \"" + refusing.url() + "\", retry: {max_attempts: 1}}\n"
                        "  - {name: fine, kind: webhook, url: \"" + fine.url() + "\"}\n"
                        "routes:\n"
                        "  - {topic: t, sinks: [flaky]}\n"
                        "  - {topic: r, sinks: [refusing]}\n"
                        "  - {topic: f, sinks: [fine]}\n"};
  auto retried = event_id_of(e.post_event(R"({"topic":"t","payload":{"n":1}})"));
  auto refused = event_id_of(e.post_event(R"({"topic":"r","payload":{"n":2}})"));
  auto first_time = event_id_of(e.post_event(R"({"topic":"f","payload":{"n":3}})"));
  ASSERT_TRUE(eventually([&] {
    return scalar_int("SELECT count(*) FROM txrelay.delivery_status WHERE status = 'pending'") == 0;
  }));

  auto body = e.get("/v1/events/" + retried).body;
  ASSERT_EQ(json_array_size(body, "/deliveries/0/attempt_history"), 3) << body;
  for (int i = 0; i < 2; ++i) {
    auto at = "/deliveries/0/attempt_history/" + std::to_string(i);
    EXPECT_EQ(json_int_at(body, at + "/attempt"), i + 1);
    EXPECT_EQ(json_string_at(body, at + "/outcome"), "retry");
    EXPECT_EQ(json_int_at(body, at + "/http_status"), 500);
    EXPECT_EQ(json_string_at(body, at + "/error_class"), "status");
    auto excerpt = json_string_at(body, at + "/response_excerpt").value_or("");
    EXPECT_NE(excerpt.find("database is down"), std::string::npos) << excerpt;
    EXPECT_EQ(excerpt.find("sk_live_0123456789abcdef"), std::string::npos) << "a bearer token was stored: " << excerpt;
    EXPECT_TRUE(json_int_at(body, at + "/duration_ms").has_value());
    EXPECT_TRUE(json_string_at(body, at + "/at").has_value());
  }
  EXPECT_EQ(json_string_at(body, "/deliveries/0/attempt_history/2/outcome"), "delivered");
  EXPECT_EQ(json_int_at(body, "/deliveries/0/attempt_history/2/http_status"), 204);
  EXPECT_TRUE(json_is_null_at(body, "/deliveries/0/attempt_history/2/error_class"));
  EXPECT_TRUE(json_is_null_at(body, "/deliveries/0/attempt_history/2/response_excerpt"));

  body = e.get("/v1/events/" + refused).body;
  ASSERT_EQ(json_array_size(body, "/deliveries/0/attempt_history"), 1) << body;
  EXPECT_EQ(json_string_at(body, "/deliveries/0/attempt_history/0/outcome"), "dead");
  EXPECT_EQ(json_int_at(body, "/deliveries/0/attempt_history/0/http_status"), 422);
  EXPECT_EQ(json_string_at(body, "/deliveries/0/attempt_history/0/response_excerpt"), std::string(1024, 'x'));

  // The common path writes nothing: a first attempt's success has no history.
  body = e.get("/v1/events/" + first_time).body;
  EXPECT_EQ(json_array_size(body, "/deliveries/0/attempt_history"), 0) << body;
  EXPECT_EQ(scalar_int("SELECT count(*) FROM txrelay.delivery_attempts WHERE event_id = '" + first_time + "'"), 0);

  // Retention deletes an event's attempts with it.
  db->query("DELETE FROM txrelay.events WHERE id = '" + retried + "'");
  EXPECT_EQ(scalar_int("SELECT count(*) FROM txrelay.delivery_attempts WHERE event_id = '" + retried + "'"), 0);
}

TEST_F(operator_history_pgtest, a_replayed_delivery_keeps_its_earlier_attempts_and_adds_the_last) {
  std::atomic<bool> up{false};
  fake_sink_server sink{[&](const recorded_request&, std::size_t) {
    fake_reply r;
    r.status = up ? 204 : 400;
    r.body = up ? "" : "no such channel";
    return r;
  }};
  engine_harness e{*db, "sinks:\n"
                        "  - {name: hook, kind: webhook, url: \"" + sink.url() + "\", retry: {max_attempts: 2, base: 1ms, cap: 2ms}}\n"
                        "routes:\n"
                        "  - {topic: t, sinks: [hook]}\n"};
  auto id = event_id_of(e.post_event(R"({"topic":"t","payload":{}})"));
  ASSERT_TRUE(eventually([&] {
    return json_string_at(e.get("/v1/events/" + id).body, "/deliveries/0/status") == "dead";
  })) << e.get("/v1/events/" + id).body << e.get("/v1/sinks").body;
  up = true;
  ASSERT_EQ(post_json(e.port(), "/v1/events/" + id + "/replay", "").status, 200);
  ASSERT_TRUE(eventually([&] {
    return json_string_at(e.get("/v1/events/" + id).body, "/deliveries/0/status") == "delivered";
  }));
  auto body = e.get("/v1/events/" + id).body;
  ASSERT_EQ(json_array_size(body, "/deliveries/0/attempt_history"), 3) << body;
  EXPECT_EQ(json_string_at(body, "/deliveries/0/attempt_history/0/outcome"), "retry");
  EXPECT_EQ(json_string_at(body, "/deliveries/0/attempt_history/1/outcome"), "dead");
  EXPECT_EQ(json_string_at(body, "/deliveries/0/attempt_history/1/response_excerpt"), "no such channel");
  EXPECT_EQ(json_string_at(body, "/deliveries/0/attempt_history/2/outcome"), "delivered");
  EXPECT_EQ(json_int_at(body, "/deliveries/0/attempt_history/2/attempt"), 1) << "a replay counts its attempts again";
}

// The ids of the events on every page of `query` (a GET /v1/events target
// without cursor), following next; each page at most `limit`.
std::vector<std::string> all_pages(const engine_harness& e, const std::string& query, int limit) {
  std::vector<std::string> ids;
  std::string cursor;
  for (int page = 0; page < 100; ++page) {
    auto target = "/v1/events?" + query + (query.empty() ? "" : "&") + "limit=" + std::to_string(limit) + cursor;
    auto r = e.get(target);
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
    auto n = json_array_size(r.body, "/events");
    EXPECT_LE(n, limit);
    for (int i = 0; i < n; ++i)
      ids.push_back(json_string_at(r.body, "/events/" + std::to_string(i) + "/id").value_or(""));
    if (json_is_null_at(r.body, "/next"))
      return ids;
    cursor = "&cursor=" + json_string_at(r.body, "/next").value_or("");
  }
  ADD_FAILURE() << "more than 100 pages";
  return ids;
}

TEST_F(operator_history_pgtest, events_are_found_by_topic_key_status_sink_and_time_newest_first_a_page_at_a_time) {
  fake_sink_server ok;
  fake_sink_server bad{[](const recorded_request&, std::size_t) { return fake_reply{400, {}, "nope", false}; }};
  engine_harness e{*db, "sinks:\n"
                        "  - {name: ok, kind: webhook, url: \"" + ok.url() + "\"}\n"
                        "  - {name: bad, kind: webhook, url: \"" + bad.url() + "\", retry: {max_attempts: 1}}\n"
                        "routes:\n"
                        "  - {topic: a, sinks: [ok]}\n"
                        "  - {topic: b, sinks: [ok, bad]}\n"};
  std::vector<std::string> a_ids, b_ids, all;
  for (int i = 0; i < 7; ++i) {
    bool b = i % 3 == 0;
    auto r = e.post_event(std::string{R"({"topic":")"} + (b ? "b" : "a") + R"(","key":"k)" + std::to_string(i % 2) +
                          R"(","payload":{"i":)" + std::to_string(i) + "}}");
    ASSERT_EQ(r.status, 201) << r.body;
    (b ? b_ids : a_ids).push_back(event_id_of(r));
    all.push_back(event_id_of(r));
  }
  ASSERT_TRUE(eventually([&] {
    return scalar_int("SELECT count(*) FROM txrelay.delivery_status WHERE status = 'pending'") == 0;
  }));
  auto newest_first = [](std::vector<std::string> v) {
    std::reverse(v.begin(), v.end());
    return v;
  };

  EXPECT_EQ(all_pages(e, "", 2), newest_first(all)); // every page, in order, none twice
  EXPECT_EQ(all_pages(e, "topic=a", 50), newest_first(a_ids));
  EXPECT_EQ(all_pages(e, "status=dead", 50), newest_first(b_ids));
  EXPECT_EQ(all_pages(e, "sink=bad", 1), newest_first(b_ids));
  EXPECT_TRUE(all_pages(e, "status=dead&sink=ok", 50).empty());
  EXPECT_EQ(all_pages(e, "status=delivered&sink=ok", 50), newest_first(all));
  EXPECT_TRUE(all_pages(e, "status=pending", 50).empty());
  EXPECT_TRUE(all_pages(e, "status=rejected", 50).empty());
  auto k1 = all_pages(e, "key=k1", 50);
  EXPECT_EQ(k1.size(), 3u);
  for (const auto& id : k1)
    EXPECT_EQ(json_string_at(e.get("/v1/events/" + id).body, "/key"), "k1");
  EXPECT_EQ(all_pages(e, "topic=b&key=k0", 50).size(), 2u); // i = 0 and 6
  EXPECT_EQ(all_pages(e, "since=2000-01-01T00:00:00Z&until=2199-01-01T00:00:00Z", 3), newest_first(all));
  EXPECT_TRUE(all_pages(e, "since=2199-01-01T00:00:00Z", 50).empty());
  EXPECT_TRUE(all_pages(e, "until=2000-01-01T00:00:00Z", 50).empty());

  // What a page says of each event: its deliveries and their state.
  auto page = e.get("/v1/events?topic=b&limit=1").body;
  EXPECT_EQ(json_array_size(page, "/events/0/deliveries"), 2) << page;
  EXPECT_EQ(json_string_at(page, "/events/0/routing"), "routed");
  EXPECT_FALSE(json_raw_at(page, "/events/0/payload").has_value()) << "a page carries no payloads";

  for (const char* bad_query : {"status=lost", "limit=0", "limit=501", "limit=ten", "cursor=zzz",
                                "since=yesterday", "until=2026-13-01T00:00:00Z", "until=2999-01-01T00:00:00Z", "topic=", "key=a%00b",
                                "topic=%ff", "sink="}) {
    auto r = e.get(std::string{"/v1/events?"} + bad_query);
    EXPECT_EQ(r.status, 400) << bad_query << ": " << r.body;
    EXPECT_EQ(json_string_at(r.body, "/error/code"), "invalid_query") << bad_query;
  }
}

// The plans of every kind of search over enough rows that the planner would
// rather scan than use a poor index: each must read through the index that
// docs/architecture.md names for it, and none may scan every event.
class event_search_plan_pgtest : public migrated_database_test {};

TEST_F(event_search_plan_pgtest, every_filter_is_served_by_an_index) {
  // 200,000 events over 50 topics (and one in a thousand of a rare one) and
  // 20,000 keys, each with one delivery to
  // sink a or b; a few dead, pending, unrouted and rejected, as in life.
  ASSERT_TRUE(conn->exec(R"sql(
INSERT INTO txrelay.events (id, topic, key, payload, created_at, delivery_ids, delivery_sinks)
SELECT (lpad(to_hex(1764547200000 + i), 12, '0') || '7000' || '8000' || lpad(to_hex(i), 12, '0'))::uuid,
       CASE WHEN i % 1000 = 0 THEN 'rare' ELSE 'topic-' || (i % 50) END, CASE WHEN i % 10 = 0 THEN NULL ELSE 'key-' || (i % 20000) END, '{}',
       to_timestamp((1764547200000 + i) / 1000.0),
       ARRAY[(lpad(to_hex(1764547200000 + i), 12, '0') || '7000' || '9000' || lpad(to_hex(i), 12, '0'))::uuid],
       ARRAY[CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END]
FROM generate_series(1, 200000) AS i;
INSERT INTO txrelay.deliveries (event_id, sink, id, status, attempts, next_attempt_at, created_at, updated_at)
SELECT e.id, e.delivery_sinks[1], e.delivery_ids[1], 'dead', 3, now(), now(), now()
FROM txrelay.events e WHERE right(e.id::text, 3) = '3e8';
INSERT INTO txrelay.pending_deliveries (sink, id, event_id)
SELECT e.delivery_sinks[1], e.delivery_ids[1], e.id FROM txrelay.events e WHERE right(e.id::text, 3) = '7d0';
UPDATE txrelay.events SET rejection = '{}', delivery_ids = NULL, delivery_sinks = NULL
 WHERE right(id::text, 3) = 'bb8';
ANALYZE txrelay.events; ANALYZE txrelay.deliveries; ANALYZE txrelay.pending_deliveries;
)sql"));
  struct expectation {
    const char* what;
    pg::event_query query;
    std::vector<std::string> indexes; // each must appear in the plan
  };
  auto q = [](auto&& set) {
    pg::event_query query;
    set(query);
    return query;
  };
  const std::vector<expectation> cases = {
    {"newest first", q([](auto&) {}), {"events_pkey"}},
    {"a cursor", q([](auto& x) { x.before_id = "019ad8b0-0000-7000-8000-000000010000"; }), {"events_pkey"}},
    // A common topic is found as fast by the newest events: either plan is fine.
    {"a rare topic", q([](auto& x) { x.topic = "rare"; }), {"events_topic"}},
    {"a key", q([](auto& x) { x.key = "key-42"; }), {"events_key"}},
    {"a topic and a key", q([](auto& x) { x.topic = "topic-7"; x.key = "key-57"; }), {"events_key"}},
    {"rejected", q([](auto& x) { x.status = pg::search_status::rejected; }), {"events_rejected"}},
    {"dead", q([](auto& x) { x.status = pg::search_status::dead; }), {"events_pkey"}},
    {"dead at a sink", q([](auto& x) { x.status = pg::search_status::dead; x.sinks = {"a"}; }), {"events_pkey"}},
    {"pending", q([](auto& x) { x.status = pg::search_status::pending; }), {"events_pkey"}},
    {"pending at a sink", q([](auto& x) { x.status = pg::search_status::pending; x.sinks = {"b"}; }),
     {"events_pkey"}},
    {"a day", q([](auto& x) {
       x.since = time_point{std::chrono::milliseconds{1764547200000 + 50'000}};
       x.until = time_point{std::chrono::milliseconds{1764547200000 + 60'000}};
     }),
     {"events_pkey"}},
  };
  for (const auto& c : cases) {
    auto st = pg::event_search_statement(c.query);
    auto plan = conn->exec("EXPLAIN " + st.sql, pg::params_of(st.params));
    ASSERT_TRUE(plan) << c.what << ": " << plan.error().message;
    std::string text;
    for (int r = 0; r < plan->rows(); ++r)
      text += std::string{plan->get(r, 0)} + "\n";
    EXPECT_EQ(text.find("Seq Scan on events"), std::string::npos) << c.what << " scans every event:\n" << text;
    for (const auto& index : c.indexes)
      EXPECT_NE(text.find(index), std::string::npos) << c.what << " does not use " << index << ":\n" << text;
  }
  // And the answers are right at that size: a page of a topic, newest first.
  pg::event_query topic;
  topic.topic = "topic-7";
  topic.limit = 3;
  auto page = pg::search_events(*conn, topic);
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->events.size(), 3u);
  EXPECT_GT(page->events[0].id, page->events[1].id);
  EXPECT_TRUE(page->next.has_value());
  for (const auto& ev : page->events)
    EXPECT_EQ(ev.topic, "topic-7");
}

} // namespace
