// A deploy, tested on the real binary: SIGTERM while clients post and the
// sink is receiving. Queued requests are answered, attempts under way
// finish and their outcomes are recorded, so the restarted process sends
// nothing twice; and every event that got a 201 is delivered.
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
  return write_temp_config("graceful", "server: {shutdown_grace: 10s}\n"
                                       "sinks:\n"
                                       "  - name: hook\n"
                                       "    kind: webhook\n"
                                       "    url: \"" + sink_url + "\"\n"
                                       "    timeout: 5s\n"
                                       "    max_in_flight: 8\n"
                                       "    retry: {max_attempts: 50, base: 10ms, cap: 200ms}\n"
                                       "routes:\n"
                                       "  - topic: feedback\n"
                                       "    sinks: [hook]\n");
}

TEST(graceful_restart, a_sigterm_under_load_loses_nothing_and_sends_nothing_twice) {
  TXRELAY_REQUIRE_DATABASE();
  test_database db;
  // A sink that takes 20 ms per request: attempts are always under way.
  fake_sink_server sink{[](const recorded_request&, std::size_t) {
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
    return fake_reply{};
  }};
  auto config = write_config(sink.url());

  std::set<std::string> acknowledged;
  std::mutex mutex;
  {
    child_process txrelay{serve_args(config, db.url())};
    auto port = listening_port(txrelay);
    ASSERT_NE(port, 0);
    std::atomic<bool> stop_posting{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c) {
      clients.emplace_back([&, c] {
        for (int i = c; !stop_posting; i += 4) {
          auto body = R"({"topic":"feedback","key":"user-)" + std::to_string(i % 13) + R"(","payload":{"n":)" +
                      std::to_string(i) + "}}";
          auto res = post_json(port, "/v1/events", body);
          if (res.status == 201) {
            std::lock_guard guard{mutex};
            acknowledged.insert(*json_string_at(res.body, "/id"));
          } else if (res.status == 0) {
            return; // the listener is gone
          }
        }
      });
    }
    ASSERT_TRUE(sink.wait_for_requests(60, std::chrono::seconds{30}));
    txrelay.kill(SIGTERM); // clients still posting, attempts in flight
    int status = txrelay.wait();
    stop_posting = true;
    for (auto& t : clients)
      t.join();
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "exit status " << status;
    bool graceful = false;
    for (const auto& line : txrelay.lines())
      graceful = graceful || line.find("stopped gracefully") != std::string::npos;
    EXPECT_TRUE(graceful) << "every attempt finished within the grace period, so the stop was complete";
  }
  const auto before_restart = sink.request_count();

  child_process restarted{serve_args(config, db.url())};
  ASSERT_NE(listening_port(restarted), 0);
  auto received = wait_for_events(sink, acknowledged, std::chrono::seconds{60}, [&] {
    return db.scalar("SELECT count(*) FROM txrelay.delivery_status WHERE status = 'pending'") == "0";
  });
  EXPECT_EQ(missing_from(acknowledged, received), 0u) << "acknowledged events never delivered";
  auto twice = received_twice(received);
  std::cout << "[graceful_restart] " << acknowledged.size() << " events acknowledged; " << before_restart
            << " requests before the restart; " << twice << " events arrived more than once\n";
  RecordProperty("duplicates", static_cast<int>(twice));
  EXPECT_EQ(twice, 0u) << "an attempt under way at SIGTERM was sent again after the restart";
  restarted.kill(SIGTERM);
  int status = restarted.wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

} // namespace
