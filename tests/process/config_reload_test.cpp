// SIGHUP on the real binary while clients post: a changed sink moves to its
// new URL without losing or repeating a delivery, an added sink receives
// every event routed to it from the switch on, and a broken file is refused
// without stopping anything.
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

std::string config_text(const std::string& hook_url, const std::string& audit_url) {
  std::string yaml = "sinks:\n"
                     "  - {name: hook, kind: webhook, url: \"" + hook_url + "\", max_in_flight: 8}\n";
  if (!audit_url.empty())
    yaml += "  - {name: audit, kind: webhook, url: \"" + audit_url + "\"}\n";
  yaml += "routes:\n  - topic: feedback\n    sinks: [hook" + std::string{audit_url.empty() ? "" : ", audit"} + "]\n";
  return yaml;
}

TEST(config_reload, sighup_under_load_switches_sinks_without_losing_or_repeating_a_delivery) {
  TXRELAY_REQUIRE_DATABASE();
  test_database db;
  auto slow = [](const recorded_request&, std::size_t) {
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
    return fake_reply{};
  };
  fake_sink_server hook_before{slow}, hook_after{slow}, audit;
  auto config = write_temp_config("reload", config_text(hook_before.url(), ""));
  child_process txrelay{serve_args(config, db.url())};
  auto port = listening_port(txrelay);
  ASSERT_NE(port, 0);

  std::mutex mutex;
  std::set<std::string> acknowledged, routed_to_audit;
  std::atomic<bool> stop_posting{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      for (int i = c; !stop_posting; i += 4) {
        auto res = post_json(port, "/v1/events", R"({"topic":"feedback","payload":{"n":)" + std::to_string(i) + "}}");
        if (res.status != 201)
          continue;
        std::lock_guard guard{mutex};
        auto id = *json_string_at(res.body, "/id");
        acknowledged.insert(id);
        for (int d = 0; d < json_array_size(res.body, "/deliveries"); ++d)
          if (json_string_at(res.body, "/deliveries/" + std::to_string(d) + "/sink") == "audit")
            routed_to_audit.insert(id);
      }
    });
  }
  ASSERT_TRUE(hook_before.wait_for_requests(100, std::chrono::seconds{30}));

  std::ofstream{config, std::ios::trunc} << config_text(hook_after.url(), audit.url());
  txrelay.kill(SIGHUP);
  auto applied = txrelay.wait_for_line("config reload of", std::chrono::seconds{30});
  ASSERT_TRUE(applied) << "no reload was logged";
  EXPECT_NE(applied->find("added audit; changed hook;"), std::string::npos) << *applied;
  ASSERT_TRUE(hook_after.wait_for_requests(100, std::chrono::seconds{30}));
  ASSERT_TRUE(audit.wait_for_requests(100, std::chrono::seconds{30}));

  // A file that does not load: logged, refused, and everything keeps running.
  std::ofstream{config, std::ios::trunc} << "sinks: [oops\n";
  txrelay.kill(SIGHUP);
  ASSERT_TRUE(txrelay.wait_for_line("config reload refused", std::chrono::seconds{30}));
  auto after_refusal = hook_after.request_count();
  ASSERT_TRUE(hook_after.wait_for_requests(after_refusal + 20, std::chrono::seconds{30}));
  stop_posting = true;
  for (auto& t : clients)
    t.join();

  // Every acknowledged event reached hook once, at its old or its new URL.
  std::map<std::string, int> hook_received;
  auto count_hook = [&] {
    hook_received = received_event_ids(hook_before);
    for (const auto& [id, n] : received_event_ids(hook_after))
      hook_received[id] += n;
  };
  auto audit_received = wait_for_events(audit, routed_to_audit, std::chrono::seconds{60}, [&] {
    count_hook();
    return missing_from(acknowledged, hook_received) == 0 &&
           db.scalar("SELECT count(*) FROM txrelay.delivery_status WHERE status = 'pending'") == "0";
  });
  count_hook();
  std::cout << "[config_reload] " << acknowledged.size() << " events acknowledged, " << routed_to_audit.size()
            << " of them after the reload (routed to audit too); hook got " << hook_before.request_count()
            << " before and " << hook_after.request_count() << " after\n";
  EXPECT_FALSE(routed_to_audit.empty());
  EXPECT_LT(routed_to_audit.size(), acknowledged.size());
  EXPECT_EQ(missing_from(acknowledged, hook_received), 0u);
  EXPECT_EQ(received_twice(hook_received), 0u) << "the changed sink's restart sent a delivery twice";
  EXPECT_EQ(missing_from(routed_to_audit, audit_received), 0u);
  EXPECT_EQ(received_twice(audit_received), 0u);
  EXPECT_EQ(audit_received.size(), routed_to_audit.size()) << "audit got an event routed before it existed";

  txrelay.kill(SIGTERM);
  int status = txrelay.wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "exit status " << status;
}

} // namespace
