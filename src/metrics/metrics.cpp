#include "metrics/metrics.hpp"

#include "core/version.hpp"

#include <cstdio>

#include <set>

namespace txrelay {

void sink_metrics::set_last_error(std::string error, std::int64_t at_ms) {
  std::lock_guard guard{last_error_mutex_};
  last_error_ = std::move(error);
  last_error_ms.store(at_ms, std::memory_order_relaxed);
}

std::pair<std::string, std::int64_t> sink_metrics::last_error_and_time() const {
  std::lock_guard guard{last_error_mutex_};
  return {last_error_, last_error_ms.load(std::memory_order_relaxed)};
}

std::string sink_metrics::last_error() const {
  std::lock_guard guard{last_error_mutex_};
  return last_error_;
}

std::string sink_metrics::state(std::int64_t now_ms) const {
  auto rel = std::memory_order_relaxed;
  if (failed.load(rel) != 0)
    return "failed";
  if (broken.load(rel) != 0)
    return "broken";
  if (paused.load(rel) != 0)
    return "paused";
  switch (circuit.load(rel)) {
    case 1: return "open";
    case 2: return "half_open";
    default: break;
  }
  if (wait_until_ms.load(rel) > now_ms)
    return "rate_limited";
  return "ok";
}

sink_metrics& metrics_registry::sink(const std::string& name) {
  std::lock_guard guard{mutex_};
  auto& slot = sinks_[name];
  if (!slot)
    slot = std::make_unique<sink_metrics>();
  return *slot;
}

actor_metrics& metrics_registry::actor(const std::string& name) {
  std::lock_guard guard{mutex_};
  auto& slot = actors_[name];
  if (!slot)
    slot = std::make_unique<actor_metrics>();
  return *slot;
}

void metrics_registry::count_http_response(std::string_view route, int status) {
  std::lock_guard guard{mutex_};
  auto& slot = http_responses_[{route.empty() ? std::string{"none"} : std::string{route}, status}];
  if (!slot)
    slot = std::make_unique<std::atomic<std::uint64_t>>(0);
  slot->fetch_add(1, std::memory_order_relaxed);
}

namespace {

// Label values here are config names ([a-z0-9_-]) and actor names; escape anyway.
std::string label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

template <class T>
void sample(std::string& out, const char* name, const char* label_name, std::string_view label_value, T value) {
  out += name;
  if (label_name) {
    out += '{';
    out += label_name;
    out += "=\"";
    out += label(label_value);
    out += "\"}";
  }
  out += ' ';
  out += std::to_string(value);
  out += '\n';
}

/// One histogram per sink, in the Prometheus text format.
void render_histogram(std::string& out, const char* name, const char* help,
                      const std::map<std::string, std::unique_ptr<sink_metrics>>& sinks,
                      latency_histogram sink_metrics::*member) {
  header(out, name, "histogram", help);
  const std::string metric{name};
  for (const auto& [sink, m] : sinks) {
    const auto& h = (*m).*member;
    auto counts = h.cumulative();
    const std::string sink_label = "sink=\"" + label(sink) + "\"";
    for (std::size_t i = 0; i < counts.size(); ++i) {
      char le[32];
      if (i < latency_histogram::bounds_seconds.size())
        std::snprintf(le, sizeof le, "%g", latency_histogram::bounds_seconds[i]);
      else
        std::snprintf(le, sizeof le, "+Inf");
      out += metric + "_bucket{" + sink_label + ",le=\"" + le + "\"} " + std::to_string(counts[i]) + "\n";
    }
    char sum[64];
    std::snprintf(sum, sizeof sum, "%.6f", h.sum_seconds());
    out += metric + "_sum{" + sink_label + "} " + sum + "\n";
    out += metric + "_count{" + sink_label + "} " + std::to_string(counts.back()) + "\n";
  }
}

} // namespace

void latency_histogram::observe(double seconds) {
  std::size_t i = 0;
  while (i < bounds_seconds.size() && seconds > bounds_seconds[i])
    ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  auto micros = seconds > 0 ? static_cast<std::uint64_t>(seconds * 1e6) : 0;
  sum_micros_.fetch_add(micros, std::memory_order_relaxed);
}

std::array<std::uint64_t, latency_histogram::bounds_seconds.size() + 1> latency_histogram::cumulative() const {
  std::array<std::uint64_t, bounds_seconds.size() + 1> out{};
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

double latency_histogram::sum_seconds() const { return static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6; }

std::string metrics_registry::render(const std::vector<sink_backlog>& backlog, time_point now,
                                     const std::optional<process_stats>& process) const {
  std::string out;
  out.reserve(4096);
  auto rel = std::memory_order_relaxed;
  header(out, "txrelay_build_info", "gauge", "Always 1; the version of this txrelay in its label.");
  out += "txrelay_build_info{version=\"" + label(version) + "\"} 1\n";
  if (process) {
    header(out, "process_cpu_seconds_total", "counter", "User and system CPU time of the process.");
    sample(out, "process_cpu_seconds_total", nullptr, "", process->cpu_seconds);
    header(out, "process_resident_memory_bytes", "gauge", "Resident memory of the process.");
    sample(out, "process_resident_memory_bytes", nullptr, "", process->resident_bytes);
    header(out, "process_open_fds", "gauge", "Open file descriptors (sockets included).");
    sample(out, "process_open_fds", nullptr, "", process->open_fds);
    header(out, "process_start_time_seconds", "gauge", "Unix time the process started.");
    sample(out, "process_start_time_seconds", nullptr, "", process->start_time_seconds);
  }
  header(out, "txrelay_events_accepted_total", "counter", "Events committed and acknowledged with 201.");
  sample(out, "txrelay_events_accepted_total", nullptr, "", events_accepted.load(rel));
  header(out, "txrelay_events_replayed_total", "counter", "Requests answered with an earlier event (same Idempotency-Key).");
  sample(out, "txrelay_events_replayed_total", nullptr, "", events_replayed.load(rel));
  header(out, "txrelay_ingest_batches_total", "counter", "Ingest transactions (group commits).");
  sample(out, "txrelay_ingest_batches_total", nullptr, "", ingest_batches.load(rel));
  header(out, "txrelay_events_published_total", "counter",
         "Events published from SQL (txrelay.publish) and routed, deliveries created.");
  sample(out, "txrelay_events_published_total", nullptr, "", events_published.load(rel));
  header(out, "txrelay_events_rejected_total", "counter",
         "Events published from SQL that routing refused (schema, projection); kept with the reason.");
  sample(out, "txrelay_events_rejected_total", nullptr, "", events_rejected.load(rel));
  header(out, "txrelay_maintenance_leader", "gauge",
         "1 while this node holds the maintenance lease (runs retention for every node).");
  sample(out, "txrelay_maintenance_leader", nullptr, "", maintenance_leader.load(rel));
  header(out, "txrelay_cluster_nodes", "gauge", "Live txrelay nodes sharing this database, this one included.");
  sample(out, "txrelay_cluster_nodes", nullptr, "", cluster_nodes.load(rel));
  header(out, "txrelay_retention_passes_total", "counter", "Completed retention passes over the events table.");
  sample(out, "txrelay_retention_passes_total", nullptr, "", retention_passes.load(rel));
  header(out, "txrelay_events_expired_total", "counter",
         "Events (with their deliveries) deleted by retention, by why they were finished.");
  sample(out, "txrelay_events_expired_total", "kind", "finished", expired_finished.load(rel));
  sample(out, "txrelay_events_expired_total", "kind", "rejected", expired_rejected.load(rel));
  header(out, "txrelay_http_connections", "gauge", "Open HTTP connections.");
  sample(out, "txrelay_http_connections", nullptr, "", connections.open.load(rel));
  header(out, "txrelay_http_connections_refused_total", "counter",
         "Connections closed at once because server.max_connections were open.");
  sample(out, "txrelay_http_connections_refused_total", nullptr, "", connections.refused.load(rel));
  header(out, "txrelay_http_read_timeouts_total", "counter",
         "Connections closed because a request did not arrive within server.read_timeout.");
  sample(out, "txrelay_http_read_timeouts_total", nullptr, "", connections.read_timeouts.load(rel));
  header(out, "txrelay_ingest_queued_events", "gauge", "Events waiting for an ingest writer.");
  sample(out, "txrelay_ingest_queued_events", nullptr, "", ingest_queue.queued_events.load(rel));
  header(out, "txrelay_ingest_overloaded_total", "counter",
         "Ingest requests answered 503 because server.max_queued_events were waiting.");
  sample(out, "txrelay_ingest_overloaded_total", nullptr, "", ingest_queue.refused_requests.load(rel));
  header(out, "txrelay_outcome_batches_total", "counter", "Outcome-recording transactions.");
  sample(out, "txrelay_outcome_batches_total", nullptr, "", outcome_batches.load(rel));

  std::lock_guard guard{mutex_};
  header(out, "txrelay_http_requests_total", "counter",
         "HTTP responses by route (\"none\": the server answered before any route, e.g. a malformed request) and status.");
  for (const auto& [key, n] : http_responses_)
    out += "txrelay_http_requests_total{route=\"" + label(key.first) + "\",status=\"" + std::to_string(key.second) +
           "\"} " + std::to_string(n->load(rel)) + "\n";

  // Every configured sink appears, with 0 pending when the database has none.
  std::set<std::string> sink_names;
  for (const auto& [name, _] : sinks_)
    sink_names.insert(name);
  for (const auto& b : backlog)
    sink_names.insert(b.sink);
  auto backlog_of = [&](const std::string& name) {
    for (const auto& b : backlog)
      if (b.sink == name)
        return b;
    return sink_backlog{name, 0, std::nullopt};
  };
  header(out, "txrelay_sink_pending_deliveries", "gauge", "Deliveries not yet delivered or dead, per sink.");
  for (const auto& name : sink_names)
    sample(out, "txrelay_sink_pending_deliveries", "sink", name, backlog_of(name).pending);
  header(out, "txrelay_sink_oldest_pending_age_seconds", "gauge",
         "Age of the sink's oldest pending delivery (from when it was made): the outbox lag; 0 with none pending.");
  for (const auto& name : sink_names) {
    auto oldest = backlog_of(name).oldest;
    double age = oldest && *oldest < now ? std::chrono::duration<double>(now - *oldest).count() : 0.0;
    sample(out, "txrelay_sink_oldest_pending_age_seconds", "sink", name, age);
  }
  struct sink_series {
    const char* name;
    const char* type;
    const char* help;
    std::int64_t (*read)(const sink_metrics&);
  };
  static const sink_series series[] = {
    {"txrelay_sink_delivered_total", "counter", "Deliveries the sink accepted.",
     [](const sink_metrics& m) { return static_cast<std::int64_t>(m.delivered.load(std::memory_order_relaxed)); }},
    {"txrelay_sink_failed_attempts_total", "counter", "Attempts that failed (each retry counts).",
     [](const sink_metrics& m) { return static_cast<std::int64_t>(m.failed_attempts.load(std::memory_order_relaxed)); }},
    {"txrelay_sink_dead_total", "counter", "Deliveries given up (attempts exhausted or permanent failure).",
     [](const sink_metrics& m) { return static_cast<std::int64_t>(m.dead.load(std::memory_order_relaxed)); }},
    {"txrelay_sink_in_flight", "gauge", "Attempts under way.",
     [](const sink_metrics& m) { return m.in_flight.load(std::memory_order_relaxed); }},
    {"txrelay_sink_in_memory", "gauge", "Deliveries held in the sender's window.",
     [](const sink_metrics& m) { return m.in_memory.load(std::memory_order_relaxed); }},
    {"txrelay_sink_failed", "gauge", "1 when the sink's sender kept crashing and was stopped (alert on this).",
     [](const sink_metrics& m) { return m.failed.load(std::memory_order_relaxed); }},
    {"txrelay_sink_broken", "gauge", "1 when the sink said it is gone for good; its deliveries are dead-lettered (alert on this).",
     [](const sink_metrics& m) { return m.broken.load(std::memory_order_relaxed); }},
    {"txrelay_sink_paused", "gauge", "1 while an operator has paused the sink.",
     [](const sink_metrics& m) { return m.paused.load(std::memory_order_relaxed); }},
    {"txrelay_sink_circuit_state", "gauge", "The sink's circuit breaker: 0 closed, 1 open, 2 half-open (probing).",
     [](const sink_metrics& m) { return m.circuit.load(std::memory_order_relaxed); }},
    {"txrelay_sink_circuit_opened_total", "counter", "Times the sink's circuit breaker opened.",
     [](const sink_metrics& m) { return static_cast<std::int64_t>(m.circuit_opened.load(std::memory_order_relaxed)); }},
    {"txrelay_sink_safety_sweeps_total", "counter", "Periodic passes over the sink's pending rows (sinks[].safety_sweep).",
     [](const sink_metrics& m) { return static_cast<std::int64_t>(m.safety_sweeps.load(std::memory_order_relaxed)); }},
    {"txrelay_sink_sweep_unknown_total", "counter", "Pending deliveries a safety sweep found that the sender had not been told of: a lost dispatch or outcome (should stay 0; alert when not).",
     [](const sink_metrics& m) { return static_cast<std::int64_t>(m.sweep_unknown.load(std::memory_order_relaxed)); }},
    {"txrelay_sink_leased", "gauge", "1 while this node holds the sink's lease and sends to it (each sink: 1 on exactly one node).",
     [](const sink_metrics& m) { return m.leased.load(std::memory_order_relaxed); }},
    {"txrelay_sink_last_success_timestamp_seconds", "gauge", "Unix time of this node's latest delivered attempt to the sink; 0: none yet.",
     [](const sink_metrics& m) { return m.last_success_ms.load(std::memory_order_relaxed) / 1000; }},
    {"txrelay_sink_last_error_timestamp_seconds", "gauge", "Unix time of this node's latest failed attempt to the sink; 0: none yet.",
     [](const sink_metrics& m) { return m.last_error_ms.load(std::memory_order_relaxed) / 1000; }},
    {"txrelay_sink_wait_until_seconds", "gauge", "Unix time before which the sink asked for no request (429, Retry-After, X-RateLimit-*); 0: none.",
     [](const sink_metrics& m) { return m.wait_until_ms.load(std::memory_order_relaxed) / 1000; }},
  };
  for (const auto& s : series) {
    header(out, s.name, s.type, s.help);
    for (const auto& [name, m] : sinks_)
      sample(out, s.name, "sink", name, s.read(*m));
  }

  header(out, "txrelay_sink_failures_total", "counter",
         "Failed attempts by reason: status (an error answer), rate_limited (429), timeout, connect, tls, other.");
  for (const auto& [name, m] : sinks_)
    for (std::size_t i = 0; i < failure_reason_count; ++i)
      out += "txrelay_sink_failures_total{sink=\"" + label(name) + "\",reason=\"" +
             to_string(static_cast<failure_reason>(i)) + "\"} " + std::to_string(m->failures[i].load(rel)) + "\n";

  render_histogram(out, "txrelay_sink_commit_to_attempt_seconds",
                   "From the COMMIT of an event to the first attempt of its delivery, for deliveries dispatched at commit.",
                   sinks_, &sink_metrics::commit_to_attempt);
  render_histogram(out, "txrelay_sink_attempt_duration_seconds",
                   "From an attempt's start to its result, failed attempts included.", sinks_,
                   &sink_metrics::attempt_duration);

  header(out, "txrelay_actor_mailbox_size", "gauge", "Messages waiting in the actor's mailbox (sampled each second).");
  for (const auto& [name, m] : actors_)
    sample(out, "txrelay_actor_mailbox_size", "actor", name, m->mailbox_size.load(rel));
  header(out, "txrelay_actor_messages_total", "counter", "Messages the actor has handled.");
  for (const auto& [name, m] : actors_)
    sample(out, "txrelay_actor_messages_total", "actor", name, m->messages.load(rel));
  header(out, "txrelay_actor_restarts_total", "counter", "Times the supervisor restarted the actor.");
  for (const auto& [name, m] : actors_)
    sample(out, "txrelay_actor_restarts_total", "actor", name, m->restarts.load(rel));
  return out;
}

} // namespace txrelay
