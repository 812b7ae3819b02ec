// The promise of the outbox, tested on the real binary: every event that got
// a 201 reaches its sink, even when txrelay is killed with SIGKILL while
// deliveries are in flight.
#include "process/txrelay_process.hpp"
#include "support/http_test_client.hpp"
#include "support/test_database.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <mutex>
#include <thread>

#include <sys/wait.h>

using namespace txrelay::testing;

namespace {

std::string write_config(const std::string& sink_url) {
  return write_temp_config("crash", "sinks:\n"
                                    "  - name: hook\n"
                                    "    kind: webhook\n"
                                    "    url: \"" + sink_url + "\"\n"
                                    "    timeout: 30s\n"
                                    "    retry: {max_attempts: 50, base: 10ms, cap: 200ms}\n"
                                    "routes:\n"
                                    "  - topic: feedback\n"
                                    "    sinks: [hook]\n");
}

TEST(crash_recovery, every_acknowledged_event_is_delivered_after_a_kill_9) {
  TXRELAY_REQUIRE_DATABASE();
  test_database db;

  // The sink answers the first 100 requests, then stalls: deliveries hang in
  // flight, exactly when the process is killed.
  std::atomic<bool> healthy{false};
  fake_sink_server sink{[&](const recorded_request&, std::size_t n) {
    fake_reply r;
    r.stall = !healthy.load() && n >= 100;
    return r;
  }};
  auto config = write_config(sink.url());

  constexpr int events = 500;
  std::set<std::string> acknowledged;
  {
    child_process txrelay{serve_args(config, db.url())};
    auto port = listening_port(txrelay);
    ASSERT_NE(port, 0);

    std::mutex mutex;
    std::vector<std::thread> clients;
    std::atomic<int> failures{0};
    for (int c = 0; c < 4; ++c) {
      clients.emplace_back([&, c] {
        for (int i = c; i < events; i += 4) {
          auto body = R"({"topic":"feedback","key":"user-)" + std::to_string(i % 17) +
                      R"(","payload":{"n":)" + std::to_string(i) + "}}";
          auto res = post_json(port, "/v1/events", body);
          if (res.status != 201) {
            failures.fetch_add(1);
            continue;
          }
          std::lock_guard guard{mutex};
          acknowledged.insert(*json_string_at(res.body, "/id"));
        }
      });
    }
    for (auto& t : clients)
      t.join();
    EXPECT_EQ(failures.load(), 0);
    ASSERT_EQ(acknowledged.size(), static_cast<std::size_t>(events));

    // Some delivered, more stuck in flight: now crash.
    ASSERT_TRUE(sink.wait_for_requests(101, std::chrono::seconds{30})) << sink.request_count();
    txrelay.kill(SIGKILL);
    int status = txrelay.wait();
    ASSERT_TRUE(WIFSIGNALED(status));
  }
  auto before_restart = sink.request_count();
  healthy.store(true);
  sink.release_stalled({});

  child_process restarted{serve_args(config, db.url())};
  ASSERT_NE(listening_port(restarted), 0);

  auto received = wait_for_events(sink, acknowledged, std::chrono::seconds{60}, [] { return true; });
  EXPECT_EQ(missing_from(acknowledged, received), 0u) << "acknowledged events never delivered";
  auto twice = received_twice(received);
  std::cout << "[crash_recovery] " << events << " events acknowledged; " << before_restart
            << " requests before the kill; " << twice << " events arrived more than once (at-least-once)\n";
  RecordProperty("duplicates", static_cast<int>(twice));
  EXPECT_EQ(db.scalar("SELECT count(*) FROM txrelay.events"), std::to_string(events));
  restarted.kill(SIGTERM);
  int status = restarted.wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "graceful stop on SIGTERM";
}

} // namespace
