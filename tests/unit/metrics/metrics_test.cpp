#include "metrics/metrics.hpp"

#include <gtest/gtest.h>

using namespace txrelay;

namespace {

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST(metrics_registry, renders_prometheus_text_with_every_series) {
  metrics_registry m;
  m.events_accepted += 3;
  m.sink("discord").delivered += 2;
  m.sink("discord").failed_attempts += 5;
  m.sink("discord").dead += 1;
  m.sink("log");
  m.actor("persistence").mailbox_size = 7;
  m.actor("sender:discord").restarts += 2;
  m.count_http_response(201);
  m.count_http_response(201);
  m.count_http_response(400);
  auto text = m.render({{"discord", 12}});
  EXPECT_TRUE(has_line(text, "txrelay_events_accepted_total 3")) << text;
  EXPECT_TRUE(has_line(text, "txrelay_sink_delivered_total{sink=\"discord\"} 2"));
  EXPECT_TRUE(has_line(text, "txrelay_sink_failed_attempts_total{sink=\"discord\"} 5"));
  EXPECT_TRUE(has_line(text, "txrelay_sink_dead_total{sink=\"discord\"} 1"));
  EXPECT_TRUE(has_line(text, "txrelay_sink_pending_deliveries{sink=\"discord\"} 12"));
  EXPECT_TRUE(has_line(text, "txrelay_sink_pending_deliveries{sink=\"log\"} 0"));
  EXPECT_TRUE(has_line(text, "txrelay_actor_mailbox_size{actor=\"persistence\"} 7"));
  EXPECT_TRUE(has_line(text, "txrelay_actor_restarts_total{actor=\"sender:discord\"} 2"));
  EXPECT_TRUE(has_line(text, "txrelay_http_requests_total{status=\"201\"} 2"));
  EXPECT_TRUE(has_line(text, "txrelay_http_requests_total{status=\"400\"} 1"));
  EXPECT_TRUE(has_line(text, "# TYPE txrelay_sink_delivered_total counter"));
  EXPECT_TRUE(has_line(text, "# TYPE txrelay_sink_in_flight gauge"));
}

TEST(metrics_registry, commit_to_attempt_latency_is_a_cumulative_histogram) {
  metrics_registry m;
  auto& h = m.sink("hook").commit_to_attempt;
  h.observe(0.0004); // in the first bucket
  h.observe(0.001);  // a bound is inclusive (le)
  h.observe(0.009);
  h.observe(30.0);   // above every bound: only +Inf
  auto text = m.render({});
  EXPECT_TRUE(has_line(text, "# TYPE txrelay_sink_commit_to_attempt_seconds histogram")) << text;
  EXPECT_TRUE(has_line(text, R"(txrelay_sink_commit_to_attempt_seconds_bucket{sink="hook",le="0.0005"} 1)")) << text;
  EXPECT_TRUE(has_line(text, R"(txrelay_sink_commit_to_attempt_seconds_bucket{sink="hook",le="0.001"} 2)")) << text;
  EXPECT_TRUE(has_line(text, R"(txrelay_sink_commit_to_attempt_seconds_bucket{sink="hook",le="0.0075"} 2)")) << text;
  EXPECT_TRUE(has_line(text, R"(txrelay_sink_commit_to_attempt_seconds_bucket{sink="hook",le="0.01"} 3)")) << text;
  EXPECT_TRUE(has_line(text, R"(txrelay_sink_commit_to_attempt_seconds_bucket{sink="hook",le="10"} 3)")) << text;
  EXPECT_TRUE(has_line(text, R"(txrelay_sink_commit_to_attempt_seconds_bucket{sink="hook",le="+Inf"} 4)")) << text;
  EXPECT_TRUE(has_line(text, R"(txrelay_sink_commit_to_attempt_seconds_count{sink="hook"} 4)")) << text;
  EXPECT_TRUE(has_line(text, R"(txrelay_sink_commit_to_attempt_seconds_sum{sink="hook"} 30.010400)")) << text;
}

TEST(metrics_registry, references_are_stable) {
  metrics_registry m;
  auto* a = &m.sink("a");
  for (int i = 0; i < 100; ++i)
    m.sink("s" + std::to_string(i));
  EXPECT_EQ(a, &m.sink("a"));
}

} // namespace
