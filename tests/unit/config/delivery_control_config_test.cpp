// The per-sink delivery-control keys: retry.max_age, circuit, ordering.
#include "config/config.hpp"

#include "env_map.hpp"

#include <gtest/gtest.h>

namespace txrelay {
namespace {

using namespace std::chrono_literals;
using testing::env_map;

result<txrelay_config, config_error> load(const std::string& sink_extra) {
  return load_config_text("sinks:\n"
                          "  - name: audit\n"
                          "    kind: log\n" +
                            sink_extra,
                          "test.yaml", env_map());
}

TEST(delivery_control_config, defaults) {
  auto c = load("");
  ASSERT_TRUE(c) << c.error().to_string();
  const auto& s = c->sinks.at(0);
  EXPECT_EQ(s.retry.max_age, std::nullopt);
  EXPECT_EQ(s.circuit.failure_threshold, 10);
  EXPECT_EQ(s.circuit.probe_interval, 30s);
  EXPECT_EQ(s.ordering, delivery_ordering::none);
}

TEST(delivery_control_config, reads_every_key) {
  auto c = load("    retry: {max_attempts: 4, max_age: 2h}\n"
                "    circuit: {failure_threshold: 3, probe_interval: 1500ms}\n"
                "    ordering: per_key\n");
  ASSERT_TRUE(c) << c.error().to_string();
  const auto& s = c->sinks.at(0);
  EXPECT_EQ(s.retry.max_age, std::optional<millis>{2h});
  EXPECT_EQ(s.retry.max_attempts, 4);
  EXPECT_EQ(s.circuit.failure_threshold, 3);
  EXPECT_EQ(s.circuit.probe_interval, 1500ms);
  EXPECT_EQ(s.ordering, delivery_ordering::per_key);
}

TEST(delivery_control_config, a_zero_threshold_disables_the_breaker) {
  auto c = load("    circuit: {failure_threshold: 0}\n");
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->sinks.at(0).circuit.failure_threshold, 0);
}

struct bad_case {
  std::string yaml;
  std::string key;
  std::string problem;
};

TEST(delivery_control_config, errors_name_the_key) {
  const bad_case cases[] = {
    {"    retry: {max_age: 0s}\n", "sinks[0].retry.max_age", "greater than 0"},
    {"    retry: {max_age: soon}\n", "sinks[0].retry.max_age", ""},
    {"    circuit: {failure_threshold: -1}\n", "sinks[0].circuit.failure_threshold", "from 0"},
    {"    circuit: {probe_interval: 0ms}\n", "sinks[0].circuit.probe_interval", "greater than 0"},
    {"    circuit: {threshold: 3}\n", "sinks[0].circuit.threshold", "unknown key"},
    {"    ordering: by_key\n", "sinks[0].ordering", "expected none or per_key"},
  };
  for (const auto& c : cases) {
    auto r = load(c.yaml);
    ASSERT_FALSE(r) << c.yaml;
    EXPECT_EQ(r.error().file, "test.yaml");
    EXPECT_EQ(r.error().key, c.key) << r.error().to_string();
    EXPECT_NE(r.error().problem.find(c.problem), std::string::npos) << r.error().to_string();
  }
}

} // namespace
} // namespace txrelay
