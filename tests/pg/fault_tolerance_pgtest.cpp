// Faults that happen in production, through real parts: PostgreSQL reached
// through a TCP proxy that goes silent (a partition: nothing refused, nothing
// reset), and the engine's own answers while it lasts.
#include "pg/engine_harness.hpp"

#include <caf/all.hpp>
#include "support/fake_sink_server.hpp"
#include "support/json_probe.hpp"
#include "support/tcp_proxy.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <algorithm>
#include <future>
#include <mutex>
#include <set>

using namespace txrelay;
using namespace txrelay::testing;
using namespace std::chrono_literals;

namespace {

std::string partition_yaml(const std::string& sink_url) {
  return "database: {connect_timeout: 2s, statement_timeout: 2s}\n"
         "sinks:\n"
         "  - name: hook\n"
         "    kind: webhook\n"
         "    url: \"" + sink_url + "\"\n"
         "    timeout: 2s\n"
         "    retry: {max_attempts: 50, base: 10ms, cap: 500ms}\n"
         "routes:\n"
         "  - topic: order.placed\n"
         "    sinks: [hook]\n";
}

std::string order(int n) { return R"({"topic":"order.placed","key":"o","payload":{"n":)" + std::to_string(n) + "}}"; }

using steady = std::chrono::steady_clock;

double seconds_since(steady::time_point t0) { return std::chrono::duration<double>(steady::now() - t0).count(); }

TEST(fault_tolerance_pgtest, a_silent_database_hangs_no_request_and_everything_resumes_when_it_answers_again) {
  TXRELAY_REQUIRE_DATABASE();
  test_database db;
  fake_sink_server sink;
  tcp_proxy proxy{"127.0.0.1", port_of(db.url())};
  engine_harness e{with_port(db.url(), proxy.port()), partition_yaml(sink.url())};

  ASSERT_EQ(e.post_event(order(1)).status, 201);
  ASSERT_TRUE(sink.wait_for_requests(1, 20s));

  proxy.stall();
  const auto stalled_at = steady::now();
  // A client posting now gets an answer, not a hang: the request may be
  // stuck on the silent connection, so the answer is commit_unknown (or,
  // from a writer that knew its connection was gone, database_unavailable).
  auto during = std::async(std::launch::async, [&] {
    auto t0 = steady::now();
    auto res = e.post_event(order(2), {{"Idempotency-Key", "order-2"}});
    return std::pair{res, seconds_since(t0)};
  });
  // /healthz answers within its own bound and says the database does not.
  for (int i = 0; i < 3; ++i) {
    auto t0 = steady::now();
    auto health = e.get("/healthz");
    EXPECT_EQ(health.status, 503) << health.body;
    EXPECT_LT(seconds_since(t0), 6.0) << "/healthz waited on the silent database";
    std::this_thread::sleep_for(5s);
  }
  auto [res, took] = during.get();
  EXPECT_EQ(res.status, 503) << res.body;
  auto code = json_string_at(res.body, "/error/code").value_or("");
  EXPECT_TRUE(code == "commit_unknown" || code == "database_unavailable") << res.body;
  EXPECT_LT(took, 45.0) << "the ingest waited past every timeout";

  // The partition lasts a minute, far past every timeout (2 s statements,
  // plus 10 s without an answer, 2 s connects): threads keep failing fast.
  while (seconds_since(stalled_at) < 60.0)
    std::this_thread::sleep_for(1s);
  auto t0 = steady::now();
  auto late = e.post_event(order(3));
  EXPECT_EQ(late.status, 503) << late.body;
  EXPECT_LT(seconds_since(t0), 45.0);
  proxy.resume();

  // It heals by itself: health, ingest and delivery, without a restart.
  EXPECT_TRUE(eventually([&] { return e.get("/healthz").status == 200; }, 60s));
  // The retry the 503 asked for, with the same key: stored once, whatever happened before.
  test_response retried;
  EXPECT_TRUE(eventually(
    [&] {
      retried = e.post_event(order(2), {{"Idempotency-Key", "order-2"}});
      return retried.status == 201 || retried.status == 200;
    },
    60s))
    << retried.body;
  ASSERT_EQ(e.post_event(order(4)).status, 201);
  // Every stored event is delivered (order 3 may be stored or not: its
  // request was cut; either way its client was told so), order 2 once.
  EXPECT_TRUE(eventually(
    [&] { return db.scalar("SELECT count(*) FROM txrelay.delivery_status WHERE status = 'pending'") == "0"; }, 60s));
  EXPECT_EQ(db.scalar("SELECT count(*) FROM txrelay.events WHERE idempotency_key = 'order-2'"), "1");
  auto stored = std::stoul(db.scalar("SELECT count(*) FROM txrelay.events"));
  EXPECT_GE(stored, 3u);
  EXPECT_TRUE(sink.wait_for_requests(stored, 20s));
}

// Each essential actor killed in turn under a running engine: the engine
// reports it (txrelay serve then exits 70 for its service manager), and the
// next process delivers everything that was acknowledged.
TEST(fault_tolerance_pgtest, an_essential_actor_that_dies_stops_the_process_and_nothing_acknowledged_is_lost) {
  TXRELAY_REQUIRE_DATABASE();
  for (const std::string victim : {"persistence", "ledger", "router", "supervisor", "http"}) {
    SCOPED_TRACE(victim);
    test_database db;
    fake_sink_server sink;
    std::set<std::string> acknowledged;
    {
      std::promise<std::string> down;
      auto reported = down.get_future();
      std::once_flag once;
      engine_harness e{db.url(), partition_yaml(sink.url()), {}, {}, [&](const std::string& why) {
                         std::call_once(once, [&] { down.set_value(why); });
                       }};
      for (int i = 0; i < 20; ++i) {
        auto res = e.post_event(order(i));
        ASSERT_EQ(res.status, 201) << res.body;
        acknowledged.insert(json_string_at(res.body, "/id").value_or(""));
      }
      for (const auto& [name, actor] : e.get().essential_actors())
        if (name == victim)
          caf::anon_send_exit(actor, caf::exit_reason::kill);
      ASSERT_EQ(reported.wait_for(10s), std::future_status::ready) << "the death of " << victim << " went unnoticed";
      EXPECT_NE(reported.get().find(victim), std::string::npos);
    } // the process exits: what its service manager sees
    engine_harness restarted{db, partition_yaml(sink.url())};
    EXPECT_TRUE(eventually(
      [&] {
        std::set<std::string> got;
        for (const auto& r : sink.requests())
          if (auto id = json_string_at(r.body, "/id"))
            got.insert(*id);
        return std::includes(got.begin(), got.end(), acknowledged.begin(), acknowledged.end());
      },
      30s));
  }
}

} // namespace

namespace {

// A provider after an outage: down until the circuit opens, then 429 with
// Retry-After to the first probe (Discord, Slack and Notion do this while
// they recover), then healthy. Nobody resumes the sink by hand.
TEST(fault_tolerance_pgtest, a_429_to_the_half_open_probe_is_waited_out_and_the_sink_drains_by_itself) {
  TXRELAY_REQUIRE_DATABASE();
  test_database db;
  std::atomic<int> phase{0}; // 0: down, 1: the next request gets 429, 2: up
  std::atomic<std::size_t> limited_request{0};
  fake_sink_server sink{[&](const recorded_request&, std::size_t n) {
    fake_reply reply;
    int expected = 1;
    if (phase.compare_exchange_strong(expected, 2)) {
      limited_request = n;
      reply.status = 429;
      reply.headers.emplace_back("Retry-After", "1");
    } else {
      reply.status = phase == 0 ? 503 : 204;
    }
    return reply;
  }};
  engine_harness e{db, "sinks:\n"
                       "  - name: hook\n"
                       "    kind: webhook\n"
                       "    url: \"" + sink.url() + "\"\n"
                       "    max_in_flight: 1\n"
                       "    retry: {max_attempts: 100, base: 1ms, cap: 5ms}\n"
                       "    circuit: {failure_threshold: 3, probe_interval: 200ms}\n"
                       "routes:\n"
                       "  - {topic: order.placed, sinks: [hook]}\n"};
  for (int n = 0; n < 5; ++n)
    ASSERT_EQ(e.post_event(order(n)).status, 201);
  ASSERT_TRUE(eventually([&] { return e.get("/v1/sinks").body.find("\"circuit\":\"open\"") != std::string::npos; }));
  phase = 1; // the next request is a half-open probe
  ASSERT_TRUE(eventually(
    [&] { return db.scalar("SELECT count(*) FROM txrelay.delivery_status WHERE status = 'delivered'") == "5"; }, 20s))
    << e.get("/v1/sinks").body;
  ASSERT_EQ(phase, 2) << "no request was answered 429, so this test proved nothing";
  EXPECT_NE(e.get("/v1/sinks").body.find("\"circuit\":\"closed\""), std::string::npos) << e.get("/v1/sinks").body;
  // The next probe came when Retry-After said, not before.
  auto requests = sink.requests();
  ASSERT_GT(requests.size(), limited_request + 1);
  EXPECT_GE(requests[limited_request + 1].received_at - requests[limited_request].received_at, 950ms);
}

// A dispatch that never reached the sender (a writer replaced after its
// COMMIT, a message lost): the row is pending and nobody was told. The
// periodic safety sweep finds it, sends it, and counts it as unknown.
TEST(fault_tolerance_pgtest, a_pending_delivery_nobody_dispatched_is_found_by_the_safety_sweep) {
  TXRELAY_REQUIRE_DATABASE();
  test_database db;
  fake_sink_server sink;
  engine_harness e{db, "sinks:\n"
                       "  - {name: hook, kind: webhook, url: \"" + sink.url() + "\", safety_sweep: 200ms}\n"
                       "routes:\n"
                       "  - {topic: order.placed, sinks: [hook]}\n"};
  // The sender is up, and its start-up sweep (which may have sent the
  // first) is over once a second event arrives by its dispatch.
  ASSERT_EQ(e.post_event(order(0)).status, 201);
  ASSERT_TRUE(sink.wait_for_requests(1, 10s));
  ASSERT_TRUE(eventually([&] { return e.get("/metrics").body.find("txrelay_sink_in_memory{sink=\"hook\"} 0") != std::string::npos; }));
  ASSERT_EQ(e.post_event(order(1)).status, 201);
  ASSERT_TRUE(sink.wait_for_requests(2, 10s));
  // Committed a minute ago, as far as the row says, and never dispatched.
  db.query("INSERT INTO txrelay.events (id, topic, key, payload, created_at, delivery_ids, delivery_sinks) "
           "VALUES ('00000000-0000-7000-8000-000000000001', 'order.placed', 'o', '{\"n\": 1}', now() - interval '1 minute', "
           "'{00000000-0000-7000-8000-000000000002}', '{hook}');"
           "INSERT INTO txrelay.pending_deliveries (sink, id, event_id) "
           "VALUES ('hook', '00000000-0000-7000-8000-000000000002', '00000000-0000-7000-8000-000000000001')");
  ASSERT_TRUE(sink.wait_for_requests(3, 10s)) << "the lost dispatch was never swept";
  EXPECT_EQ(json_string_at(sink.requests()[2].body, "/id"), "00000000-0000-7000-8000-000000000001");
  ASSERT_TRUE(eventually([&] {
    return db.scalar("SELECT status FROM txrelay.delivery_status WHERE id = '00000000-0000-7000-8000-000000000002'") ==
           "delivered";
  }));
  auto metrics = e.get("/metrics").body;
  EXPECT_NE(metrics.find("txrelay_sink_sweep_unknown_total{sink=\"hook\"} 1"), std::string::npos) << metrics;
}

} // namespace
