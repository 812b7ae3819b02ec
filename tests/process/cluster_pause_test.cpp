// A node that is merely slow: the sink's owner is stopped with SIGSTOP
// until its lease has expired and another node has taken the sink over,
// then continued. It checks its lease's end on its own clock before every
// attempt, so on waking it sends nothing for the sink until it holds the
// lease again; its late outcomes change nothing that was finished; and
// every acknowledged event is delivered.
#include "actors/cluster_actor.hpp"
#include "process/txrelay_process.hpp"
#include "support/http_test_client.hpp"
#include "support/test_database.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <mutex>
#include <thread>

using namespace txrelay::testing;
using namespace std::chrono_literals;

namespace {

std::string node_config(const std::string& node, const std::string& sink_url) {
  return write_temp_config("stopped-" + node, "node: {id: " + node + "}\n"
                                              "sinks:\n"
                                              "  - {name: hook, kind: webhook, url: \"" + sink_url + "\", max_in_flight: 4}\n"
                                              "routes:\n"
                                              "  - {topic: t, sinks: [hook]}\n");
}

TEST(cluster_pause, a_node_stopped_past_its_lease_sends_nothing_when_it_wakes) {
  TXRELAY_REQUIRE_DATABASE();
  test_database db;
  fake_sink_server sink;
  // Each node's sink URL names the node (the same sink, as configured on each).
  const std::vector<std::string> ids{"p1", "p2"};
  std::vector<std::unique_ptr<child_process>> nodes;
  std::vector<std::uint16_t> ports;
  for (const auto& id : ids) {
    nodes.push_back(std::make_unique<child_process>(serve_args(node_config(id, sink.url("/" + id)), db.url())));
    ports.push_back(listening_port(*nodes.back()));
    ASSERT_NE(ports.back(), 0);
  }
  const auto owner = txrelay::sink_owner(ids, "hook");
  const std::size_t slow = owner == ids[0] ? 0 : 1, other = 1 - slow;
  auto held_by = [&](const std::string& who) { return lease_holder(db, "hook") == who; };
  ASSERT_TRUE(eventually([&] { return held_by(owner); }, 30s));
  // Slow answers to the owner: it falls behind the clients, so when it is
  // stopped it holds deliveries that are due, which it would send on waking
  // if it did not check its lease.
  sink.set_behaviour([slow_target = "/" + owner](const recorded_request& r, std::size_t) {
    if (r.target == slow_target)
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
    return fake_reply{};
  });

  // Clients post to the other node only: the stopped one answers nobody.
  std::mutex mutex;
  std::set<std::string> acknowledged;
  std::atomic<bool> stop_posting{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < 2; ++c)
    clients.emplace_back([&, c] {
      for (int i = c; !stop_posting; i += 2) {
        std::this_thread::sleep_for(std::chrono::milliseconds{10}); // a steady trickle, not a flood
        auto res = post_json(ports[other], "/v1/events", R"({"topic":"t","payload":{"n":)" + std::to_string(i) + "}}");
        if (res.status == 201) {
          std::lock_guard guard{mutex};
          acknowledged.insert(*json_string_at(res.body, "/id"));
        }
      }
    });
  ASSERT_TRUE(sink.wait_for_requests(100, 30s));

  nodes[slow]->kill(SIGSTOP);
  const auto stopped_at = std::chrono::system_clock::now();
  ASSERT_TRUE(eventually([&] { return held_by(ids[other]); }, 40s)) << "the stopped node's lease was not taken over";
  auto sent_by = [&](const std::string& node) {
    auto requests = sink.requests();
    return std::count_if(requests.begin(), requests.end(), [&](const auto& r) { return r.target == "/" + node; });
  };
  // The new owner sends a while; the stopped node's deliveries wait, held.
  const auto by_other_before = sent_by(ids[other]);
  ASSERT_TRUE(eventually([&] { return sent_by(ids[other]) >= by_other_before + 100; }, 30s));
  nodes[slow]->kill(SIGCONT);
  const auto woke_at = std::chrono::system_clock::now();
  // Awake past the window the check looks at, and the lease back with its owner.
  ASSERT_TRUE(eventually([&] { return std::chrono::system_clock::now() > woke_at + 1s && held_by(owner); }, 30s));
  stop_posting = true;
  for (auto& t : clients)
    t.join();

  auto received = wait_for_events(sink, acknowledged, 60s, [] { return true; });
  EXPECT_EQ(missing_from(acknowledged, received), 0u) << "acknowledged events never delivered";
  // On waking, its permission had run out: not one request from it before
  // it could have taken the lease back (its next beat, after the new
  // owner's handover).
  std::size_t sent_on_waking = 0, sent_by_other_while_stopped = 0;
  for (const auto& r : sink.requests()) {
    if (r.target == "/" + ids[slow] && r.received_at > woke_at && r.received_at < woke_at + 500ms)
      ++sent_on_waking;
    if (r.target == "/" + ids[other] && r.received_at > stopped_at && r.received_at < woke_at)
      ++sent_by_other_while_stopped;
  }
  std::cout << "[cluster_pause] " << acknowledged.size() << " acknowledged; " << sent_by_other_while_stopped
            << " sent by the new owner while the old one was stopped; " << sent_on_waking
            << " by the old one in its first 500 ms awake; " << received_twice(received) << " arrived twice\n";
  EXPECT_GT(sent_by_other_while_stopped, 0u);
  EXPECT_EQ(sent_on_waking, 0u) << "the woken node sent without a lease";
  EXPECT_EQ(resent_after_delivery_before(sink, stopped_at - 1s), std::vector<std::string>{})
    << "delivered before the stop and sent again";
  for (auto& n : nodes)
    n->kill(SIGTERM);
  for (auto& n : nodes)
    n->wait();
}

} // namespace
