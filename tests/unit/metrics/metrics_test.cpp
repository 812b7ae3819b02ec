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

TEST(metrics_registry, references_are_stable) {
  metrics_registry m;
  auto* a = &m.sink("a");
  for (int i = 0; i < 100; ++i)
    m.sink("s" + std::to_string(i));
  EXPECT_EQ(a, &m.sink("a"));
}

} // namespace
