// Publishing from the producer's own transaction: txrelay.publish() in SQL,
// routed by txrelay after the producer's COMMIT, delivered like any event.
#include "core/standard_webhooks.hpp"
#include "persistence/event_search.hpp"
#include "persistence/outbox.hpp"
#include "pg/engine_harness.hpp"
#include "support/child_process.hpp"
#include "support/fake_sink_server.hpp"
#include "support/json_probe.hpp"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include <sys/wait.h>
#include <unistd.h>

using namespace txrelay;
using namespace txrelay::testing;

namespace {

const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

std::string publish_yaml(const std::string& url) {
  return "sinks:\n"
         "  - name: hook\n"
         "    kind: webhook\n"
         "    url: \"" + url + "\"\n"
         "    secret: \"" + secret + "\"\n"
         "    retry: {max_attempts: 5, base: 1ms, cap: 5ms}\n"
         "  - name: audit\n"
         "    kind: log\n"
         "routes:\n"
         "  - topic: user.signed_up\n"
         "    sinks: [hook, audit]\n"
         "  - topic: review.posted\n"
         "    when: payload.rating >= 4\n"
         "    sinks: [hook]\n"
         "topics:\n"
         "  review.posted:\n"
         "    payload:\n"
         "      rating: {type: integer, required: true, minimum: 1, maximum: 5}\n"
         "publish: {poll_interval: 5ms}\n";
}

/// A producer's own connection: its transactions are the application's.
class producer {
public:
  explicit producer(const std::string& url) {
    auto c = pg::connection::open(url);
    if (!c)
      throw std::runtime_error(c.error().message);
    conn_.emplace(std::move(*c));
  }

  void exec(const std::string& sql) {
    auto r = conn_->exec(sql);
    if (!r)
      throw std::runtime_error(sql + ": " + r.error().message);
  }

  /// SELECT txrelay.publish($1, $2::jsonb, $3, $4): the event id, or the error.
  result<std::string, pg::pg_error> publish(pg::param topic, pg::param payload, pg::param key = {},
                                            pg::param idempotency_key = {}) {
    auto r = conn_->exec("SELECT txrelay.publish($1, $2::jsonb, $3, $4)::text", {topic, payload, key, idempotency_key});
    if (!r)
      return unexpected{r.error()};
    return std::string{r->get(0, 0)};
  }

  std::string publish_ok(const std::string& topic, const std::string& payload, pg::param key = {},
                         pg::param idempotency_key = {}) {
    auto id = publish(topic, payload, key, idempotency_key);
    if (!id)
      throw std::runtime_error("publish failed: " + id.error().message);
    return *id;
  }

private:
  std::optional<pg::connection> conn_;
};

class publish_pgtest : public ::testing::Test {
protected:
  void SetUp() override {
    TXRELAY_REQUIRE_DATABASE();
    db = std::make_unique<test_database>();
  }

  std::string routing_of(const engine_harness& e, const std::string& event_id) {
    return json_string_at(e.get("/v1/events/" + event_id).body, "/routing").value_or("?");
  }

  std::unique_ptr<test_database> db;
};

TEST_F(publish_pgtest, a_committed_publish_is_routed_and_delivered_with_a_valid_signature) {
  fake_sink_server sink;
  engine_harness e{*db, publish_yaml(sink.url("/hooks/users"))};
  producer app{db->url()};
  app.exec("CREATE TABLE users (id bigint PRIMARY KEY, name text)");
  app.exec("BEGIN");
  app.exec("INSERT INTO users VALUES (42, 'kim')");
  auto event_id = app.publish_ok("user.signed_up", R"({"user_id": 42, "name": "kim"})", std::string_view{"user-42"});
  app.exec("COMMIT");

  ASSERT_TRUE(sink.wait_for_requests(1, std::chrono::seconds{10}));
  auto req = sink.requests().at(0);
  EXPECT_EQ(req.target, "/hooks/users");
  EXPECT_EQ(json_string_at(req.body, "/id"), event_id);
  EXPECT_EQ(json_string_at(req.body, "/topic"), "user.signed_up");
  EXPECT_EQ(json_string_at(req.body, "/key"), "user-42");
  EXPECT_EQ(json_string_at(req.body, "/payload/name"), "kim");
  auto key = decode_webhook_secret(secret);
  ASSERT_TRUE(key);
  auto msg_id = std::string{req.header("webhook-id")};
  auto ts = std::stoll(std::string{req.header("webhook-timestamp")});
  EXPECT_TRUE(verify_webhook_signature(*key, msg_id, ts, req.body, req.header("webhook-signature")));
  EXPECT_EQ(msg_id, db->scalar("SELECT id FROM txrelay.delivery_status WHERE sink = 'hook'"));

  // The same id is the one GET /v1/events/{id} knows, with both deliveries done.
  ASSERT_TRUE(eventually([&] {
    auto body = e.get("/v1/events/" + event_id).body;
    return json_string_at(body, "/deliveries/0/status") == "delivered" &&
           json_string_at(body, "/deliveries/1/status") == "delivered";
  })) << e.get("/v1/events/" + event_id).body;
  EXPECT_EQ(routing_of(e, event_id), "routed");
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.unrouted_events"), "0");
  EXPECT_NE(e.get("/metrics").body.find("txrelay_events_published_total 1\n"), std::string::npos);
  EXPECT_EQ(sink.request_count(), 1u);
}

TEST_F(publish_pgtest, a_rolled_back_transaction_publishes_nothing) {
  fake_sink_server sink;
  engine_harness e{*db, publish_yaml(sink.url())};
  producer app{db->url()};
  app.exec("BEGIN");
  auto phantom = app.publish_ok("user.signed_up", R"({"user_id": 1})");
  app.exec("ROLLBACK");
  // A committed event after it: once it is delivered, the rolled-back one
  // would have been routed too, had it existed.
  auto real = app.publish_ok("user.signed_up", R"({"user_id": 2})");
  ASSERT_TRUE(sink.wait_for_requests(1, std::chrono::seconds{10}));
  ASSERT_TRUE(eventually([&] { return routing_of(e, real) == "routed"; }));
  EXPECT_EQ(json_string_at(sink.requests().at(0).body, "/id"), real);
  EXPECT_EQ(e.get("/v1/events/" + phantom).status, 404);
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.events"), "1");
  EXPECT_EQ(sink.request_count(), 1u);
}

TEST_F(publish_pgtest, every_refused_input_raises_in_the_producer_transaction_and_stores_nothing) {
  engine_harness e{*db, publish_yaml(fake_sink_server{}.url())};
  producer app{db->url()};
  app.exec("CREATE TABLE orders (id bigint PRIMARY KEY)");
  std::string long_text(201, 'x');
  struct refused {
    const char* what;
    pg::param topic, payload, key, idempotency_key;
    const char* sqlstate;
    const char* message;
  };
  const std::vector<refused> cases = {
    {"NULL topic", std::nullopt, "{}", {}, {}, "22004", "topic must not be NULL"},
    {"empty topic", "", "{}", {}, {}, "22023", "topic must not be empty"},
    {"long topic", long_text, "{}", {}, {}, "22001", "topic is 201 characters long"},
    {"NULL payload", "user.signed_up", std::nullopt, {}, {}, "22004", "payload must not be NULL"},
    {"array payload", "user.signed_up", "[1, 2]", {}, {}, "22023", "payload must be a JSON object, got array"},
    {"string payload", "user.signed_up", "\"hi\"", {}, {}, "22023", "payload must be a JSON object, got string"},
    {"long key", "user.signed_up", "{}", long_text, {}, "22001", "key is 201 characters long"},
    {"long idempotency key", "user.signed_up", "{}", {}, long_text, "22001", "idempotency_key is 201 characters long"},
    {"control character", "user.signed_up", "{}", {}, "a\nb", "22023", "idempotency_key must not contain control characters"},
    {"empty idempotency key", "user.signed_up", "{}", {}, "", "22023", "idempotency_key must not be empty"},
    {"compensation key", "user.signed_up", "{}", {}, "on_dead:x", "22023", "idempotency_key must not start with on_dead:"},
    {"unrouted topic", "user.deleted", "{}", {}, {}, "22023", "no route for topic \"user.deleted\""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    app.exec("BEGIN");
    app.exec("INSERT INTO orders VALUES (1)");
    auto id = app.publish(c.topic, c.payload, c.key, c.idempotency_key);
    ASSERT_FALSE(id) << "published " << *id;
    EXPECT_EQ(id.error().sqlstate, c.sqlstate) << id.error().message;
    EXPECT_NE(id.error().message.find(std::string{"txrelay.publish: "} + c.message), std::string::npos)
      << id.error().message;
    // The producer's transaction is aborted: its own row goes with it.
    app.exec("ROLLBACK");
  }
  EXPECT_EQ(db->scalar("SELECT count(*) FROM orders"), "0");
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.events"), "0");
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.unrouted_events"), "0");
}

TEST_F(publish_pgtest, a_payload_that_breaks_its_schema_is_kept_as_rejected_with_the_reason) {
  fake_sink_server sink;
  engine_harness e{*db, publish_yaml(sink.url())};
  producer app{db->url()};
  auto bad = app.publish_ok("review.posted", R"({"rating": 9})");
  auto quiet = app.publish_ok("review.posted", R"({"rating": 2})"); // valid; its route's `when` fails
  auto loud = app.publish_ok("review.posted", R"({"rating": 5})");
  ASSERT_TRUE(sink.wait_for_requests(1, std::chrono::seconds{10}));
  ASSERT_TRUE(eventually([&] { return routing_of(e, bad) == "rejected"; })) << e.get("/v1/events/" + bad).body;
  auto body = e.get("/v1/events/" + bad).body;
  EXPECT_EQ(json_string_at(body, "/rejection/code"), "schema_violation") << body;
  EXPECT_EQ(json_string_at(body, "/rejection/violations/0/field"), "payload.rating") << body;
  EXPECT_EQ(json_array_size(body, "/deliveries"), 0);
  EXPECT_EQ(json_int_at(body, "/payload/rating"), 9); // kept as published
  ASSERT_TRUE(eventually([&] { return routing_of(e, quiet) == "routed"; }));
  EXPECT_EQ(json_array_size(e.get("/v1/events/" + quiet).body, "/deliveries"), 0);
  EXPECT_EQ(json_string_at(sink.requests().at(0).body, "/id"), loud);
  auto metrics = e.get("/metrics").body;
  EXPECT_NE(metrics.find("txrelay_events_rejected_total 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("txrelay_events_published_total 2\n"), std::string::npos) << metrics;
  EXPECT_EQ(sink.request_count(), 1u);
}

TEST_F(publish_pgtest, a_transaction_that_took_its_id_first_and_commits_last_is_routed) {
  fake_sink_server sink;
  engine_harness e{*db, publish_yaml(sink.url())};
  producer slow{db->url()};
  producer fast{db->url()};
  slow.exec("BEGIN");
  auto early = slow.publish_ok("user.signed_up", R"({"user_id": 1})");
  // The next id must come from a later millisecond to sort after it.
  auto ms = [&] { return db->scalar("SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint"); };
  auto first_ms = ms();
  ASSERT_TRUE(eventually([&] { return ms() != first_ms; }));
  auto late = fast.publish_ok("user.signed_up", R"({"user_id": 2})");
  ASSERT_LT(early, late);
  ASSERT_TRUE(eventually([&] { return routing_of(e, late) == "routed"; }));
  ASSERT_TRUE(sink.wait_for_requests(1, std::chrono::seconds{10}));
  slow.exec("COMMIT");
  ASSERT_TRUE(sink.wait_for_requests(2, std::chrono::seconds{10}));
  ASSERT_TRUE(eventually([&] { return routing_of(e, early) == "routed"; }));
  std::set<std::string> delivered;
  for (const auto& r : sink.requests())
    delivered.insert(*json_string_at(r.body, "/id"));
  EXPECT_EQ(delivered, (std::set<std::string>{early, late}));
  EXPECT_EQ(sink.request_count(), 2u);
}

TEST_F(publish_pgtest, an_idempotency_key_is_one_event_across_http_and_sql) {
  fake_sink_server sink;
  engine_harness e{*db, publish_yaml(sink.url())};
  producer app{db->url()};
  const std::string event = R"({"topic":"user.signed_up","payload":{"user_id":7}})";

  auto posted = e.post_event(event, {{"Idempotency-Key", "signup-7"}});
  ASSERT_EQ(posted.status, 201) << posted.body;
  auto http_id = *json_string_at(posted.body, "/id");
  EXPECT_EQ(app.publish_ok("user.signed_up", R"({"user_id": 7})", {}, std::string_view{"signup-7"}), http_id);

  auto sql_id = app.publish_ok("user.signed_up", R"({"user_id": 8})", {}, std::string_view{"signup-8"});
  EXPECT_EQ(app.publish_ok("user.signed_up", R"({"user_id": 8})", {}, std::string_view{"signup-8"}), sql_id);
  auto again = e.post_event(R"({"topic":"user.signed_up","payload":{"user_id":8}})", {{"Idempotency-Key", "signup-8"}});
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(json_string_at(again.body, "/id"), sql_id);

  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.events"), "2");
  ASSERT_TRUE(sink.wait_for_requests(2, std::chrono::seconds{10}));
  ASSERT_TRUE(eventually([&] { return routing_of(e, sql_id) == "routed"; }));
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.delivery_status WHERE sink = 'hook'"), "2");
}

TEST_F(publish_pgtest, events_published_while_txrelay_is_down_are_delivered_when_it_starts) {
  fake_sink_server sink;
  std::string first, second;
  {
    engine_harness e{*db, publish_yaml(sink.url())}; // installs the function and the topics
    e.stop();
    producer app{db->url()};
    first = app.publish_ok("user.signed_up", R"({"user_id": 1})");
    second = app.publish_ok("user.signed_up", R"({"user_id": 2})");
  }
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.unrouted_events"), "2");
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.delivery_status"), "0");
  engine_harness e{*db, publish_yaml(sink.url())};
  ASSERT_TRUE(sink.wait_for_requests(2, std::chrono::seconds{10}));
  ASSERT_TRUE(eventually([&] { return routing_of(e, second) == "routed"; }));
  EXPECT_EQ(routing_of(e, first), "routed");
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.delivery_status"), "4");
  EXPECT_EQ(sink.request_count(), 2u);
}

TEST_F(publish_pgtest, an_event_still_in_the_queue_is_found_and_keeps_its_order_among_keyed_ones) {
  fake_sink_server sink;
  std::string yaml = publish_yaml(sink.url());
  yaml.replace(yaml.find("    secret:"), 0, "    ordering: per_key\n");
  std::vector<std::string> published;
  {
    engine_harness e{*db, yaml};
    e.stop();
    producer app{db->url()};
    published.push_back(app.publish_ok("user.signed_up", R"({"n": 1})", std::string_view{"user-1"}));
    published.push_back(
      app.publish_ok("user.signed_up", R"({"n": 2})", std::string_view{"user-1"}, std::string_view{"n-2"}));
    published.push_back(app.publish_ok("user.signed_up", R"({"n": 3})", std::string_view{"user-1"}));
  }
  // Without an idempotency key an event is its queue row until routed;
  // with one, its row is stored at once (the unique index decides there).
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.unrouted_events"), "3");
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.events"), "1");

  // Found all the same, by id and by search, as not routed yet.
  auto conn = pg::connection::open(db->url());
  ASSERT_TRUE(conn);
  for (const auto& id : published) {
    auto found = pg::find_event(*conn, id);
    ASSERT_TRUE(found && *found) << id;
    EXPECT_EQ((*found)->routing, pg::routing_state::pending);
    EXPECT_EQ((*found)->topic, "user.signed_up");
    EXPECT_EQ((*found)->key, "user-1");
    EXPECT_TRUE((*found)->deliveries.empty());
  }
  EXPECT_EQ(pg::find_event(*conn, published[0]).value()->payload_json, R"({"n": 1})");
  for (auto status : {std::optional<pg::search_status>{}, std::optional{pg::search_status::pending}}) {
    pg::event_query q;
    q.key = "user-1";
    q.status = status;
    auto page = pg::search_events(*conn, q);
    ASSERT_TRUE(page) << page.error().message;
    std::vector<std::string> ids;
    for (const auto& ev : page->events) {
      ids.push_back(ev.id);
      EXPECT_EQ(ev.routing, pg::routing_state::pending);
    }
    // Newest first by id; ids made within one millisecond are in no particular order.
    auto by_id = published;
    std::sort(by_id.rbegin(), by_id.rend());
    EXPECT_EQ(ids, by_id);
  }

  // Routed in the order published, whichever way each was stored.
  engine_harness e{*db, yaml};
  ASSERT_TRUE(sink.wait_for_requests(3, std::chrono::seconds{10}));
  std::vector<std::string> arrived;
  for (const auto& r : sink.requests())
    arrived.push_back(*json_string_at(r.body, "/id"));
  EXPECT_EQ(arrived, published);
  for (const auto& id : published)
    EXPECT_EQ(routing_of(e, id), "routed");
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.events WHERE delivery_ids IS NOT NULL"), "3");
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.unrouted_events"), "0");
}

TEST_F(publish_pgtest, the_router_vacuums_its_queue) {
  fake_sink_server sink;
  engine_harness e{*db, publish_yaml(sink.url())};
  producer app{db->url()};
  // Autovacuum must not be the one that vacuums (nor hold the table when the router tries).
  db->query("ALTER TABLE txrelay.unrouted_events SET (autovacuum_enabled = false)");
  // 1,200 events no route takes (rating below 4): routed, stored, no delivery.
  app.exec("SELECT txrelay.publish('review.posted', jsonb_build_object('rating', 1, 'n', g)) "
           "FROM generate_series(1, 1200) g");
  ASSERT_TRUE(eventually([&] { return db->scalar("SELECT count(*) FROM txrelay.unrouted_events") == "0"; },
                         std::chrono::seconds{30}));
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.events WHERE delivery_ids IS NULL AND rejection IS NULL"), "1200");
  // Its claimed rows do not wait for autovacuum (once a minute at most).
  EXPECT_TRUE(eventually([&] {
    return db->scalar("SELECT vacuum_count FROM pg_stat_user_tables "
                      "WHERE schemaname = 'txrelay' AND relname = 'unrouted_events'") != "0";
  }, std::chrono::seconds{15}));
}

TEST_F(publish_pgtest, connections_cut_while_routing_lose_nothing_and_route_nothing_twice) {
  fake_sink_server sink;
  engine_harness e{*db, publish_yaml(sink.url())};
  producer app{db->url()};
  std::set<std::string> published;
  // What a PostgreSQL restart does to txrelay: every one of its connections
  // is cut, whatever it was doing (the router mid-claim, mid-insert or
  // mid-COMMIT), while the producer goes on.
  for (int i = 0; i < 300; ++i) {
    published.insert(app.publish_ok("user.signed_up", R"({"n": )" + std::to_string(i) + "}"));
    if (i % 30 == 29)
      app.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
               "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  }
  ASSERT_TRUE(eventually([&] {
    return db->scalar("SELECT count(*) FROM txrelay.unrouted_events") == "0" &&
           db->scalar("SELECT count(*) FROM txrelay.delivery_status WHERE status <> 'delivered'") == "0";
  }, std::chrono::seconds{60})) << db->scalar("SELECT count(*) FROM txrelay.unrouted_events");
  // Exactly one routing per event: one row per sink, and every event reached the webhook.
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.delivery_status"), std::to_string(2 * published.size()));
  std::set<std::string> received;
  for (const auto& r : sink.requests())
    received.insert(*json_string_at(r.body, "/id"));
  EXPECT_EQ(received, published);
}

TEST_F(publish_pgtest, an_event_that_cannot_be_routed_is_rejected_and_does_not_hold_up_the_rest) {
  fake_sink_server sink;
  std::string poisoned, fine;
  {
    engine_harness e{*db, publish_yaml(sink.url())};
    e.stop();
    producer app{db->url()};
    poisoned = app.publish_ok("user.signed_up", R"({"user_id": 1})");
    fine = app.publish_ok("user.signed_up", R"({"user_id": 2})");
    // A constraint the router's write of this one event breaks: the
    // database refuses its routing, every time.
    db->query("ALTER TABLE txrelay.events ADD CONSTRAINT poisoned "
              "CHECK (delivery_ids IS NULL OR id <> '" + poisoned + "')");
  }
  engine_harness e{*db, publish_yaml(sink.url())};
  ASSERT_TRUE(eventually([&] { return routing_of(e, poisoned) == "rejected"; }))
    << e.get("/v1/events/" + poisoned).body;
  EXPECT_EQ(json_string_at(e.get("/v1/events/" + poisoned).body, "/rejection/code"), "routing_failed");
  ASSERT_TRUE(eventually([&] { return routing_of(e, fine) == "routed"; }));
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.unrouted_events"), "0");
  auto body = e.get("/v1/events/" + poisoned).body;
  // The reason is the primary message only: DETAIL lines quote row values.
  EXPECT_EQ(body.find("DETAIL"), std::string::npos) << body;
}

TEST_F(publish_pgtest, an_in_transaction_projection_runs_when_routed_and_a_failure_rejects_the_event) {
  producer app{db->url()};
  app.exec("CREATE TABLE profiles (user_id bigint PRIMARY KEY)");
  engine_harness e{*db, "sinks:\n"
                        "  - name: profile\n"
                        "    kind: sql\n"
                        "    phase: in_transaction\n"
                        "    statement: INSERT INTO profiles (user_id) VALUES ($payload.user_id::bigint)\n"
                        "routes:\n"
                        "  - topic: user.signed_up\n"
                        "    sinks: [profile]\n"
                        "publish: {poll_interval: 5ms}\n"};
  auto first = app.publish_ok("user.signed_up", R"({"user_id": 1})");
  auto duplicate = app.publish_ok("user.signed_up", R"({"user_id": 1})"); // violates the primary key
  auto other = app.publish_ok("user.signed_up", R"({"user_id": 2})");
  ASSERT_TRUE(eventually([&] { return routing_of(e, other) == "routed"; })) << e.get("/v1/events/" + other).body;
  EXPECT_EQ(routing_of(e, first), "routed");
  auto body = e.get("/v1/events/" + duplicate).body;
  EXPECT_EQ(json_string_at(body, "/routing"), "rejected") << body;
  EXPECT_EQ(json_string_at(body, "/rejection/code"), "projection_failed") << body;
  EXPECT_EQ(json_array_size(body, "/deliveries"), 0) << body;
  EXPECT_EQ(db->scalar("SELECT string_agg(user_id::text, ',' ORDER BY user_id) FROM profiles"), "1,2");
  EXPECT_EQ(json_string_at(e.get("/v1/events/" + first).body, "/deliveries/0/status"), "delivered");
}

TEST_F(publish_pgtest, the_application_role_may_publish_and_nothing_else) {
  auto role = db->name() + "_app";
  auto lurker = db->name() + "_other";
  struct drop_roles {
    std::vector<std::string> names;
    std::unique_ptr<test_database>* db;
    ~drop_roles() {
      db->reset(); // the database holds the grants: drop it first
      auto admin = pg::connection::open(test_server_url());
      for (const auto& n : names)
        if (admin)
          admin->exec("DROP ROLE IF EXISTS " + n);
    }
  } cleanup{{role, lurker}, &db};
  engine_harness e{*db, publish_yaml(fake_sink_server{}.url())};
  db->query("CREATE ROLE " + role + " LOGIN");
  db->query("CREATE ROLE " + lurker + " LOGIN");
  db->query("GRANT USAGE ON SCHEMA txrelay TO " + role + ", " + lurker);
  db->query("GRANT EXECUTE ON FUNCTION txrelay.publish(text, jsonb, text, text) TO " + role);

  auto as = [&](const std::string& user) { return db->url() + " user=" + user; }; // the last user= wins
  producer app{as(role)};
  auto id = app.publish_ok("user.signed_up", R"({"user_id": 1})");
  // Routed by now or not: the view has it either way.
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.event_log WHERE id = '" + id + "'"), "1");

  const std::vector<std::string> forbidden = {
    "SELECT * FROM txrelay.events",
    "SELECT * FROM txrelay.event_log",
    "SELECT * FROM txrelay.deliveries",
    "SELECT * FROM txrelay.pending_deliveries",
    "SELECT * FROM txrelay.delivery_status",
    "SELECT * FROM txrelay.unrouted_events",
    "SELECT * FROM txrelay.topics",
    "SELECT * FROM txrelay.schema_migrations",
    "INSERT INTO txrelay.events (id, topic, payload, created_at) VALUES (gen_random_uuid(), 'x', '{}', now())",
    "INSERT INTO txrelay.unrouted_events (event_id) VALUES (gen_random_uuid())",
    "INSERT INTO txrelay.topics VALUES ('anything')",
    "UPDATE txrelay.deliveries SET status = 'dead'",
    "DELETE FROM txrelay.events",
    "TRUNCATE txrelay.deliveries",
    "CREATE TABLE txrelay.mine (x int)",
  };
  for (const auto& sql : forbidden) {
    SCOPED_TRACE(sql);
    auto conn = pg::connection::open(as(role));
    ASSERT_TRUE(conn);
    auto r = conn->exec(sql);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().sqlstate, "42501") << r.error().message; // insufficient_privilege
  }
  // EXECUTE is not granted to PUBLIC: a role without the grant cannot publish.
  producer other{as(lurker)};
  auto refused = other.publish("user.signed_up", "{}");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().sqlstate, "42501") << refused.error().message;
}

} // namespace

// The plain-JDBC example of docs/publishing.md, compiled and run for real
// (Debian's openjdk-17-jdk-headless and libpostgresql-jdbc-java).
namespace {

const char* jdbc_driver = "/usr/share/java/postgresql.jar";

/// jdbc:postgresql://host:port/db?user=... from a libpq connection string.
std::string jdbc_url(const std::string& conninfo) {
  char* err = nullptr;
  std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> opts{PQconninfoParse(conninfo.c_str(), &err),
                                                                      PQconninfoFree};
  if (!opts)
    throw std::runtime_error("unparseable connection string");
  std::map<std::string, std::string> v;
  for (auto* o = opts.get(); o->keyword; ++o)
    if (o->val && *o->val)
      v[o->keyword] = o->val;
  auto url = "jdbc:postgresql://" + v["host"] + ":" + (v.count("port") ? v["port"] : "5432") + "/" + v["dbname"] +
             "?user=" + v["user"];
  if (v.count("password"))
    url += "&password=" + v["password"];
  return url;
}

/// Runs a program to its end; its exit status and output lines.
std::pair<int, std::vector<std::string>> run(std::vector<std::string> argv) {
  child_process proc{std::move(argv)};
  int status = proc.wait();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, proc.lines()};
}

std::string joined(const std::vector<std::string>& lines) {
  std::string all;
  for (const auto& l : lines)
    all += l + "\n";
  return all;
}

} // namespace

TEST_F(publish_pgtest, the_plain_jdbc_example_delivers_its_committed_event_and_not_its_rolled_back_one) {
  if (::access("/usr/bin/javac", X_OK) != 0 || ::access(jdbc_driver, R_OK) != 0) {
    if (const char* ci = std::getenv("CI"); ci && std::string(ci) == "true")
      FAIL() << "javac or the PostgreSQL JDBC driver is missing under CI (scripts/deps.sh installs them)";
    GTEST_SKIP() << "javac or " << jdbc_driver << " missing (scripts/deps.sh installs them)";
  }
  fake_sink_server sink;
  engine_harness e{*db, publish_yaml(sink.url())};

  auto classes = ::testing::TempDir() + "txrelay-jdbc-" + db->name();
  std::filesystem::create_directories(classes);
  auto [compiled, javac_out] = run({"/usr/bin/javac", "-d", classes,
                                    std::string{TXRELAY_SOURCE_DIR} + "/examples/jdbc/PublishExample.java"});
  ASSERT_EQ(compiled, 0) << joined(javac_out);
  auto [status, out] = run({"/usr/bin/java", "-cp", std::string{jdbc_driver} + ":" + classes, "PublishExample",
                            jdbc_url(db->url())});
  std::filesystem::remove_all(classes);
  ASSERT_EQ(status, 0) << joined(out);

  std::string committed, rolled_back;
  for (const auto& line : out) {
    if (line.rfind("committed ", 0) == 0)
      committed = line.substr(10);
    if (line.rfind("rolled back ", 0) == 0)
      rolled_back = line.substr(12);
  }
  ASSERT_FALSE(committed.empty()) << joined(out);
  ASSERT_FALSE(rolled_back.empty()) << joined(out);

  ASSERT_TRUE(sink.wait_for_requests(1, std::chrono::seconds{10}));
  ASSERT_TRUE(eventually([&] { return routing_of(e, committed) == "routed"; }));
  EXPECT_EQ(json_string_at(sink.requests().at(0).body, "/id"), committed);
  EXPECT_EQ(json_string_at(sink.requests().at(0).body, "/payload/email"), "kim@example.com");
  EXPECT_EQ(e.get("/v1/events/" + rolled_back).status, 404);
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.events"), "1");
  EXPECT_EQ(db->scalar("SELECT string_agg(email, ',') FROM signups"), "kim@example.com");
  EXPECT_EQ(sink.request_count(), 1u);
}
