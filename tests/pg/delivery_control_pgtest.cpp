// Delivery control end to end: per-key ordering under concurrent keys and
// injected failures, the circuit breaker against a sink that is down, an
// operator's pause and resume, and a sender that keeps crashing.
#include "pg/engine_harness.hpp"
#include "sinks/sink_transport.hpp"
#include "support/fake_sink_server.hpp"
#include "support/json_probe.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

using namespace txrelay;
using namespace txrelay::testing;

namespace {

class delivery_control_pgtest : public ::testing::Test {
protected:
  void SetUp() override {
    TXRELAY_REQUIRE_DATABASE();
    db = std::make_unique<test_database>();
  }

  static std::string sink_field(const engine_harness& e, const std::string& sink, const std::string& field) {
    return txrelay::testing::sink_field(e.get("/v1/sinks").body, sink, field);
  }

  long long pending(const std::string& sink) {
    return std::stoll(
      db->scalar("SELECT count(*) FROM txrelay.delivery_status WHERE status = 'pending' AND sink = '" + sink + "'"));
  }

  std::unique_ptr<test_database> db;
};

TEST_F(delivery_control_pgtest, per_key_order_holds_under_twenty_concurrent_keys_with_injected_failures) {
  // Every third request fails: retried deliveries must still reach the sink
  // in commit order within their key.
  fake_sink_server sink{[](const recorded_request&, std::size_t n) {
    fake_reply r;
    r.status = n % 3 == 1 ? 503 : 204;
    return r;
  }};
  engine_harness e{*db, "sinks:\n"
                        "  - name: ordered\n"
                        "    kind: webhook\n"
                        "    url: \"" + sink.url() + "\"\n"
                        "    ordering: per_key\n"
                        "    max_in_flight: 16\n"
                        "    retry: {max_attempts: 50, base: 1ms, cap: 4ms}\n"
                        "    circuit: {failure_threshold: 0}\n"
                        "routes:\n"
                        "  - {topic: t, sinks: [ordered]}\n"};
  constexpr int keys = 20;
  constexpr int per_key = 8;
  // One client thread per key posts its events one after another, so each
  // key's commit order is its posting order; the keys run concurrently.
  std::vector<std::thread> clients;
  std::atomic<int> accepted{0};
  for (int k = 0; k < keys; ++k)
    clients.emplace_back([&, k] {
      for (int seq = 0; seq < per_key; ++seq) {
        auto res = e.post_event(R"({"topic":"t","key":"key-)" + std::to_string(k) + R"(","payload":{"seq":)" +
                                std::to_string(seq) + "}}");
        if (res.status == 201)
          accepted.fetch_add(1);
      }
    });
  for (auto& c : clients)
    c.join();
  ASSERT_EQ(accepted.load(), keys * per_key);
  ASSERT_TRUE(eventually([&] { return pending("ordered") == 0; })) << pending("ordered") << " still pending";

  // Replay the sink's log: per key, every request is for the oldest event not
  // yet delivered (a retry of it, or the next one once it was delivered).
  auto requests = sink.requests();
  std::map<std::string, int> next_seq; // per key: the seq that must be sent next
  int failures = 0;
  for (std::size_t n = 0; n < requests.size(); ++n) {
    auto key = json_string_at(requests[n].body, "/key").value_or("?");
    auto seq = json_int_at(requests[n].body, "/payload/seq").value_or(-1);
    ASSERT_EQ(seq, next_seq[key]) << "request " << n << " for " << key << " overtook an earlier event";
    if (n % 3 == 1)
      ++failures;
    else
      ++next_seq[key];
  }
  EXPECT_GT(failures, keys); // the failures were real and many
  for (int k = 0; k < keys; ++k)
    EXPECT_EQ(next_seq["key-" + std::to_string(k)], per_key);
}

TEST_F(delivery_control_pgtest, a_sink_that_is_down_opens_its_circuit_and_closes_it_when_back) {
  std::atomic<bool> down{true};
  fake_sink_server sink{[&](const recorded_request&, std::size_t) {
    fake_reply r;
    r.status = down ? 503 : 204;
    return r;
  }};
  engine_harness e{*db, "sinks:\n"
                        "  - name: flaky\n"
                        "    kind: webhook\n"
                        "    url: \"" + sink.url() + "\"\n"
                        "    max_in_flight: 1\n"
                        "    retry: {max_attempts: 100, base: 1ms, cap: 2ms}\n"
                        "    circuit: {failure_threshold: 3, probe_interval: 200ms}\n"
                        "routes:\n"
                        "  - {topic: t, sinks: [flaky]}\n"};
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(e.post_event(R"({"topic":"t","payload":{"n":)" + std::to_string(i) + "}}").status, 201);
  ASSERT_TRUE(eventually([&] { return sink_field(e, "flaky", "state") == "open"; }))
    << e.get("/v1/sinks").body;
  EXPECT_EQ(sink_field(e, "flaky", "circuit"), "open");
  EXPECT_NE(sink_field(e, "flaky", "last_error").find("503"), std::string::npos);
  // While open, one probe at a time: the deliveries keep (nearly) all their
  // attempts instead of spending one every few milliseconds.
  auto attempts_while_open = [&] {
    return std::stoll(db->scalar("SELECT coalesce(sum(attempts), 0) FROM txrelay.delivery_status"));
  };
  ASSERT_TRUE(eventually([&] { return sink.request_count() >= 5; }));
  down = false;
  ASSERT_TRUE(eventually([&] { return pending("flaky") == 0; })) << e.get("/v1/sinks").body;
  EXPECT_EQ(sink_field(e, "flaky", "circuit"), "closed");
  EXPECT_EQ(sink_field(e, "flaky", "state"), "ok");
  // Failures before the first probe: 3 to open, then one per probe interval.
  // Without the breaker, an attempt every 1-2 ms would have spent all 100.
  EXPECT_LT(attempts_while_open(), 50);
  auto metrics = e.get("/metrics").body;
  EXPECT_NE(metrics.find("txrelay_sink_circuit_opened_total{sink=\"flaky\"}"), std::string::npos);
  EXPECT_EQ(metrics.find("txrelay_sink_circuit_opened_total{sink=\"flaky\"} 0"), std::string::npos) << metrics;
}

TEST_F(delivery_control_pgtest, an_operator_pauses_and_resumes_a_sink) {
  fake_sink_server sink;
  engine_harness e{*db, "sinks:\n"
                        "  - {name: hook, kind: webhook, url: \"" + sink.url() + "\"}\n"
                        "routes:\n"
                        "  - {topic: t, sinks: [hook]}\n"};
  auto paused = post_json(e.port(), "/v1/sinks/hook/pause", "");
  ASSERT_EQ(paused.status, 200) << paused.body;
  EXPECT_EQ(json_raw_at(paused.body, "/paused"), "true");
  EXPECT_EQ(sink_field(e, "hook", "state"), "paused");
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(e.post_event(R"({"topic":"t","payload":{}})").status, 201);
  // Accepted and committed, but nothing goes out while paused.
  EXPECT_FALSE(sink.wait_for_requests(1, std::chrono::milliseconds{300}));
  EXPECT_EQ(pending("hook"), 3);
  auto resumed = post_json(e.port(), "/v1/sinks/hook/resume", "");
  ASSERT_EQ(resumed.status, 200) << resumed.body;
  ASSERT_TRUE(sink.wait_for_requests(3, std::chrono::seconds{10}));
  ASSERT_TRUE(eventually([&] { return pending("hook") == 0; }));
  EXPECT_EQ(sink_field(e, "hook", "state"), "ok");

  // Bad requests get a JSON error, not a crash.
  auto unknown = post_json(e.port(), "/v1/sinks/nope/pause", "");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(json_string_at(unknown.body, "/error/code"), "not_found");
  auto wrong_method = e.get("/v1/sinks/hook/resume");
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(wrong_method.header("allow"), "POST");
  EXPECT_EQ(post_json(e.port(), "/v1/sinks/hook/explode", "").status, 404);
}

// A transport with a bug that crashes on every delivery until it is fixed.
class crashing_transport final : public sink_transport {
public:
  crashing_transport(std::shared_ptr<sink_transport> real, std::shared_ptr<std::atomic<bool>> broken)
    : real_(std::move(real)), broken_(std::move(broken)) {}
  void attempt(const delivery_job& job, attempt_callback done) override {
    if (*broken_)
      throw std::runtime_error("transport bug");
    real_->attempt(job, std::move(done));
  }

private:
  std::shared_ptr<sink_transport> real_;
  std::shared_ptr<std::atomic<bool>> broken_;
};

TEST_F(delivery_control_pgtest, a_sender_crashing_on_every_delivery_fails_its_sink_and_loses_nothing_once_fixed) {
  fake_sink_server sink;
  auto bug = std::make_shared<std::atomic<bool>>(true);
  engine_harness e{*db,
                   "sinks:\n"
                   "  - name: hook\n"
                   "    kind: webhook\n"
                   "    url: \"" + sink.url() + "\"\n"
                   "    retry: {max_attempts: 20, base: 1ms, cap: 2ms}\n"
                   "    supervision: {max_restarts: 3, restart_window: 1m}\n"
                   "routes:\n"
                   "  - {topic: t, sinks: [hook]}\n",
                   [bug](const sink_config&, std::shared_ptr<sink_transport> real) {
                     return std::shared_ptr<sink_transport>{std::make_shared<crashing_transport>(std::move(real), bug)};
                   }};
  std::set<std::string> events;
  for (int i = 0; i < 10; ++i) {
    auto res = e.post_event(R"({"topic":"t","payload":{"n":)" + std::to_string(i) + "}}");
    ASSERT_EQ(res.status, 201);
    events.insert(*json_string_at(res.body, "/id"));
  }
  ASSERT_TRUE(eventually([&] { return sink_field(e, "hook", "state") == "failed"; })) << e.get("/v1/sinks").body;
  EXPECT_EQ(sink_field(e, "hook", "restarts"), "3");
  EXPECT_NE(sink_field(e, "hook", "last_error").find("sender crashed"), std::string::npos);
  EXPECT_EQ(pending("hook"), 10); // nothing was dead-lettered
  EXPECT_NE(e.get("/metrics").body.find("txrelay_sink_failed{sink=\"hook\"} 1"), std::string::npos);

  *bug = false; // the fix
  auto resumed = post_json(e.port(), "/v1/sinks/hook/resume", "");
  ASSERT_EQ(resumed.status, 200) << resumed.body;
  ASSERT_TRUE(eventually([&] { return pending("hook") == 0; })) << e.get("/v1/sinks").body;
  std::set<std::string> delivered;
  for (const auto& r : sink.requests())
    delivered.insert(*json_string_at(r.body, "/id"));
  EXPECT_EQ(delivered, events);
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.delivery_status WHERE status = 'delivered'"), "10");
  EXPECT_EQ(sink_field(e, "hook", "state"), "ok");
}

} // namespace
