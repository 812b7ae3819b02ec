#include "metrics/metrics.hpp"
#include "core/version.hpp"

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
  m.count_http_response("POST /v1/events", 201);
  m.count_http_response("POST /v1/events", 201);
  m.count_http_response("", 400);
  auto now = wall_clock::now();
  auto text = m.render({{"discord", 12, now - std::chrono::seconds{90}}}, now);
  EXPECT_TRUE(has_line(text, "txrelay_events_accepted_total 3")) << text;
  EXPECT_TRUE(has_line(text, "txrelay_sink_delivered_total{sink=\"discord\"} 2"));
  EXPECT_TRUE(has_line(text, "txrelay_sink_failed_attempts_total{sink=\"discord\"} 5"));
  EXPECT_TRUE(has_line(text, "txrelay_sink_dead_total{sink=\"discord\"} 1"));
  EXPECT_TRUE(has_line(text, "txrelay_sink_pending_deliveries{sink=\"discord\"} 12"));
  EXPECT_TRUE(has_line(text, "txrelay_sink_pending_deliveries{sink=\"log\"} 0"));
  EXPECT_TRUE(has_line(text, "txrelay_sink_oldest_pending_age_seconds{sink=\"discord\"} 90.000000")) << text;
  EXPECT_TRUE(has_line(text, "txrelay_sink_oldest_pending_age_seconds{sink=\"log\"} 0.000000")) << text;
  EXPECT_TRUE(has_line(text, std::string{"txrelay_build_info{version=\""} + version + "\"} 1")) << text;
  EXPECT_EQ(text.find("process_cpu_seconds_total"), std::string::npos) << "no process figures were given";
  EXPECT_TRUE(has_line(text, "txrelay_actor_mailbox_size{actor=\"persistence\"} 7"));
  EXPECT_TRUE(has_line(text, "txrelay_actor_restarts_total{actor=\"sender:discord\"} 2"));
  EXPECT_TRUE(has_line(text, "txrelay_http_requests_total{route=\"POST /v1/events\",status=\"201\"} 2")) << text;
  EXPECT_TRUE(has_line(text, "txrelay_http_requests_total{route=\"none\",status=\"400\"} 1")) << text;
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
  auto text = m.render({}, wall_clock::now());
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

TEST(metrics_registry, failures_by_reason_and_attempt_durations_per_sink) {
  metrics_registry m;
  auto& s = m.sink("hook");
  s.failures[static_cast<std::size_t>(failure_reason::timeout)] += 2;
  s.failures[static_cast<std::size_t>(failure_reason::status)] += 1;
  s.attempt_duration.observe(0.004);
  s.attempt_duration.observe(3.0);
  auto text = m.render({}, wall_clock::now());
  EXPECT_TRUE(has_line(text, R"(txrelay_sink_failures_total{sink="hook",reason="timeout"} 2)")) << text;
  EXPECT_TRUE(has_line(text, R"(txrelay_sink_failures_total{sink="hook",reason="status"} 1)")) << text;
  EXPECT_TRUE(has_line(text, R"(txrelay_sink_failures_total{sink="hook",reason="tls"} 0)")) << text;
  EXPECT_TRUE(has_line(text, R"(txrelay_sink_attempt_duration_seconds_bucket{sink="hook",le="0.005"} 1)")) << text;
  EXPECT_TRUE(has_line(text, R"(txrelay_sink_attempt_duration_seconds_bucket{sink="hook",le="2.5"} 1)")) << text;
  EXPECT_TRUE(has_line(text, R"(txrelay_sink_attempt_duration_seconds_count{sink="hook"} 2)")) << text;
  EXPECT_TRUE(has_line(text, "# TYPE txrelay_sink_attempt_duration_seconds histogram")) << text;
}

TEST(metrics_registry, the_process_s_own_figures_are_read_from_proc_and_rendered) {
  auto stats = read_process_stats();
  ASSERT_TRUE(stats) << "/proc is mounted on every machine these tests run on";
  EXPECT_GT(stats->resident_bytes, 1'000'000);
  EXPECT_GE(stats->open_fds, 3); // stdin, stdout, stderr at least
  EXPECT_GT(stats->start_time_seconds, 1.6e9);
  metrics_registry m;
  auto text = m.render({}, wall_clock::now(), stats);
  EXPECT_NE(text.find("\nprocess_resident_memory_bytes " + std::to_string(stats->resident_bytes) + "\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter"), std::string::npos);
  EXPECT_NE(text.find("\nprocess_open_fds "), std::string::npos);
}

} // namespace
