// The spine end to end, in-process: HTTP in, PostgreSQL commit, sender out to
// a fake webhook server over loopback, outcomes recorded.
#include "core/standard_webhooks.hpp"
#include "pg/engine_harness.hpp"
#include "sinks/sink_transport.hpp"
#include "support/fake_sink_server.hpp"
#include "support/json_probe.hpp"
#include "support/test_tls.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

using namespace txrelay;
using namespace txrelay::testing;

namespace {

// Known-good secret from the Standard Webhooks test vectors.
const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

std::string webhook_yaml(const std::string& url, int max_attempts = 5) {
  return "sinks:\n"
         "  - name: hook\n"
         "    kind: webhook\n"
         "    url: \"" + url + "\"\n"
         "    secret: \"" + secret + "\"\n"
         "    timeout: 2s\n"
         "    retry: {max_attempts: " + std::to_string(max_attempts) + ", base: 1ms, cap: 5ms}\n"
         "  - name: audit\n"
         "    kind: log\n"
         "routes:\n"
         "  - topic: feedback\n"
         "    sinks: [hook, audit]\n";
}

const std::string feedback =
  R"({"topic":"feedback","key":"user-42","payload":{"user_id":42,"user_name":"kim","content":"the \"app\" is great"}})";

class delivery_pgtest : public ::testing::Test {
protected:
  void SetUp() override {
    TXRELAY_REQUIRE_DATABASE();
    db = std::make_unique<test_database>();
  }

  std::string delivery_status(const engine_harness& e, const std::string& event_id, const std::string& sink) {
    auto res = e.get("/v1/events/" + event_id);
    for (int i = 0; i < json_array_size(res.body, "/deliveries"); ++i) {
      auto p = "/deliveries/" + std::to_string(i);
      if (json_string_at(res.body, p + "/sink") == sink)
        return json_string_at(res.body, p + "/status").value_or("?") + ":" +
               std::to_string(json_int_at(res.body, p + "/attempts").value_or(-1));
    }
    return "missing";
  }

  std::unique_ptr<test_database> db;
};

TEST_F(delivery_pgtest, accepted_event_is_committed_then_delivered_with_a_valid_signature) {
  fake_sink_server sink;
  engine_harness e{*db, webhook_yaml(sink.url("/hooks/feedback"))};

  auto res = e.post_event(feedback);
  ASSERT_EQ(res.status, 201) << res.body;
  auto event_id = json_string_at(res.body, "/id");
  ASSERT_TRUE(event_id);
  EXPECT_EQ(json_string_at(res.body, "/topic"), "feedback");
  ASSERT_EQ(json_array_size(res.body, "/deliveries"), 2);
  // 201 means committed: the rows are there the moment the client has the answer.
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.events WHERE id = '" + *event_id + "'"), "1");
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.delivery_status WHERE event_id = '" + *event_id + "'"), "2");

  ASSERT_TRUE(sink.wait_for_requests(1, std::chrono::seconds{10}));
  auto req = sink.requests().at(0);
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/hooks/feedback");
  EXPECT_EQ(req.header("content-type"), "application/json");
  EXPECT_EQ(json_string_at(req.body, "/id"), event_id);
  EXPECT_EQ(json_string_at(req.body, "/topic"), "feedback");
  EXPECT_EQ(json_string_at(req.body, "/key"), "user-42");
  EXPECT_EQ(json_string_at(req.body, "/payload/content"), "the \"app\" is great");
  auto msg_id = std::string{req.header("webhook-id")};
  auto ts = std::stoll(std::string{req.header("webhook-timestamp")});
  EXPECT_LT(std::abs(ts - std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count()), 300);
  auto key = decode_webhook_secret(secret);
  ASSERT_TRUE(key);
  EXPECT_TRUE(verify_webhook_signature(*key, msg_id, ts, req.body, req.header("webhook-signature")));
  EXPECT_EQ(msg_id, db->scalar("SELECT id FROM txrelay.delivery_status WHERE sink = 'hook'"));

  ASSERT_TRUE(eventually([&] { return delivery_status(e, *event_id, "hook") == "delivered:1"; }))
    << e.get("/v1/events/" + *event_id).body;
  ASSERT_TRUE(eventually([&] { return delivery_status(e, *event_id, "audit") == "delivered:1"; }));
}

TEST_F(delivery_pgtest, a_sink_failing_three_times_is_delivered_on_attempt_four_with_the_same_id) {
  fake_sink_server sink{[](const recorded_request&, std::size_t n) {
    fake_reply r;
    r.status = n < 3 ? 500 : 204;
    return r;
  }};
  engine_harness e{*db, webhook_yaml(sink.url())};
  auto res = e.post_event(feedback);
  ASSERT_EQ(res.status, 201);
  auto event_id = *json_string_at(res.body, "/id");
  ASSERT_TRUE(eventually([&] { return delivery_status(e, event_id, "hook") == "delivered:4"; }))
    << e.get("/v1/events/" + event_id).body;
  auto reqs = sink.requests();
  ASSERT_EQ(reqs.size(), 4u);
  for (const auto& r : reqs)
    EXPECT_EQ(r.header("webhook-id"), reqs[0].header("webhook-id"));
  EXPECT_EQ(db->scalar("SELECT last_status FROM txrelay.delivery_status WHERE sink = 'hook'"), "204");
}

TEST_F(delivery_pgtest, a_sink_that_always_fails_ends_dead_after_max_attempts) {
  fake_sink_server sink{[](const recorded_request&, std::size_t) {
    fake_reply r;
    r.status = 503;
    return r;
  }};
  engine_harness e{*db, webhook_yaml(sink.url(), 3)};
  auto res = e.post_event(feedback);
  ASSERT_EQ(res.status, 201);
  auto event_id = *json_string_at(res.body, "/id");
  ASSERT_TRUE(eventually([&] { return delivery_status(e, event_id, "hook") == "dead:3"; }))
    << e.get("/v1/events/" + event_id).body;
  EXPECT_EQ(sink.request_count(), 3u);
  auto body = e.get("/v1/events/" + event_id).body;
  EXPECT_NE(body.find("HTTP 503"), std::string::npos) << body;
  EXPECT_EQ(db->scalar("SELECT last_error FROM txrelay.delivery_status WHERE sink = 'hook'"), "HTTP 503");
  // The other sink of the same event is unaffected.
  EXPECT_TRUE(eventually([&] { return delivery_status(e, event_id, "audit") == "delivered:1"; }));
  auto metrics = e.get("/metrics").body;
  EXPECT_NE(metrics.find("txrelay_sink_dead_total{sink=\"hook\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("txrelay_sink_failed_attempts_total{sink=\"hook\"} 3"), std::string::npos);
}

TEST_F(delivery_pgtest, a_request_stuck_on_a_lock_does_not_hold_up_the_others) {
  fake_sink_server sink;
  engine_harness e{*db, webhook_yaml(sink.url())};
  // An outside session holds the Idempotency-Key "held" in an open
  // transaction: an ingest with that key waits on the unique index.
  auto outside = pg::connection::open(db->url());
  ASSERT_TRUE(outside);
  ASSERT_TRUE(outside->exec("BEGIN"));
  ASSERT_TRUE(outside->exec("INSERT INTO txrelay.events (id, topic, payload, idempotency_key, created_at) "
                            "VALUES (gen_random_uuid(), 'feedback', '{}', 'held', now())"));
  std::atomic<bool> stuck_answered{false};
  test_response stuck_res;
  std::thread stuck([&] {
    stuck_res = e.post_event(feedback, {{"Idempotency-Key", "held"}});
    stuck_answered = true;
  });
  ASSERT_TRUE(eventually([&] {
    return db->scalar("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()") == "1";
  }));
  // The other writer takes this one while the first waits on the lock.
  auto other = e.post_event(feedback);
  EXPECT_EQ(other.status, 201) << other.body;
  EXPECT_FALSE(stuck_answered.load()) << "the second request was answered only after the stuck one gave up";
  ASSERT_TRUE(outside->exec("ROLLBACK"));
  stuck.join();
  EXPECT_EQ(stuck_res.status, 201) << stuck_res.body;
}

TEST_F(delivery_pgtest, a_repeated_idempotency_key_returns_the_original_event) {
  fake_sink_server sink;
  engine_harness e{*db, webhook_yaml(sink.url())};
  auto first = e.post_event(feedback, {{"Idempotency-Key", "7f1c-abc"}});
  ASSERT_EQ(first.status, 201);
  auto second = e.post_event(feedback, {{"Idempotency-Key", "7f1c-abc"}});
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(json_string_at(second.body, "/id"), json_string_at(first.body, "/id"));
  EXPECT_EQ(json_raw_at(second.body, "/deliveries"), json_raw_at(first.body, "/deliveries"));
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.events"), "1");
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.delivery_status"), "2");
  auto other = e.post_event(feedback, {{"Idempotency-Key", "another"}});
  EXPECT_EQ(other.status, 201);
}

TEST_F(delivery_pgtest, a_batch_is_committed_all_or_nothing_with_per_item_results) {
  fake_sink_server sink;
  engine_harness e{*db, webhook_yaml(sink.url())};
  std::string good = R"({"topic":"feedback","key":"a","payload":{"n":1}})";
  std::string bad_shape = R"({"topic":"feedback","payload":[]})";
  std::string unrouted = R"({"topic":"nobody","payload":{}})";

  auto refused = post_json(e.port(), "/v1/events:batch", "{\"events\":[" + good + "," + bad_shape + "," + good + "]}");
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_EQ(json_string_at(refused.body, "/error/code"), "invalid_batch");
  ASSERT_EQ(json_array_size(refused.body, "/error/items"), 1);
  EXPECT_EQ(json_int_at(refused.body, "/error/items/0/index"), 1);
  EXPECT_EQ(json_string_at(refused.body, "/error/items/0/code"), "invalid_event");

  auto no_route = post_json(e.port(), "/v1/events:batch", "{\"events\":[" + good + "," + unrouted + "]}");
  EXPECT_EQ(no_route.status, 422) << no_route.body;
  EXPECT_EQ(json_int_at(no_route.body, "/error/items/0/index"), 1);
  EXPECT_EQ(post_json(e.port(), "/v1/events:batch", R"({"events":[]})").status, 400);
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.events"), "0");

  std::string events = "{\"events\":[";
  for (int i = 0; i < 50; ++i)
    events += (i ? "," : "") + good;
  events += "]}";
  auto accepted = post_json(e.port(), "/v1/events:batch", events, {{"Idempotency-Key", "batch-1"}});
  ASSERT_EQ(accepted.status, 201) << accepted.body;
  ASSERT_EQ(json_array_size(accepted.body, "/events"), 50);
  EXPECT_EQ(json_array_size(accepted.body, "/events/49/deliveries"), 2);
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.events"), "50");
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.delivery_status"), "100");

  auto repeated = post_json(e.port(), "/v1/events:batch", events, {{"Idempotency-Key", "batch-1"}});
  ASSERT_EQ(repeated.status, 200) << repeated.body;
  EXPECT_EQ(json_raw_at(repeated.body, "/events"), json_raw_at(accepted.body, "/events"));
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.events"), "50");
  EXPECT_TRUE(sink.wait_for_requests(50, std::chrono::seconds{10}));
}

struct bad_request_case {
  std::string name;
  std::string method;
  std::string target;
  std::string body;
  http::header_list headers;
  int status;
  std::string code;
};

TEST_F(delivery_pgtest, every_bad_input_gets_its_status_and_json_error_and_leaves_no_row) {
  fake_sink_server sink;
  engine_harness e{*db, webhook_yaml(sink.url()) + "server:\n  max_body_bytes: 4096\n"};
  const http::header_list json{{"content-type", "application/json"}};
  std::vector<bad_request_case> cases = {
    {"malformed json", "POST", "/v1/events", R"({"topic": "feedback", "payload": {)", json, 400, "invalid_json"},
    {"not an object", "POST", "/v1/events", R"([1,2])", json, 400, "invalid_event"},
    {"missing payload", "POST", "/v1/events", R"({"topic":"feedback"})", json, 400, "invalid_event"},
    {"payload not an object", "POST", "/v1/events", R"({"topic":"feedback","payload":3})", json, 400, "invalid_event"},
    {"empty topic", "POST", "/v1/events", R"({"topic":"","payload":{}})", json, 400, "invalid_event"},
    {"unknown field", "POST", "/v1/events", R"({"topic":"feedback","paylaod":{}})", json, 400, "invalid_event"},
    {"unrouted topic", "POST", "/v1/events", R"({"topic":"nobody","payload":{}})", json, 422, "no_route"},
    {"too large", "POST", "/v1/events", R"({"topic":"feedback","payload":{"x":")" + std::string(5000, 'a') + "\"}}",
     json, 413, "payload_too_large"},
    {"wrong content type", "POST", "/v1/events", feedback, {{"content-type", "text/plain"}}, 415,
     "unsupported_media_type"},
    {"wrong method", "PUT", "/v1/events", feedback, json, 405, "method_not_allowed"},
    {"unknown path", "GET", "/v2/nothing", "", {}, 404, "not_found"},
    {"unknown event", "GET", "/v1/events/00000000-0000-4000-8000-000000000000", "", {}, 404, "not_found"},
    // A UUIDv7 of 1970: older than any retention, so it may have been deleted.
    {"expired event", "GET", "/v1/events/00000000-0000-7000-8000-000000000000", "", {}, 404, "expired"},
    {"not an id", "GET", "/v1/events/abc", "", {}, 404, "not_found"},
  };
  for (const auto& c : cases) {
    auto res = http_call(e.port(), c.method, c.target, c.body, c.headers);
    EXPECT_EQ(res.status, c.status) << c.name << ": " << res.body;
    EXPECT_EQ(json_string_at(res.body, "/error/code"), c.code) << c.name << ": " << res.body;
    EXPECT_TRUE(json_string_at(res.body, "/error/message").has_value()) << c.name;
  }
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.events"), "0");
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.delivery_status"), "0");
  EXPECT_EQ(sink.request_count(), 0u);
  // The server is still healthy after all of that.
  EXPECT_EQ(e.post_event(feedback).status, 201);
}

TEST_F(delivery_pgtest, health_and_metrics_report_the_engine) {
  fake_sink_server sink;
  engine_harness e{*db, webhook_yaml(sink.url())};
  auto health = e.get("/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(json_string_at(health.body, "/database"), "ok");
  ASSERT_EQ(e.post_event(feedback).status, 201);
  ASSERT_TRUE(sink.wait_for_requests(1, std::chrono::seconds{10}));
  std::string metrics;
  ASSERT_TRUE(eventually([&] {
    metrics = e.get("/metrics").body;
    return metrics.find("txrelay_sink_delivered_total{sink=\"hook\"} 1") != std::string::npos &&
           metrics.find("txrelay_sink_pending_deliveries{sink=\"hook\"} 0") != std::string::npos;
  })) << metrics;
  // Requests by route: a template, never the raw path; unknown methods and paths are one series each.
  e.get("/v1/events/01a231a5-4bd9-7500-8567-08a6db3e6962"); // well formed, no such event
  e.get("/v1/no/such/" + std::string(50, 'x'));
  metrics = e.get("/metrics").body;
  for (const char* series : {"txrelay_events_accepted_total 1",
                             "txrelay_http_requests_total{route=\"POST /v1/events\",status=\"201\"} 1",
                             "txrelay_http_requests_total{route=\"GET /v1/events/{id}\",status=\"404\"} 1",
                             "txrelay_http_requests_total{route=\"GET unknown\",status=\"404\"} 1",
                             "txrelay_actor_mailbox_size{actor=\"persistence\"}",
                             "txrelay_actor_restarts_total{actor=\"sender:hook\"} 0",
                             "txrelay_sink_pending_deliveries{sink=\"audit\"}"})
    EXPECT_NE(metrics.find(series), std::string::npos) << series << "\n" << metrics;
  // No secret and no URL path leaks into metrics.
  EXPECT_EQ(metrics.find("whsec_"), std::string::npos);
  EXPECT_EQ(metrics.find("/hook\""), std::string::npos);

  auto sinks = e.get("/v1/sinks");
  ASSERT_EQ(sinks.status, 200) << sinks.body;
  ASSERT_EQ(json_array_size(sinks.body, "/sinks"), 2) << sinks.body;
  EXPECT_EQ(json_string_at(sinks.body, "/sinks/0/name"), "hook");
  EXPECT_EQ(json_string_at(sinks.body, "/sinks/0/kind"), "webhook");
  EXPECT_EQ(json_string_at(sinks.body, "/sinks/0/state"), "ok");
  EXPECT_EQ(json_int_at(sinks.body, "/sinks/0/delivered"), 1);
  EXPECT_EQ(json_int_at(sinks.body, "/sinks/0/pending"), 0);
  EXPECT_EQ(json_string_at(sinks.body, "/sinks/0/endpoint"),
            "http://127.0.0.1:" + std::to_string(sink.port()) + "/…");
  EXPECT_TRUE(sinks.body.find("\"signed\":true") != std::string::npos) << sinks.body;
  EXPECT_EQ(sinks.body.find("whsec_"), std::string::npos);
  EXPECT_EQ(sinks.body.find("/hook\""), std::string::npos);
  EXPECT_EQ(json_string_at(sinks.body, "/sinks/1/kind"), "log");
  EXPECT_TRUE(json_is_null_at(sinks.body, "/sinks/1/endpoint"));
}

TEST_F(delivery_pgtest, pending_deliveries_are_delivered_by_the_next_engine) {
  std::string event_id;
  {
    // The sink is down: nothing can be delivered before this engine stops.
    fake_sink_server down{[](const recorded_request&, std::size_t) {
      fake_reply r;
      r.status = 503;
      return r;
    }};
    auto url = down.url();
    engine_harness e{*db, webhook_yaml(url, 100)};
    auto res = e.post_event(feedback);
    ASSERT_EQ(res.status, 201);
    event_id = *json_string_at(res.body, "/id");
    ASSERT_TRUE(down.wait_for_requests(1, std::chrono::seconds{10}));
    e.stop();
  }
  EXPECT_EQ(db->scalar("SELECT status FROM txrelay.delivery_status WHERE sink = 'hook'"), "pending");
  fake_sink_server up;
  engine_harness e{*db, webhook_yaml(up.url(), 100)};
  ASSERT_TRUE(up.wait_for_requests(1, std::chrono::seconds{10}));
  EXPECT_EQ(json_string_at(up.requests()[0].body, "/id"), event_id);
  ASSERT_TRUE(eventually([&] { return delivery_status(e, event_id, "hook").rfind("delivered:", 0) == 0; }));
}

TEST_F(delivery_pgtest, without_the_database_posts_get_503_and_health_says_so) {
  fake_sink_server sink;
  engine_harness e{*db, webhook_yaml(sink.url())};
  ASSERT_EQ(e.post_event(feedback).status, 201);
  // The database disappears under the running engine (connections killed).
  db->drop();
  // A writer whose connection was cut under it cannot know whether its
  // statement committed (commit_unknown); one that finds it cut before
  // sending knows nothing was stored (database_unavailable).
  std::set<std::string> codes;
  for (int i = 0; i < 4; ++i) {
    auto res = e.post_event(feedback);
    EXPECT_EQ(res.status, 503) << res.body;
    codes.insert(json_string_at(res.body, "/error/code").value_or(""));
  }
  EXPECT_TRUE(codes.count("database_unavailable")) << "a reconnect that fails stores nothing";
  codes.erase("database_unavailable");
  codes.erase("commit_unknown");
  EXPECT_TRUE(codes.empty()) << *codes.begin();
  auto health = e.get("/healthz");
  EXPECT_EQ(health.status, 503) << health.body;
  // The server itself is still answering.
  EXPECT_EQ(e.get("/metrics").status, 200);
}

// A transport with a bug: it throws for one poisoned event. The sender dies,
// its supervisor restarts it, and everything else keeps flowing.
class poisoned_transport final : public sink_transport {
public:
  explicit poisoned_transport(std::shared_ptr<sink_transport> real) : real_(std::move(real)) {}
  void attempt(const delivery_job& job, attempt_callback done) override {
    if (job.key == std::optional<std::string>{"poison"})
      throw std::runtime_error("transport bug on a poisoned delivery");
    real_->attempt(job, std::move(done));
  }

private:
  std::shared_ptr<sink_transport> real_;
};

TEST_F(delivery_pgtest, a_sender_that_throws_is_restarted_and_other_deliveries_keep_flowing) {
  fake_sink_server hook_server;
  fake_sink_server other_server;
  std::string yaml = "sinks:\n"
                     "  - {name: hook, kind: webhook, url: \"" + hook_server.url() + "\", "
                     "retry: {max_attempts: 3, base: 1ms, cap: 2ms}}\n"
                     "  - {name: other, kind: webhook, url: \"" + other_server.url() + "\"}\n"
                     "routes:\n"
                     "  - {topic: feedback, sinks: [hook, other]}\n";
  engine_harness e{*db, yaml, [](const sink_config& sink, std::shared_ptr<sink_transport> real) {
                     if (sink.name != "hook")
                       return real;
                     return std::shared_ptr<sink_transport>{std::make_shared<poisoned_transport>(std::move(real))};
                   }};
  auto poisoned = e.post_event(R"({"topic":"feedback","key":"poison","payload":{"n":0}})");
  ASSERT_EQ(poisoned.status, 201);
  auto poisoned_id = *json_string_at(poisoned.body, "/id");
  std::vector<std::string> healthy;
  for (int i = 1; i <= 20; ++i) {
    auto res = e.post_event(R"({"topic":"feedback","key":"k)" + std::to_string(i) + R"(","payload":{"n":1}})");
    ASSERT_EQ(res.status, 201);
    healthy.push_back(*json_string_at(res.body, "/id"));
  }
  // Every healthy event reaches both sinks; the poisoned one reaches "other".
  // A delivery in flight when the sender crashed is sent again (at least
  // once), so count distinct events, not requests.
  std::set<std::string> hook_events;
  auto hook_has_all = [&] {
    hook_events.clear();
    for (const auto& r : hook_server.requests())
      hook_events.insert(*json_string_at(r.body, "/id"));
    for (const auto& id : healthy)
      if (hook_events.count(id) == 0)
        return false;
    return true;
  };
  ASSERT_TRUE(eventually(hook_has_all)) << hook_events.size() << " of " << healthy.size();
  ASSERT_TRUE(other_server.wait_for_requests(21, std::chrono::seconds{20})) << other_server.request_count();
  EXPECT_EQ(hook_events.count(poisoned_id), 0u);
  // Each crash counts as a failed attempt of the delivery it was on, with
  // the usual backoff; after max_attempts (3) crashes it is dead, so a poison
  // pill cannot crash every restarted sender forever.
  ASSERT_TRUE(eventually([&] { return delivery_status(e, poisoned_id, "hook") == "dead:3"; }))
    << e.get("/v1/events/" + poisoned_id).body;
  EXPECT_EQ(delivery_status(e, poisoned_id, "other"), "delivered:1");
  std::string metrics;
  EXPECT_TRUE(eventually([&] {
    metrics = e.get("/metrics").body;
    return metrics.find("txrelay_actor_restarts_total{actor=\"sender:hook\"} 3") != std::string::npos;
  })) << metrics;
  EXPECT_NE(metrics.find("txrelay_actor_restarts_total{actor=\"sender:other\"} 0"), std::string::npos);
  auto last_error = db->scalar("SELECT last_error FROM txrelay.delivery_status WHERE event_id = '" + poisoned_id +
                               "' AND sink = 'hook'");
  EXPECT_NE(last_error.find("sender crashed"), std::string::npos) << last_error;
}

} // namespace

namespace {

std::string https_yaml(const std::string& url, const std::string& tls) {
  return "sinks:\n"
         "  - name: hook\n"
         "    kind: webhook\n"
         "    url: \"" + url + "\"\n"
         "    connect_timeout: 2s\n"
         "    timeout: 2s\n" + tls +
         "    retry: {max_attempts: 2, base: 1ms, cap: 2ms}\n"
         "routes:\n"
         "  - topic: feedback\n"
         "    sinks: [hook]\n";
}

} // namespace

// The sink's `tls` keys reach its client: a private CA named in the config is
// trusted, and without it the same server is refused (verification is on by default).
TEST_F(delivery_pgtest, an_https_sink_trusts_the_ca_file_its_config_names) {
  test_certificate_authority ca;
  fake_sink_server sink{ca.issue_server_certificate({{}, {"127.0.0.1"}})};
  temp_file ca_file{ca.certificate_pem()};

  engine_harness trusted{*db, https_yaml(sink.url(), "    tls: {ca_file: \"" + ca_file.path() + "\"}\n")};
  auto res = trusted.post_event(feedback);
  ASSERT_EQ(res.status, 201) << res.body;
  auto id = json_string_at(res.body, "/id").value_or("");
  ASSERT_TRUE(eventually([&] { return delivery_status(trusted, id, "hook") == "delivered:1"; }));
  trusted.stop();

  auto db2 = std::make_unique<test_database>();
  engine_harness untrusted{*db2, https_yaml(sink.url(), "")};
  auto refused = untrusted.post_event(feedback);
  ASSERT_EQ(refused.status, 201);
  auto refused_id = json_string_at(refused.body, "/id").value_or("");
  ASSERT_TRUE(eventually([&] { return delivery_status(untrusted, refused_id, "hook") == "dead:2"; }));
  EXPECT_EQ(sink.request_count(), 1u); // only the trusted engine's request got through
  // The server counts a failed handshake when its side of it ends, which
  // can be after the client has given up and recorded the delivery dead.
  EXPECT_TRUE(eventually([&] { return sink.tls_handshake_failures() >= 2u; })) << sink.tls_handshake_failures();
}

// Dead is not the end: once the sink is fixed, an operator replays what died,
// with the same delivery ids and a fresh attempt budget.
TEST_F(delivery_pgtest, dead_deliveries_are_replayed_by_sink_or_by_event) {
  std::atomic<bool> broken{true};
  fake_sink_server sink{[&](const recorded_request&, std::size_t) {
    fake_reply reply;
    reply.status = broken ? 500 : 204;
    return reply;
  }};
  engine_harness e{*db, webhook_yaml(sink.url(), 2)};
  auto first = e.post_event(feedback);
  auto second = e.post_event(feedback);
  ASSERT_EQ(first.status, 201);
  ASSERT_EQ(second.status, 201);
  auto first_id = json_string_at(first.body, "/id").value_or("");
  auto second_id = json_string_at(second.body, "/id").value_or("");
  ASSERT_TRUE(eventually([&] {
    return delivery_status(e, first_id, "hook") == "dead:2" && delivery_status(e, second_id, "hook") == "dead:2";
  }));
  // The operator's list of dead letters, by id, a page at a time, with the last error.
  auto dead = e.get("/v1/sinks/hook/dead");
  ASSERT_EQ(dead.status, 200) << dead.body;
  ASSERT_EQ(json_array_size(dead.body, "/dead"), 2) << dead.body;
  EXPECT_EQ(json_string_at(dead.body, "/dead/0/event_id"), first_id);
  EXPECT_EQ(json_string_at(dead.body, "/dead/0/last_error"), "HTTP 500");
  EXPECT_EQ(json_int_at(dead.body, "/dead/0/last_status"), 500);
  EXPECT_EQ(json_int_at(dead.body, "/dead/0/attempts"), 2);
  EXPECT_EQ(json_string_at(dead.body, "/dead/1/event_id"), second_id);
  EXPECT_TRUE(json_is_null_at(dead.body, "/next")) << dead.body;
  auto page = e.get("/v1/sinks/hook/dead?limit=1");
  ASSERT_EQ(json_array_size(page.body, "/dead"), 1) << page.body;
  auto next = json_string_at(page.body, "/next").value_or("");
  EXPECT_EQ(next, json_string_at(dead.body, "/dead/0/id"));
  auto second_page = e.get("/v1/sinks/hook/dead?limit=1&after=" + next);
  EXPECT_EQ(json_string_at(second_page.body, "/dead/0/event_id"), second_id) << second_page.body;
  EXPECT_EQ(e.get("/v1/sinks/audit/dead").body, R"({"dead":[],"next":null})");
  EXPECT_EQ(e.get("/v1/sinks/nope/dead").status, 404);
  for (const char* bad : {"limit=0", "limit=1001", "limit=ten", "after=not-an-id", "after=%zz"}) {
    auto refused = e.get(std::string{"/v1/sinks/hook/dead?"} + bad);
    EXPECT_EQ(refused.status, 400) << bad;
    EXPECT_EQ(json_string_at(refused.body, "/error/code"), "invalid_query") << bad << " " << refused.body;
  }
  EXPECT_EQ(post_json(e.port(), "/v1/sinks/hook/dead", "").status, 405);
  broken = false;

  // One event's dead deliveries; the log sink's delivered one is left alone.
  auto one = post_json(e.port(), "/v1/events/" + first_id + "/replay", "");
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(json_array_size(one.body, "/replayed"), 1);
  EXPECT_EQ(json_string_at(one.body, "/replayed/0/sink"), "hook");
  ASSERT_TRUE(eventually([&] { return delivery_status(e, first_id, "hook") == "delivered:1"; }));
  EXPECT_EQ(delivery_status(e, second_id, "hook"), "dead:2");
  // retry.max_age counts from the replay from now on.
  EXPECT_EQ(db->scalar("SELECT replayed_at IS NOT NULL FROM txrelay.delivery_status WHERE event_id = '" + first_id +
                       "' AND sink = 'hook'"),
            "t");

  // Then the rest of the sink's.
  auto rest = post_json(e.port(), "/v1/sinks/hook/replay", "");
  ASSERT_EQ(rest.status, 200) << rest.body;
  EXPECT_EQ(json_array_size(rest.body, "/replayed"), 1);
  EXPECT_NE(rest.body.find("\"more\":false"), std::string::npos) << rest.body;
  ASSERT_TRUE(eventually([&] { return delivery_status(e, second_id, "hook") == "delivered:1"; }));

  // The receiver sees the same webhook-id as before: it can de-duplicate.
  std::set<std::string> ids;
  for (const auto& r : sink.requests())
    ids.insert(std::string{http::find_header(r.headers, "webhook-id")});
  EXPECT_EQ(ids.size(), 2u);

  // Nothing dead any more: an empty list. Bad requests are refused.
  auto again = post_json(e.port(), "/v1/sinks/hook/replay", "");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(json_array_size(again.body, "/replayed"), 0);
  EXPECT_EQ(post_json(e.port(), "/v1/sinks/nope/replay", "").status, 404);
  EXPECT_EQ(http_call(e.port(), "GET", "/v1/events/" + first_id + "/replay").status, 405);
  EXPECT_EQ(post_json(e.port(), "/v1/events/" + first_id + "/again", "").status, 404);
}
