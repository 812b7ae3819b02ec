#pragma once
// What every actor and sink is doing, as lock-free counters that any thread
// may bump, rendered in the Prometheus text format on /metrics.
// Label values are sink and actor names from the config, never URLs.
#include "core/delivery.hpp"
#include "metrics/process_stats.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace txrelay {

/// A Prometheus histogram of durations: lock-free, fixed buckets from 0.5 ms
/// to 10 s (the tail that matters for delivery latency).
class latency_histogram {
public:
  static constexpr std::array<double, 16> bounds_seconds{0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015,
                                                         0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0};
  void observe(double seconds);
  /// Cumulative counts per bound, then the +Inf count (= the total).
  std::array<std::uint64_t, bounds_seconds.size() + 1> cumulative() const;
  double sum_seconds() const;

private:
  std::array<std::atomic<std::uint64_t>, bounds_seconds.size() + 1> counts_{}; // the last: above every bound
  std::atomic<std::uint64_t> sum_micros_{0};
};

struct sink_metrics {
  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::uint64_t> failed_attempts{0};
  std::atomic<std::uint64_t> dead{0};
  std::atomic<std::int64_t> in_flight{0};
  std::atomic<std::int64_t> in_memory{0}; // deliveries the sender holds (its window)
  std::atomic<std::int64_t> failed{0};    // 1 when the supervisor gave up on the sender
  std::atomic<std::int64_t> broken{0};    // 1 when the sink said it is gone (e.g. Discord's unknown webhook)
  std::atomic<std::int64_t> paused{0};    // 1 while an operator has paused the sink
  std::atomic<std::int64_t> circuit{0};   // circuit_state: 0 closed, 1 open, 2 half-open
  std::atomic<std::uint64_t> circuit_opened{0};
  std::atomic<std::int64_t> wait_until_ms{0}; // unix ms before which the sink asked for no request; 0: none
  std::atomic<std::uint64_t> safety_sweeps{0}; // periodic passes over the sink's pending rows
  std::atomic<std::uint64_t> sweep_unknown{0}; // pending rows such a pass found that the sender did not hold
  std::atomic<std::int64_t> leased{0};          // 1 while this node holds the sink's lease and sends to it
  std::atomic<std::int64_t> last_success_ms{0}; // unix ms of this node's latest delivered attempt; 0: none
  std::atomic<std::int64_t> last_error_ms{0};   // unix ms of its latest failed attempt (last_error()); 0: none
  // From the COMMIT of a delivery's event returning to its first attempt
  // starting, for deliveries dispatched at commit (not those a sweep found).
  latency_histogram commit_to_attempt;
  // From an attempt's start to its result (failed ones included).
  latency_histogram attempt_duration;
  // Failed attempts by failure_reason.
  std::array<std::atomic<std::uint64_t>, failure_reason_count> failures{};

  /// The error and its time (unix ms) are set together, and read together.
  void set_last_error(std::string error, std::int64_t at_ms);
  std::string last_error() const;
  std::pair<std::string, std::int64_t> last_error_and_time() const;

  /// One word for dashboards and GET /v1/sinks, the most severe first:
  /// failed, broken, paused, open, half_open, rate_limited, ok.
  std::string state(std::int64_t now_ms) const;

private:
  mutable std::mutex last_error_mutex_;
  std::string last_error_; // no secrets: transports never put URLs or keys in errors
};

/// The HTTP server's connections, written by the server's I/O threads.
struct http_connection_metrics {
  std::atomic<std::int64_t> open{0};
  std::atomic<std::uint64_t> refused{0};       // over server.max_connections
  std::atomic<std::uint64_t> read_timeouts{0}; // headers or body not complete within server.read_timeout
};

/// Ingest requests refused because too many events already wait for the database.
struct ingest_queue_metrics {
  std::atomic<std::int64_t> queued_events{0};
  std::atomic<std::uint64_t> refused_requests{0};
};

struct actor_metrics {
  std::atomic<std::int64_t> mailbox_size{0};
  std::atomic<std::uint64_t> restarts{0};
  std::atomic<std::uint64_t> messages{0};
};

class metrics_registry {
public:
  std::atomic<std::uint64_t> events_accepted{0};
  std::atomic<std::uint64_t> events_replayed{0}; // idempotent repeats answered 200
  std::atomic<std::uint64_t> ingest_batches{0};  // group commits
  std::atomic<std::uint64_t> outcome_batches{0};
  std::atomic<std::uint64_t> events_published{0}; // published from SQL and routed by txrelay
  std::atomic<std::uint64_t> events_rejected{0};  // published from SQL and refused when routed
  // Maintenance (retention), done by whichever node holds the maintenance lease.
  std::atomic<std::int64_t> maintenance_leader{0}; // 1 while this node holds it
  std::atomic<std::int64_t> cluster_nodes{0};      // live nodes, this one included
  std::atomic<std::uint64_t> retention_passes{0};
  std::atomic<std::uint64_t> expired_finished{0}; // events deleted after their deliveries' retention
  std::atomic<std::uint64_t> expired_rejected{0}; // rejected events deleted after theirs
  http_connection_metrics connections;
  ingest_queue_metrics ingest_queue;

  /// Stable references: entries are never removed.
  sink_metrics& sink(const std::string& name);
  actor_metrics& actor(const std::string& name);
  /// `route` as the API names it ("POST /v1/events"); empty: the server answered itself.
  void count_http_response(std::string_view route, int status);

  /// Prometheus text exposition. `backlog` is each sink's pending
  /// deliveries as read from the database at scrape time (their oldest's
  /// age taken at `now`), `process` the process's own figures if read.
  std::string render(const std::vector<sink_backlog>& backlog, time_point now,
                     const std::optional<process_stats>& process = std::nullopt) const;

private:
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<sink_metrics>> sinks_;
  std::map<std::string, std::unique_ptr<actor_metrics>> actors_;
  std::map<std::pair<std::string, int>, std::unique_ptr<std::atomic<std::uint64_t>>, std::less<>> http_responses_;
};

} // namespace txrelay
