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
    [&] { return db.scalar("SELECT count(*) FROM txrelay.deliveries WHERE status = 'pending'") == "0"; }, 60s));
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
