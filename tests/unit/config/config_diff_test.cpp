#include "config/config_diff.hpp"

#include "env_map.hpp"

#include <gtest/gtest.h>

using namespace txrelay;
using txrelay::testing::env_map;

namespace {

txrelay_config load(const std::string& yaml) {
  auto c = load_config_text(yaml, "test.yaml", env_map());
  if (!c)
    throw std::runtime_error(c.error().to_string());
  return std::move(*c);
}

const std::string base = "sinks:\n"
                         "  - {name: a, kind: log}\n"
                         "  - {name: b, kind: webhook, url: \"http://127.0.0.1:9/b\", timeout: 2s}\n"
                         "  - {name: c, kind: log}\n"
                         "routes:\n"
                         "  - {topic: t, sinks: [a, b, c]}\n";

TEST(config_diff, the_same_file_changes_nothing) {
  EXPECT_TRUE(diff_configs(load(base), load(base)).empty());
}

TEST(config_diff, sinks_added_removed_and_changed_are_told_apart) {
  auto next = load("sinks:\n"
                   "  - {name: a, kind: log}\n"
                   "  - {name: b, kind: webhook, url: \"http://127.0.0.1:9/b\", timeout: 5s}\n"
                   "  - {name: d, kind: log}\n"
                   "routes:\n"
                   "  - {topic: t, sinks: [a, b, d]}\n");
  auto change = diff_configs(load(base), next);
  EXPECT_EQ(change.added_sinks, std::vector<std::string>{"d"});
  EXPECT_EQ(change.removed_sinks, std::vector<std::string>{"c"});
  EXPECT_EQ(change.changed_sinks, std::vector<std::string>{"b"});
  EXPECT_TRUE(change.routing_changed);
  EXPECT_TRUE(change.needs_restart.empty());
}

TEST(config_diff, the_listener_keys_and_database_need_a_restart) {
  auto next = load("server: {listen: \"127.0.0.1:9090\"}\n" + base);
  auto change = diff_configs(load(base), next);
  ASSERT_EQ(change.needs_restart.size(), 1u);
  EXPECT_NE(change.needs_restart[0].find("server"), std::string::npos);
  EXPECT_TRUE(change.added_sinks.empty() && change.changed_sinks.empty() && !change.routing_changed);
}

} // namespace
