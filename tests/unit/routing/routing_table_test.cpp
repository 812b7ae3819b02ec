#include "routing/routing_table.hpp"

#include "expr/event_document.hpp"

#include <gtest/gtest.h>

namespace txrelay {
namespace {

using sinks = std::vector<std::string>;

route_rule rule(std::string topic, sinks to, std::string_view when = {}) {
  route_rule r{std::move(topic), std::nullopt, std::move(to)};
  if (!when.empty()) {
    auto c = condition::parse(when);
    EXPECT_TRUE(c) << c.error().to_string();
    r.when = std::move(*c);
  }
  return r;
}

json_value event(std::string_view topic, std::string_view payload) {
  return event_document_from_json(event_fields{topic, std::nullopt, "", "", ""}, payload);
}

TEST(routing_table, exact_topic_match) {
  routing_table t{{rule("order.created", {"a"}), rule("order.paid", {"b"})}, {"a", "b"}};
  EXPECT_EQ(t.sinks_for("order.created"), sinks{"a"});
  EXPECT_EQ(t.sinks_for("order.paid"), sinks{"b"});
  EXPECT_TRUE(t.sinks_for("order").empty());
  EXPECT_TRUE(t.sinks_for("order.created.v2").empty());
  EXPECT_TRUE(t.sinks_for("ORDER.CREATED").empty());
  EXPECT_TRUE(t.routes_topic("order.paid"));
  EXPECT_FALSE(t.routes_topic("order"));
  EXPECT_FALSE(t.needs_event("order.paid"));
}

TEST(routing_table, results_follow_sink_order_not_rule_order) {
  routing_table t{{rule("t", {"c", "a", "b"})}, {"a", "b", "c"}};
  EXPECT_EQ(t.sinks_for("t"), (sinks{"a", "b", "c"}));
}

TEST(routing_table, duplicates_collapse_across_rules) {
  routing_table t{{rule("t", {"b", "a", "b"}), rule("t", {"a", "c"})}, {"a", "b", "c"}};
  EXPECT_EQ(t.sinks_for("t"), (sinks{"a", "b", "c"}));
}

TEST(routing_table, sinks_missing_from_sink_order_are_skipped) {
  routing_table t{{rule("t", {"disabled", "a"}), rule("only-disabled", {"disabled"})}, {"a"}};
  EXPECT_EQ(t.sinks_for("t"), sinks{"a"});
  EXPECT_TRUE(t.sinks_for("only-disabled").empty());
  EXPECT_TRUE(t.routes_topic("only-disabled"));
  routing_table empty;
  EXPECT_TRUE(empty.sinks_for("t").empty());
}

// Scenario 3: which notification fires depends on the poll's content.
TEST(routing_table, conditions_choose_sinks_by_content) {
  routing_table t{{rule("poll", {"open-polls"}, "payload.closed == false"),
                   rule("poll", {"closed-polls"}, "payload.closed == true"), rule("poll", {"audit"})},
                  {"open-polls", "closed-polls", "audit"}};
  EXPECT_TRUE(t.needs_event("poll"));
  auto open = event("poll", R"({"closed": false})");
  auto closed = event("poll", R"({"closed": true})");
  auto unknown = event("poll", R"({})");
  EXPECT_EQ(t.sinks_for("poll", &open), (sinks{"open-polls", "audit"}));
  EXPECT_EQ(t.sinks_for("poll", &closed), (sinks{"closed-polls", "audit"}));
  EXPECT_EQ(t.sinks_for("poll", &unknown), (sinks{"audit"})); // a missing field is null: neither holds
}

TEST(routing_table, a_routed_topic_can_match_no_sink) {
  routing_table t{{rule("review", {"top"}, "payload.rating >= 4 && payload.menu != null")}, {"top"}};
  auto low = event("review", R"({"rating": 2, "menu": "x"})");
  auto good = event("review", R"({"rating": 5, "menu": "x"})");
  auto no_menu = event("review", R"({"rating": 5})");
  EXPECT_TRUE(t.sinks_for("review", &low).empty());
  EXPECT_EQ(t.sinks_for("review", &good), sinks{"top"});
  EXPECT_TRUE(t.sinks_for("review", &no_menu).empty());
  EXPECT_TRUE(t.sinks_for("review", nullptr).empty()); // no document: every field is missing
}

} // namespace
} // namespace txrelay
