// Several nodes on one database, in one test process: each an engine with
// its own actors, HTTP server and connections, told apart by node.id. The
// sinks are divided between the live nodes, each event reaches each sink
// once whichever node took it in, and sinks move when a node leaves or joins.
#include "actors/cluster_actor.hpp"
#include "pg/engine_harness.hpp"
#include "pg/lease_holders.hpp"
#include "support/fake_discord_server.hpp"
#include "support/fake_sink_server.hpp"
#include "support/json_probe.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

using namespace txrelay;
using namespace txrelay::testing;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> sink_names{"s0", "s1", "s2", "s3", "s4", "s5"};

class cluster_pgtest : public ::testing::Test {
protected:
  void SetUp() override {
    TXRELAY_REQUIRE_DATABASE();
    db = std::make_unique<test_database>();
    for (std::size_t i = 0; i < sink_names.size(); ++i)
      servers.push_back(std::make_unique<fake_sink_server>());
  }

  std::string yaml(const std::string& node) const {
    std::string out = "node: {id: " + node + "}\nsinks:\n";
    for (std::size_t i = 0; i < sink_names.size(); ++i)
      out += "  - {name: " + sink_names[i] + ", kind: webhook, url: \"" + servers[i]->url() + "\", max_in_flight: 4}\n";
    out += "routes:\n  - topic: t\n    sinks: [s0, s1, s2, s3, s4, s5]\n";
    return out;
  }

  static std::map<std::string, std::string> expected_owners(const std::vector<std::string>& live) {
    std::map<std::string, std::string> owners;
    for (const auto& sink : sink_names)
      owners[sink] = sink_owner(live, sink);
    return owners;
  }

  /// Each sink's received event ids, with how often each came.
  std::vector<std::map<std::string, int>> received() const {
    std::vector<std::map<std::string, int>> all;
    for (const auto& s : servers) {
      std::map<std::string, int> ids;
      for (const auto& r : s->requests())
        if (auto id = json_string_at(r.body, "/id"))
          ++ids[*id];
      all.push_back(std::move(ids));
    }
    return all;
  }

  std::set<std::string> post_round_robin(const std::vector<engine_harness*>& nodes, int count) {
    std::set<std::string> ids;
    for (int i = 0; i < count; ++i) {
      auto res = nodes[static_cast<std::size_t>(i) % nodes.size()]->post_event(
        R"({"topic":"t","payload":{"n":)" + std::to_string(i) + "}}");
      EXPECT_EQ(res.status, 201) << res.body;
      if (auto id = json_string_at(res.body, "/id"))
        ids.insert(*id);
    }
    return ids;
  }

  /// Every sink got every id, exactly once.
  void expect_each_once(const std::set<std::string>& ids) {
    ASSERT_TRUE(eventually(
      [&] {
        for (const auto& per_sink : received())
          for (const auto& id : ids)
            if (per_sink.count(id) == 0)
              return false;
        return true;
      },
      20s));
    auto all = received();
    for (std::size_t s = 0; s < all.size(); ++s)
      for (const auto& [id, n] : all[s])
        EXPECT_EQ(n, 1) << sink_names[s] << " got " << id << " " << n << " times";
  }

  std::unique_ptr<test_database> db;
  std::vector<std::unique_ptr<fake_sink_server>> servers;
};

TEST_F(cluster_pgtest, sinks_are_divided_between_live_nodes_and_every_event_reaches_every_sink_once) {
  engine_harness a{*db, yaml("node-a")}, b{*db, yaml("node-b")}, c{*db, yaml("node-c")};
  const auto owners = expected_owners({"node-a", "node-b", "node-c"});
  ASSERT_TRUE(eventually([&] { return sink_lease_holders(a) == owners; }, 20s))
    << "leases do not follow the owners every node computes; GET /v1/nodes: " << a.get("/v1/nodes").body;
  auto nodes = a.get("/v1/nodes").body;
  EXPECT_EQ(json_string_at(nodes, "/self"), "node-a");
  EXPECT_EQ(json_array_size(nodes, "/nodes"), 3);
  EXPECT_EQ(json_raw_at(nodes, "/nodes/1/live"), "true");
  for (auto* e : {&a, &b, &c})
    EXPECT_NE(e->get("/metrics").body.find("txrelay_cluster_nodes 3"), std::string::npos);

  // Posted to every node in turn: each node's rows reach the sinks' owners.
  auto ids = post_round_robin({&a, &b, &c}, 60);
  expect_each_once(ids);
}

TEST_F(cluster_pgtest, a_node_that_leaves_hands_its_sinks_over_and_gets_them_back_when_it_returns) {
  auto a = std::make_unique<engine_harness>(*db, yaml("node-a"));
  engine_harness b{*db, yaml("node-b")};
  ASSERT_TRUE(eventually([&] { return sink_lease_holders(b) == expected_owners({"node-a", "node-b"}); }, 20s))
    << b.get("/v1/nodes").body;
  auto first = post_round_robin({a.get(), &b}, 20);

  // A graceful stop gives the leases back: b takes every sink at its next beat.
  a->stop();
  std::map<std::string, std::string> all_b;
  for (const auto& sink : sink_names)
    all_b[sink] = "node-b";
  ASSERT_TRUE(eventually([&] { return sink_lease_holders(b) == all_b; }, 20s)) << b.get("/v1/nodes").body;
  auto second = post_round_robin({&b}, 20);

  // a returns: the sinks it owns move back to it, and nothing is sent twice.
  a = std::make_unique<engine_harness>(*db, yaml("node-a"));
  ASSERT_TRUE(eventually([&] { return sink_lease_holders(b) == expected_owners({"node-a", "node-b"}); }, 20s))
    << b.get("/v1/nodes").body;
  auto third = post_round_robin({a.get(), &b}, 20);
  std::set<std::string> ids;
  for (const auto* part : {&first, &second, &third})
    ids.insert(part->begin(), part->end());
  expect_each_once(ids);
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.delivery_status WHERE status <> 'delivered'"), "0");
}

TEST_F(cluster_pgtest, a_pause_sent_to_any_node_holds_the_sink_on_its_owner_and_survives_a_restart) {
  auto a = std::make_unique<engine_harness>(*db, yaml("node-a"));
  auto b = std::make_unique<engine_harness>(*db, yaml("node-b"));
  const auto owners = expected_owners({"node-a", "node-b"});
  ASSERT_TRUE(eventually([&] { return sink_lease_holders(*a) == owners; }, 20s)) << a->get("/v1/nodes").body;
  // A sink that node-b sends to, paused through node-a.
  std::size_t held = 0;
  while (held < sink_names.size() && owners.at(sink_names[held]) != "node-b")
    ++held;
  ASSERT_LT(held, sink_names.size()) << "node-b owns no sink with these names";
  const auto& name = sink_names[held];
  auto paused = post_json(a->port(), "/v1/sinks/" + name + "/pause", "");
  ASSERT_EQ(paused.status, 200) << paused.body;
  // The owner learns of it by a notification (milliseconds), at the latest at its next beat.
  auto paused_on = [&](const engine_harness& e) {
    return e.get("/metrics").body.find("txrelay_sink_paused{sink=\"" + name + "\"} 1") != std::string::npos;
  };
  ASSERT_TRUE(eventually([&] { return paused_on(*b); }, 5s));

  auto pending_for_held = [&] {
    return db->scalar("SELECT count(*) FROM txrelay.delivery_status WHERE status = 'pending' AND sink = '" + name + "'");
  };
  auto others_have = [&](const std::set<std::string>& ids) {
    auto all = received();
    for (std::size_t s = 0; s < all.size(); ++s)
      for (const auto& id : ids)
        if (s != held && all[s].count(id) == 0)
          return false;
    return true;
  };
  auto first = post_round_robin({a.get(), b.get()}, 4);
  ASSERT_TRUE(eventually([&] { return others_have(first); }, 20s));
  EXPECT_EQ(servers[held]->request_count(), 0u) << "node-b sent to a sink paused through node-a";
  EXPECT_EQ(pending_for_held(), "4");

  // Both nodes restart: the pause is still there.
  a.reset();
  b.reset();
  a = std::make_unique<engine_harness>(*db, yaml("node-a"));
  b = std::make_unique<engine_harness>(*db, yaml("node-b"));
  ASSERT_TRUE(eventually([&] { return sink_lease_holders(*a) == owners; }, 20s));
  EXPECT_TRUE(paused_on(*b)) << "the pause did not survive the restart";
  auto second = post_round_robin({a.get(), b.get()}, 2);
  ASSERT_TRUE(eventually([&] { return others_have(second); }, 20s));
  EXPECT_EQ(servers[held]->request_count(), 0u) << "the pause did not survive the restart";
  EXPECT_NE(b->get("/v1/sinks").body.find("\"name\":\"" + name + "\""), std::string::npos);

  // Resumed through node-a again: node-b sends everything.
  auto resumed = post_json(a->port(), "/v1/sinks/" + name + "/resume", "");
  ASSERT_EQ(resumed.status, 200) << resumed.body;
  ASSERT_TRUE(servers[held]->wait_for_requests(6, 20s));
  ASSERT_TRUE(eventually([&] { return pending_for_held() == "0"; }));
}

TEST_F(cluster_pgtest, three_nodes_keep_to_a_discord_webhook_s_rate_limit_as_one_sender_would) {
  discord_fake_options options;
  options.limit = 3;
  options.window = 400ms;
  fake_discord_server discord{options};
  auto config = [&](const std::string& node) {
    return "node: {id: " + node + "}\n"
           "sinks:\n"
           "  - {name: chat, kind: discord, url: \"" + discord.webhook_url() + "\", max_in_flight: 2,\n"
           "     retry: {max_attempts: 20, base: 1ms, cap: 5ms}}\n"
           "routes:\n"
           "  - {topic: t, sinks: [chat]}\n";
  };
  engine_harness a{*db, config("node-a")}, b{*db, config("node-b")}, c{*db, config("node-c")};
  // Settled first: a sender that takes a sink over learns its bucket anew
  // (docs/scaling.md), so a move during the burst could run ahead of it.
  const auto owner = sink_owner({"node-a", "node-b", "node-c"}, "chat");
  ASSERT_TRUE(eventually([&] { return sink_lease_holders(a)["chat"] == owner; }, 20s));
  constexpr int count = 12;
  for (int i = 0; i < count; ++i) {
    auto& node = i % 3 == 0 ? a : i % 3 == 1 ? b : c;
    ASSERT_EQ(node.post_event(R"({"topic":"t","payload":{"content":"message )" + std::to_string(i) + R"("}})").status,
              201);
  }
  ASSERT_TRUE(discord.wait_for_messages(count, 30s)) << discord.messages().size() << " of " << count;
  // One sender for the webhook in the whole cluster: it learns the bucket
  // from the headers and never runs ahead of it.
  EXPECT_EQ(discord.early_request_count(), 0u);
  EXPECT_EQ(discord.messages().size(), static_cast<std::size_t>(count));
}

TEST_F(cluster_pgtest, a_broken_sink_and_a_retry_after_follow_the_sink_to_the_node_that_takes_it_over) {
  // "gone" says it is gone for good (410); "slow" asks for 6 s of quiet.
  fake_sink_server gone{[](const recorded_request&, std::size_t) { return fake_reply{410, {}, "gone"}; }};
  fake_sink_server slow{[](const recorded_request&, std::size_t n) {
    return n == 0 ? fake_reply{429, {{"Retry-After", "6"}}, "slow down"} : fake_reply{204};
  }};
  auto config = [&](const std::string& node) {
    return "node: {id: " + node + "}\n"
           "sinks:\n"
           "  - {name: gone, kind: webhook, url: \"" + gone.url() + "\"}\n"
           "  - {name: slow, kind: webhook, url: \"" + slow.url() + "\"}\n"
           "routes:\n"
           "  - {topic: t, sinks: [gone, slow]}\n";
  };
  auto a = std::make_unique<engine_harness>(*db, config("node-a"));
  ASSERT_TRUE(eventually([&] { return sink_lease_holders(*a).size() == 2; }, 20s));
  ASSERT_EQ(a->post_event(R"({"topic":"t","payload":{"n":1}})").status, 201);
  ASSERT_TRUE(gone.wait_for_requests(1, 10s));
  ASSERT_TRUE(slow.wait_for_requests(1, 10s));
  const auto asked_at = slow.requests().at(0).received_at;
  ASSERT_TRUE(eventually([&] {
    return db->scalar("SELECT count(*) FROM txrelay.sink_faults WHERE sink = 'gone' AND broken IS NOT NULL") == "1";
  }));

  // node-b joins, node-a leaves: node-b sends to both from now on. It shows
  // the broken sink before it sends to it, as every node does.
  auto b = std::make_unique<engine_harness>(*db, config("node-b"));
  auto broken_on = [&](const engine_harness& e) {
    return e.get("/metrics").body.find("txrelay_sink_broken{sink=\"gone\"} 1") != std::string::npos;
  };
  ASSERT_TRUE(eventually([&] { return broken_on(*b); }, 10s)) << b->get("/v1/sinks").body;
  a->stop();
  ASSERT_TRUE(eventually([&] { return sink_lease_holders(*b).size() == 2 && sink_lease_holders(*b)["gone"] == "node-b"; }, 20s));
  EXPECT_TRUE(broken_on(*b));

  // The broken sink gets nothing more: its deliveries are dead-lettered unsent.
  ASSERT_EQ(b->post_event(R"({"topic":"t","payload":{"n":2}})").status, 201);
  ASSERT_TRUE(eventually([&] {
    return db->scalar("SELECT count(*) FROM txrelay.delivery_status WHERE sink = 'gone' AND status = 'dead'") == "2";
  }));
  EXPECT_EQ(gone.request_count(), 1u) << "the node that took the sink over sent to a sink that said it is gone";

  // The sink that asked for quiet hears from node-b no earlier than it asked.
  ASSERT_TRUE(slow.wait_for_requests(2, 20s));
  EXPECT_GE(slow.requests().at(1).received_at - asked_at, 5900ms) << "the new owner ignored the Retry-After";

  // A resume through node-b clears the broken state for good.
  gone.set_behaviour([](const recorded_request&, std::size_t) { return fake_reply{204}; });
  ASSERT_EQ(post_json(b->port(), "/v1/sinks/gone/resume", "").status, 200);
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.sink_faults WHERE broken IS NOT NULL"), "0");
  ASSERT_EQ(b->post_event(R"({"topic":"t","payload":{"n":3}})").status, 201);
  ASSERT_TRUE(gone.wait_for_requests(2, 10s));
  ASSERT_TRUE(eventually([&] { return !broken_on(*b); }));
}

TEST_F(cluster_pgtest, per_key_order_holds_while_the_sink_moves_between_nodes) {
  fake_sink_server ordered;
  auto config = [&](const std::string& node) {
    return "node: {id: " + node + "}\n"
           "sinks:\n"
           "  - {name: feed, kind: webhook, url: \"" + ordered.url() + "\", ordering: per_key, max_in_flight: 8}\n"
           "routes:\n"
           "  - {topic: t, sinks: [feed]}\n";
  };
  auto a = std::make_unique<engine_harness>(*db, config("node-a"));
  auto b = std::make_unique<engine_harness>(*db, config("node-b"));
  const auto owner = sink_owner({"node-a", "node-b"}, "feed");
  ASSERT_TRUE(eventually([&] { return sink_lease_holders(*a)["feed"] == owner; }, 20s));
  auto& owner_node = owner == "node-a" ? a : b;
  auto& other_node = owner == "node-a" ? b : a;
  const std::string other = owner == "node-a" ? "node-b" : "node-a";

  // One client, so commit order is posting order; five keys, each numbered.
  int seq = 0;
  auto post_some = [&](int n) {
    for (int i = 0; i < n; ++i, ++seq) {
      auto& node = seq % 2 == 0 ? a : b;
      ASSERT_EQ(node->post_event(R"({"topic":"t","key":"k)" + std::to_string(seq % 5) + R"(","payload":{"n":)" +
                                 std::to_string(seq) + "}}")
                  .status,
                201);
    }
  };
  post_some(50);
  owner_node.reset(); // the owner leaves: the sink moves to the other node
  ASSERT_TRUE(eventually([&] { return sink_lease_holders(*other_node)["feed"] == other; }, 20s));
  {
    // Only one node is left: it takes every post.
    for (int i = 0; i < 50; ++i, ++seq)
      ASSERT_EQ(other_node->post_event(R"({"topic":"t","key":"k)" + std::to_string(seq % 5) + R"(","payload":{"n":)" +
                                       std::to_string(seq) + "}}")
                  .status,
                201);
  }
  ASSERT_TRUE(ordered.wait_for_requests(100, 30s)) << "the node the sink moved to did not send";
  owner_node = std::make_unique<engine_harness>(*db, config(owner)); // and back
  ASSERT_TRUE(eventually([&] { return sink_lease_holders(*other_node)["feed"] == owner; }, 20s));
  post_some(50);
  ASSERT_TRUE(ordered.wait_for_requests(150, 30s)) << ordered.request_count();
  ASSERT_TRUE(eventually([&] {
    return db->scalar("SELECT count(*) FROM txrelay.delivery_status WHERE status = 'pending'") == "0";
  }));
  std::map<std::string, int> last; // per key, the last number that arrived
  for (const auto& r : ordered.requests()) {
    auto key = json_string_at(r.body, "/key").value_or("?");
    auto n = static_cast<int>(json_int_at(r.body, "/payload/n").value_or(-1));
    auto it = last.find(key);
    EXPECT_TRUE(it == last.end() || n > it->second) << key << ": " << n << " arrived after " << it->second;
    last[key] = n;
  }
  EXPECT_EQ(ordered.request_count(), 150u) << "a delivery was sent twice";
}

} // namespace
