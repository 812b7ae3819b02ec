#pragma once
// What the process tests share: starting the real binary on an ephemeral
// port, writing its config, and counting what a fake sink received.
#include "support/child_process.hpp"
#include "support/eventually.hpp"
#include "support/fake_sink_server.hpp"
#include "support/json_probe.hpp"
#include "support/temp_config.hpp"
#include "support/test_database.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

namespace txrelay::testing {

inline std::vector<std::string> serve_args(const std::string& config, const std::string& db_url) {
  return {TXRELAY_BINARY, "serve", "--config", config, "--listen", "127.0.0.1:0", "--database-url", db_url};
}

/// The port txrelay says it listens on; 0 (and a failure with its output) if it did not start.
inline std::uint16_t listening_port(child_process& proc) {
  auto line = proc.wait_for_line("listening on port ", std::chrono::seconds{30});
  if (!line) {
    std::string all;
    for (const auto& l : proc.lines())
      all += l + "\n";
    ADD_FAILURE() << "txrelay did not start:\n" << all;
    return 0;
  }
  return static_cast<std::uint16_t>(std::stoi(line->substr(line->find("listening on port ") + 18)));
}

/// How often each event id (the body's "id") reached the sink.
inline std::map<std::string, int> received_event_ids(const fake_sink_server& sink) {
  std::map<std::string, int> received;
  for (const auto& r : sink.requests())
    if (auto id = json_string_at(r.body, "/id"))
      ++received[*id];
  return received;
}

/// Waits up to `within` until every id in `expected` reached the sink and
/// `also()` holds; returns what was received.
template <class Also>
std::map<std::string, int> wait_for_events(const fake_sink_server& sink, const std::set<std::string>& expected,
                                           std::chrono::seconds within, Also also) {
  auto deadline = std::chrono::steady_clock::now() + within;
  for (;;) {
    auto received = received_event_ids(sink);
    bool all = also();
    for (const auto& id : expected)
      all = all && received.count(id) != 0;
    if (all || std::chrono::steady_clock::now() >= deadline)
      return received;
    sink.wait_for_requests(sink.request_count() + 1, std::chrono::milliseconds{200});
  }
}

inline std::size_t missing_from(const std::set<std::string>& expected, const std::map<std::string, int>& received) {
  std::size_t missing = 0;
  for (const auto& id : expected)
    missing += received.count(id) == 0 ? 1 : 0;
  return missing;
}

inline std::size_t received_twice(const std::map<std::string, int>& received) {
  std::size_t twice = 0;
  for (const auto& [_, n] : received)
    twice += n > 1 ? 1 : 0;
  return twice;
}

/// Which node holds the sink's lease now ("" if none does).
inline std::string lease_holder(const test_database& db, const std::string& sink) {
  return db.scalar("SELECT coalesce(max(holder), '') FROM txrelay.leases WHERE name = 'sink:" + sink + "'");
}

/// Events the sink received more than once whose first arrival came before
/// `since`: sent again although they had been delivered before it.
inline std::vector<std::string> resent_after_delivery_before(const fake_sink_server& sink,
                                                             std::chrono::system_clock::time_point since) {
  std::map<std::string, std::chrono::system_clock::time_point> first_arrival;
  std::map<std::string, int> arrivals;
  for (const auto& r : sink.requests())
    if (auto id = json_string_at(r.body, "/id")) {
      first_arrival.try_emplace(*id, r.received_at);
      ++arrivals[*id];
    }
  std::vector<std::string> resent;
  for (const auto& [id, n] : arrivals)
    if (n > 1 && first_arrival[id] <= since)
      resent.push_back(id);
  return resent;
}

} // namespace txrelay::testing
