// Events published from SQL survive a kill -9 of txrelay at any moment
// between the producer's COMMIT and their routing: each committed event is
// routed exactly once (one delivery row per sink) and delivered.
#include "persistence/pg_connection.hpp"
#include "support/child_process.hpp"
#include "support/eventually.hpp"
#include "support/fake_sink_server.hpp"
#include "support/json_probe.hpp"
#include "support/test_database.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include <sys/wait.h>

using namespace txrelay;
using namespace txrelay::testing;

namespace {

std::string write_config(const std::string& sink_url) {
  auto path = ::testing::TempDir() + "txrelay-publish-crash-" + std::to_string(::getpid()) + ".yaml";
  std::ofstream out{path};
  out << "sinks:\n"
         "  - name: hook\n"
         "    kind: webhook\n"
         "    url: \"" << sink_url << "\"\n"
         "    retry: {max_attempts: 50, base: 10ms, cap: 200ms}\n"
         "routes:\n"
         "  - topic: user.signed_up\n"
         "    sinks: [hook]\n"
         "publish: {poll_interval: 2ms, batch: 20}\n";
  return path;
}

bool started(child_process& proc) {
  if (proc.wait_for_line("listening on port ", std::chrono::seconds{30}))
    return true;
  std::string all;
  for (const auto& l : proc.lines())
    all += l + "\n";
  ADD_FAILURE() << "txrelay did not start:\n" << all;
  return false;
}

TEST(publish_crash, every_committed_event_is_routed_once_and_delivered_across_a_kill_9) {
  TXRELAY_REQUIRE_DATABASE();
  test_database db;
  fake_sink_server sink;
  auto config = write_config(sink.url());
  std::vector<std::string> args = {TXRELAY_BINARY, "serve",          "--config", config, "--listen",
                                   "127.0.0.1:0",  "--database-url", db.url()};

  // Producers publish in their own transactions, before, during and after
  // the crash: txrelay's state never matters to them.
  std::mutex mutex;
  std::set<std::string> committed;
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  auto produce = [&](int producer_id) {
    auto conn = pg::connection::open(db.url());
    if (!conn) {
      failures.fetch_add(1);
      return;
    }
    for (int i = 0; !stop.load(); ++i) {
      auto payload = R"({"producer":)" + std::to_string(producer_id) + R"(,"n":)" + std::to_string(i) + "}";
      bool rollback = i % 5 == 4; // every fifth transaction rolls back: nothing of it may arrive
      if (!conn->exec("BEGIN")) {
        failures.fetch_add(1);
        return;
      }
      auto id = conn->exec("SELECT txrelay.publish('user.signed_up', $1::jsonb, $2)::text",
                           {payload, "user-" + std::to_string(i % 7)});
      if (!id || !conn->exec(rollback ? "ROLLBACK" : "COMMIT")) {
        failures.fetch_add(1);
        return;
      }
      if (!rollback) {
        std::lock_guard guard{mutex};
        committed.insert(std::string{id->get(0, 0)});
      }
    }
  };

  {
    child_process txrelay{args}; // installs txrelay.publish() and the topics
    ASSERT_TRUE(started(txrelay));
    std::vector<std::thread> producers;
    for (int p = 0; p < 3; ++p)
      producers.emplace_back(produce, p);
    ASSERT_TRUE(sink.wait_for_requests(50, std::chrono::seconds{30})) << sink.request_count();
    txrelay.kill(SIGKILL);
    ASSERT_TRUE(WIFSIGNALED(txrelay.wait()));
    // Producers go on committing while txrelay is down.
    auto at_kill = [&] {
      std::lock_guard guard{mutex};
      return committed.size();
    }();
    ASSERT_TRUE(eventually([&] {
      std::lock_guard guard{mutex};
      return committed.size() >= at_kill + 50;
    }));
    stop.store(true);
    for (auto& t : producers)
      t.join();
  }
  ASSERT_EQ(failures.load(), 0);
  EXPECT_NE(db.scalar("SELECT count(*) FROM txrelay.unrouted_events"), "0") << "some events waited for routing";

  child_process restarted{args};
  ASSERT_TRUE(started(restarted));
  std::set<std::string> received;
  auto all_arrived = [&] {
    received.clear();
    for (const auto& r : sink.requests())
      if (auto id = json_string_at(r.body, "/id"))
        received.insert(*id);
    return std::includes(received.begin(), received.end(), committed.begin(), committed.end());
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{60};
  while (!all_arrived() && std::chrono::steady_clock::now() < deadline)
    sink.wait_for_requests(sink.request_count() + 1, std::chrono::milliseconds{200});
  std::vector<std::string> missing;
  std::set_difference(committed.begin(), committed.end(), received.begin(), received.end(),
                      std::back_inserter(missing));
  EXPECT_TRUE(missing.empty()) << missing.size() << " committed events never delivered";
  std::vector<std::string> phantoms;
  std::set_difference(received.begin(), received.end(), committed.begin(), committed.end(),
                      std::back_inserter(phantoms));
  EXPECT_TRUE(phantoms.empty()) << phantoms.size() << " delivered events were never committed";

  // Routed exactly once: one delivery row per committed event, none waiting.
  EXPECT_EQ(db.scalar("SELECT count(*) FROM txrelay.events"), std::to_string(committed.size()));
  EXPECT_EQ(db.scalar("SELECT count(*) FROM txrelay.delivery_status"), std::to_string(committed.size()));
  EXPECT_EQ(db.scalar("SELECT count(*) FROM txrelay.unrouted_events"), "0");
  std::cout << "[publish_crash] " << committed.size() << " events committed, " << sink.request_count()
            << " requests received\n";
  restarted.kill(SIGTERM);
  int status = restarted.wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

} // namespace
