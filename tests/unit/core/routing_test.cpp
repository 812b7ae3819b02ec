#include "core/routing.hpp"

#include <gtest/gtest.h>

namespace txrelay {
namespace {

using sinks = std::vector<std::string>;

TEST(routing_table, exact_topic_match) {
  routing_table t{{{"order.created", {"a"}}, {"order.paid", {"b"}}}, {"a", "b"}};
  EXPECT_EQ(t.sinks_for("order.created"), sinks{"a"});
  EXPECT_EQ(t.sinks_for("order.paid"), sinks{"b"});
  EXPECT_TRUE(t.sinks_for("order").empty());
  EXPECT_TRUE(t.sinks_for("order.created.v2").empty());
  EXPECT_TRUE(t.sinks_for("ORDER.CREATED").empty());
}

TEST(routing_table, results_follow_sink_order_not_rule_order) {
  routing_table t{{{"t", {"c", "a", "b"}}}, {"a", "b", "c"}};
  EXPECT_EQ(t.sinks_for("t"), (sinks{"a", "b", "c"}));
}

TEST(routing_table, duplicates_collapse_across_rules) {
  routing_table t{{{"t", {"b", "a", "b"}}, {"t", {"a", "c"}}}, {"a", "b", "c"}};
  EXPECT_EQ(t.sinks_for("t"), (sinks{"a", "b", "c"}));
}

TEST(routing_table, sinks_missing_from_sink_order_are_skipped) {
  routing_table t{{{"t", {"disabled", "a"}}, {"only-disabled", {"disabled"}}}, {"a"}};
  EXPECT_EQ(t.sinks_for("t"), sinks{"a"});
  EXPECT_TRUE(t.sinks_for("only-disabled").empty());
}

TEST(routing_table, unknown_topics_share_one_empty_vector) {
  routing_table t{{{"t", {"a"}}}, {"a"}};
  const auto& x = t.sinks_for("nope");
  const auto& y = t.sinks_for("also-nope");
  EXPECT_TRUE(x.empty());
  EXPECT_EQ(&x, &y);
  routing_table empty;
  EXPECT_TRUE(empty.sinks_for("t").empty());
}

} // namespace
} // namespace txrelay
