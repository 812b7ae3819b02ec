// `partitions`: a sink divided by event key into senders of its own.
#include "config/config.hpp"
#include "config/config_diff.hpp"
#include "core/partition.hpp"
#include "routing/event_admission.hpp"

#include "env_map.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace txrelay {
namespace {

using testing::env_map;

result<txrelay_config, config_error> load(const std::string& sink_extra) {
  return load_config_text("sinks:\n"
                          "  - name: feed\n"
                          "    kind: webhook\n"
                          "    url: \"http://127.0.0.1:9/feed\"\n"
                          "    rate_limit: {per_second: 100, burst: 20}\n" +
                            sink_extra +
                            "  - {name: audit, kind: log}\n"
                            "routes:\n"
                            "  - {topic: t, sinks: [feed, audit]}\n",
                          "test.yaml", env_map());
}

TEST(partitions_config, a_divided_sink_runs_as_its_partitions_which_share_its_rate_limit) {
  auto c = load("    partitions: 4\n");
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->sinks.at(0).partitions, 4);
  auto instances = sink_instances(c->sinks);
  ASSERT_EQ(instances.size(), 5u);
  for (int i = 0; i < 4; ++i) {
    const auto& part = instances.at(static_cast<std::size_t>(i));
    EXPECT_EQ(part.name, "feed." + std::to_string(i));
    EXPECT_EQ(part.partition_of, "feed");
    EXPECT_DOUBLE_EQ(part.rate.per_second, 25);
    EXPECT_DOUBLE_EQ(part.rate.burst, 5);
  }
  EXPECT_EQ(instances.at(4).name, "audit");
  EXPECT_TRUE(instances.at(4).partition_of.empty());
}

TEST(partitions_config, instances_are_told_apart_from_other_sinks) {
  EXPECT_TRUE(is_instance_of("feed", "feed"));
  EXPECT_TRUE(is_instance_of("feed.0", "feed"));
  EXPECT_TRUE(is_instance_of("feed.17", "feed"));
  EXPECT_FALSE(is_instance_of("feed-2", "feed"));
  EXPECT_FALSE(is_instance_of("feed.x", "feed"));
  EXPECT_FALSE(is_instance_of("feedback.1", "feed"));
  EXPECT_FALSE(is_instance_of("fee", "feed"));
}

TEST(partitions_config, errors_name_the_key) {
  for (const char* bad : {"    partitions: 0\n", "    partitions: 65\n", "    partitions: many\n"}) {
    auto c = load(bad);
    ASSERT_FALSE(c) << bad;
    EXPECT_EQ(c.error().key, "sinks[0].partitions") << c.error().to_string();
  }
  auto in_transaction = load_config_text("sinks:\n"
                                         "  - {name: p, kind: sql, phase: in_transaction, partitions: 2,\n"
                                         "     statement: \"SELECT 1\"}\n",
                                         "test.yaml", env_map());
  ASSERT_FALSE(in_transaction);
  EXPECT_EQ(in_transaction.error().key, "sinks[0].partitions");
}

TEST(partitions_config, a_changed_count_needs_a_restart_because_rows_move_at_the_start) {
  auto change = diff_configs(*load("    partitions: 4\n"), *load("    partitions: 2\n"));
  ASSERT_EQ(change.needs_restart.size(), 1u);
  EXPECT_NE(change.needs_restart[0].find("partitions changed from 4 to 2"), std::string::npos);
}

TEST(partitions_config, a_key_keeps_its_partition_and_keyless_events_take_them_in_turn) {
  auto c = load("    partitions: 4\n");
  ASSERT_TRUE(c);
  event_admission admission{routing_table{c->routes, {"feed", "audit"}}, {}, {{"feed", 4}}};
  parsed_event keyed{"t", std::string{"user-42"}, "{}"};
  auto first = admission.admit(keyed);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ(first->at(0), partition_name("feed", partition_for("user-42", 4)));
  EXPECT_EQ(first->at(1), "audit");
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(admission.admit(keyed)->at(0), first->at(0));

  std::map<std::string, int> keyless;
  for (int i = 0; i < 8; ++i)
    ++keyless[admission.admit(parsed_event{"t", std::nullopt, "{}"})->at(0)];
  EXPECT_EQ(keyless, (std::map<std::string, int>{{"feed.0", 2}, {"feed.1", 2}, {"feed.2", 2}, {"feed.3", 2}}));
}

TEST(partitions_config, keys_spread_over_every_partition) {
  std::map<int, int> counts;
  for (int i = 0; i < 4000; ++i)
    ++counts[partition_for("key-" + std::to_string(i), 8)];
  ASSERT_EQ(counts.size(), 8u);
  for (const auto& [p, n] : counts) {
    EXPECT_GE(p, 0);
    EXPECT_GT(n, 350) << "partition " << p;
    EXPECT_LT(n, 650) << "partition " << p;
  }
  EXPECT_EQ(partition_for("anything", 1), 0);
}

} // namespace
} // namespace txrelay
