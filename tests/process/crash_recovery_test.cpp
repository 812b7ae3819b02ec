// The promise of the outbox, tested on the real binary: every event that got
// a 201 reaches its sink, even when txrelay is killed with SIGKILL while
// deliveries are in flight.
#include "support/child_process.hpp"
#include "support/fake_sink_server.hpp"
#include "support/http_test_client.hpp"
#include "support/json_probe.hpp"
#include "support/test_database.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <sys/wait.h>

using namespace txrelay::testing;

namespace {

std::string write_config(const std::string& sink_url) {
  auto path = ::testing::TempDir() + "txrelay-crash-" + std::to_string(::getpid()) + ".yaml";
  std::ofstream out{path};
  out << "sinks:\n"
         "  - name: hook\n"
         "    kind: webhook\n"
         "    url: \"" << sink_url << "\"\n"
         "    timeout: 30s\n"
         "    retry: {max_attempts: 50, base: 10ms, cap: 200ms}\n"
         "routes:\n"
         "  - topic: feedback\n"
         "    sinks: [hook]\n";
  return path;
}

std::uint16_t listening_port(child_process& proc) {
  auto line = proc.wait_for_line("listening on port ", std::chrono::seconds{30});
  if (!line) {
    std::string all;
    for (const auto& l : proc.lines())
      all += l + "\n";
    ADD_FAILURE() << "txrelay did not start:\n" << all;
    return 0;
  }
  auto pos = line->find("listening on port ") + 18;
  return static_cast<std::uint16_t>(std::stoi(line->substr(pos)));
}

std::vector<std::string> serve_args(const std::string& config, const std::string& db_url) {
  return {TXRELAY_BINARY, "serve", "--config", config, "--listen", "127.0.0.1:0", "--database-url", db_url};
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

  std::map<std::string, int> received;
  auto all_arrived = [&] {
    received.clear();
    for (const auto& r : sink.requests())
      if (auto id = json_string_at(r.body, "/id"))
        ++received[*id];
    for (const auto& id : acknowledged)
      if (received.count(id) == 0)
        return false;
    return true;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{60};
  while (!all_arrived() && std::chrono::steady_clock::now() < deadline)
    sink.wait_for_requests(sink.request_count() + 1, std::chrono::milliseconds{200});
  std::size_t missing = 0;
  for (const auto& id : acknowledged)
    missing += received.count(id) == 0 ? 1 : 0;
  EXPECT_EQ(missing, 0u) << "acknowledged events never delivered";

  std::size_t twice = 0;
  for (const auto& [id, n] : received)
    twice += n > 1 ? 1 : 0;
  std::cout << "[crash_recovery] " << events << " events acknowledged; " << before_restart
            << " requests before the kill; " << twice << " events arrived more than once (at-least-once)\n";
  RecordProperty("duplicates", static_cast<int>(twice));
  EXPECT_EQ(db.scalar("SELECT count(*) FROM txrelay.events"), std::to_string(events));
  restarted.kill(SIGTERM);
  int status = restarted.wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "graceful stop on SIGTERM";
}

} // namespace
