// A sink divided into partitions: each partition is leased and sent to like
// a sink of its own, so several nodes send to one endpoint at once while
// each key keeps its order; a changed partition count moves the open rows.
#include "actors/cluster_actor.hpp"
#include "core/partition.hpp"
#include "pg/engine_harness.hpp"
#include "pg/lease_holders.hpp"
#include "support/fake_sink_server.hpp"
#include "support/json_probe.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

using namespace txrelay;
using namespace txrelay::testing;
using namespace std::chrono_literals;

namespace {

class partitions_pgtest : public ::testing::Test {
protected:
  void SetUp() override {
    TXRELAY_REQUIRE_DATABASE();
    db = std::make_unique<test_database>();
  }

  std::string config(const std::string& node, int partitions) const {
    return "node: {id: " + node + "}\n"
           "sinks:\n"
           "  - {name: feed, kind: webhook, url: \"" + feed.url() + "\", ordering: per_key, partitions: " +
           std::to_string(partitions) + "}\n"
           "routes:\n"
           "  - {topic: t, sinks: [feed]}\n";
  }

  void post(engine_harness& node, int n) {
    ASSERT_EQ(node.post_event(R"({"topic":"t","key":"k)" + std::to_string(n % 25) + R"(","payload":{"n":)" +
                              std::to_string(n) + "}}")
                .status,
              201);
  }

  /// Every key's events arrived in the order they were posted, each once.
  void expect_per_key_order(std::size_t total) {
    std::map<std::string, int> last;
    std::set<int> seen;
    for (const auto& r : feed.requests()) {
      auto key = json_string_at(r.body, "/key").value_or("?");
      auto n = static_cast<int>(json_int_at(r.body, "/payload/n").value_or(-1));
      EXPECT_TRUE(seen.insert(n).second) << n << " arrived twice";
      auto it = last.find(key);
      EXPECT_TRUE(it == last.end() || n > it->second) << key << ": " << n << " arrived after " << it->second;
      last[key] = n;
    }
    EXPECT_EQ(seen.size(), total);
  }

  std::string pending() const {
    return db->scalar("SELECT count(*) FROM txrelay.delivery_status WHERE status = 'pending'");
  }

  std::unique_ptr<test_database> db;
  fake_sink_server feed;
};

TEST_F(partitions_pgtest, two_nodes_send_to_one_sink_at_once_and_each_key_keeps_its_order) {
  engine_harness a{*db, config("node-a", 4)}, b{*db, config("node-b", 4)};
  std::map<std::string, std::string> owners;
  std::set<std::string> owning_nodes;
  for (int i = 0; i < 4; ++i) {
    auto part = partition_name("feed", i);
    owners[part] = sink_owner({"node-a", "node-b"}, part);
    owning_nodes.insert(owners[part]);
  }
  ASSERT_EQ(owning_nodes.size(), 2u) << "these names put every partition on one node; the test needs both";
  ASSERT_TRUE(eventually([&] { return sink_lease_holders(a) == owners; }, 20s)) << a.get("/v1/nodes").body;

  constexpr int total = 200;
  for (int n = 0; n < total; ++n)
    post(n % 2 == 0 ? a : b, n);
  ASSERT_TRUE(feed.wait_for_requests(total, 30s)) << feed.request_count();
  ASSERT_TRUE(eventually([&] { return pending() == "0"; }));
  expect_per_key_order(total);

  // Each key's rows are in the partition its key selects, as C++ and SQL compute it alike.
  std::string sql_partition = partition_sql_template;
  sql_partition.replace(sql_partition.find("%KEY%"), 5, "e.key");
  sql_partition.replace(sql_partition.find("%N%"), 3, "4");
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.delivery_status d JOIN txrelay.events e ON e.id = d.event_id "
                       "WHERE d.sink <> 'feed.' || " + sql_partition),
            "0");
  for (int k = 0; k < 25; ++k) {
    auto key = "k" + std::to_string(k);
    EXPECT_EQ(db->scalar("SELECT string_agg(DISTINCT d.sink, ',') FROM txrelay.delivery_status d JOIN txrelay.events e "
                         "ON e.id = d.event_id WHERE e.key = '" + key + "'"),
              partition_name("feed", partition_for(key, 4)));
  }
  auto sinks = a.get("/v1/sinks").body;
  EXPECT_EQ(json_array_size(sinks, "/sinks"), 4);
  EXPECT_EQ(json_string_at(sinks, "/sinks/2/name"), "feed.2");
  EXPECT_EQ(json_string_at(sinks, "/sinks/2/partition_of"), "feed");
}

TEST_F(partitions_pgtest, a_changed_partition_count_moves_the_pending_rows_at_the_next_start) {
  auto node = std::make_unique<engine_harness>(*db, config("node-a", 4));
  // The sink's name pauses every partition.
  auto paused = post_json(node->port(), "/v1/sinks/feed/pause", "");
  ASSERT_EQ(paused.status, 200) << paused.body;
  constexpr int total = 60;
  for (int n = 0; n < total; ++n)
    post(*node, n);
  EXPECT_EQ(db->scalar("SELECT count(DISTINCT sink) FROM txrelay.delivery_status WHERE status = 'pending'"), "4");
  EXPECT_EQ(feed.request_count(), 0u);

  node.reset();
  node = std::make_unique<engine_harness>(*db, config("node-a", 2));
  EXPECT_EQ(db->scalar("SELECT string_agg(DISTINCT sink, ',' ORDER BY sink) FROM txrelay.delivery_status "
                       "WHERE status = 'pending'"),
            "feed.0,feed.1");
  EXPECT_EQ(pending(), std::to_string(total));
  for (int k = 0; k < 25; ++k) {
    auto key = "k" + std::to_string(k);
    EXPECT_EQ(db->scalar("SELECT string_agg(DISTINCT d.sink, ',') FROM txrelay.delivery_status d JOIN txrelay.events e "
                         "ON e.id = d.event_id WHERE e.key = '" + key + "'"),
              partition_name("feed", partition_for(key, 2)));
  }

  // Still paused (the pause was stored per partition); resumed by name, every row goes once, in key order.
  EXPECT_EQ(feed.request_count(), 0u);
  auto resumed = post_json(node->port(), "/v1/sinks/feed/resume", "");
  ASSERT_EQ(resumed.status, 200) << resumed.body;
  ASSERT_TRUE(feed.wait_for_requests(total, 30s)) << feed.request_count();
  ASSERT_TRUE(eventually([&] { return pending() == "0"; }));
  expect_per_key_order(total);

  // Back to one: the sink itself, and its name no longer has partitions.
  node.reset();
  node = std::make_unique<engine_harness>(*db, config("node-a", 1));
  post(*node, total);
  ASSERT_TRUE(feed.wait_for_requests(total + 1, 10s));
  EXPECT_EQ(db->scalar("SELECT sink FROM txrelay.delivery_status ORDER BY id DESC LIMIT 1"), "feed");
}

TEST_F(partitions_pgtest, a_grown_partition_count_moves_each_key_to_its_one_new_partition) {
  // 2 -> 3: most keys select another partition, some of which still exists.
  auto node = std::make_unique<engine_harness>(*db, config("node-a", 2));
  ASSERT_EQ(post_json(node->port(), "/v1/sinks/feed/pause", "").status, 200);
  constexpr int total = 75;
  for (int n = 0; n < total; ++n)
    post(*node, n);
  node.reset();
  node = std::make_unique<engine_harness>(*db, config("node-a", 3));
  for (int k = 0; k < 25; ++k) {
    auto key = "k" + std::to_string(k);
    EXPECT_EQ(db->scalar("SELECT string_agg(DISTINCT d.sink, ',') FROM txrelay.delivery_status d JOIN txrelay.events e "
                         "ON e.id = d.event_id WHERE e.key = '" + key + "'"),
              partition_name("feed", partition_for(key, 3)));
  }
  // feed.2 is new: it starts unpaused (nothing stored for it), the others as they were.
  ASSERT_EQ(post_json(node->port(), "/v1/sinks/feed/resume", "").status, 200);
  for (int n = total; n < total + 25; ++n)
    post(*node, n);
  ASSERT_TRUE(feed.wait_for_requests(total + 25, 30s)) << feed.request_count();
  ASSERT_TRUE(eventually([&] { return pending() == "0"; }));
  expect_per_key_order(total + 25);
}

} // namespace
