#pragma once
// The two nouns of the outbox: an event accepted from a client, and one
// delivery of it to one sink.
#include "core/clock.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace txrelay {

/// A validated POST /v1/events body plus what the HTTP side decided about it.
struct event_submission {
  std::string topic;
  std::optional<std::string> key;
  std::string payload_json;                   // a JSON object, as sent
  std::optional<std::string> idempotency_key; // Idempotency-Key header
  std::optional<std::string> producer;        // the API key (its name) that posted it, if any
  std::vector<std::string> sinks;             // routed sinks, in config order
};

/// Whether `event` is routed to any sink in `sinks` (a set or map keyed by
/// sink name), e.g. to an in_transaction sql sink, whose projection runs in
/// the ingest transaction: such an event commits alone.
template <class SinkSet>
bool routed_to_any(const event_submission& event, const SinkSet& sinks) {
  for (const auto& sink : event.sinks)
    if (sinks.count(sink) != 0)
      return true;
  return false;
}

enum class delivery_status { pending, delivered, dead };

const char* to_string(delivery_status s);

/// Everything a sender needs to attempt one delivery, without a database.
struct delivery_job {
  std::string id;       // stable across retries: the receiver's idempotency key
  std::string event_id;
  std::string sink;
  std::string topic;
  std::optional<std::string> key;
  std::string payload_json;
  std::string created_at; // RFC 3339
  int attempts = 0;       // attempts already made
  time_point next_attempt_at{};
  // When an operator last replayed it: retry.max_age then counts from here,
  // not from the creation time its id carries.
  std::optional<time_point> replayed_at;
  // When the COMMIT that created it returned, for a delivery dispatched then
  // (empty when a sweep loaded it): the start of commit->attempt latency.
  std::optional<time_point> committed_at;
};

/// A sink's announced budget (X-RateLimit-Remaining with its reset): this
/// many requests may still go before `resets_in` from the answer.
struct rate_window {
  long long remaining = 0;
  millis resets_in{0};
};

/// What one attempt at a sink came to.
/// Why an attempt failed, as the failures-by-reason metric counts it.
enum class failure_reason {
  other,        // no HTTP exchange to judge: a sql sink's error, a crash, a lost attempt
  status,       // the sink answered with an error status
  rate_limited, // 429: the sink asked for fewer requests
  timeout,      // no answer in time (resolve, connect, handshake or the whole call)
  connect,      // could not reach the sink, or the connection broke
  tls,          // the TLS handshake or its setup failed
};
inline constexpr std::size_t failure_reason_count = 6;
const char* to_string(failure_reason reason);

struct attempt_result {
  enum class verdict {
    delivered, // the sink took it
    retry,     // transient: try again after backoff
    permanent, // the sink will never take it: dead now
  };
  verdict outcome = verdict::retry;
  int http_status = 0;                // 0 when no HTTP response arrived
  std::string error;                  // human readable, no secrets
  // The sink said to wait (429 retry_after, Retry-After, or X-RateLimit-Remaining: 0
  // with X-RateLimit-Reset-After): no request goes to the sink before then, and
  // this delivery's next attempt is no earlier. Meaningful on any verdict.
  std::optional<millis> retry_after;
  // The sink itself is gone (Discord's unknown webhook or invalid token): this
  // delivery is dead and the sink is marked broken until an operator resumes it.
  bool sink_broken = false;
  // The budget the answer announced. With attempts still under way, each may
  // take one of the remaining requests: the sender waits for the reset once
  // no more remain than are under way.
  std::optional<rate_window> bucket;
  // When it failed: why, for metrics (last, so positional initialisers stay valid).
  failure_reason reason = failure_reason::other;
  // The start of the sink's answer (response_excerpt_limit bytes at most),
  // its credentials already redacted by the sink: kept in the attempt
  // history of a delivery that failed. Empty without an answer.
  std::string response_excerpt;
};

/// How much of a sink's answer the attempt history keeps.
inline constexpr std::size_t response_excerpt_limit = 1024;

/// One attempt as the attempt history keeps it. Only a failed attempt, and the
/// last attempt of a delivery that failed before, are kept: a delivery taken
/// at its first attempt writes none (it costs nothing at the common path).
struct attempt_record {
  time_point started{};
  millis duration{0};
  std::optional<failure_reason> failure; // empty: the sink took it
  std::string response_excerpt;
};

/// An event a dead delivery publishes (its sink's `on_dead`), committed in
/// the transaction that marks the delivery dead.
struct compensation_event {
  std::string topic;
  std::optional<std::string> key;
  std::string payload_json;    // a JSON object
  std::string idempotency_key; // "on_dead:<delivery id>": published once, however often reported
};

/// What the persistence actor records for a delivery after an attempt.
/// A sink's unfinished deliveries as the database has them: how many, and
/// when the oldest was made (its UUIDv7 id says; a replayed one counts from
/// its first making). The lag operators alert on.
struct sink_backlog {
  std::string sink;
  long long pending = 0;
  std::optional<time_point> oldest;
};

struct delivery_outcome {
  std::string delivery_id;
  std::string event_id; // with sink, the row's key
  std::string sink;
  delivery_status status = delivery_status::pending;
  int attempts = 0;
  time_point next_attempt_at{}; // meaningful while pending
  int http_status = 0;
  std::string error;
  std::optional<compensation_event> compensation; // only with status dead
  // The attempt this outcome reports, for the attempt history; empty when
  // none is kept (a first attempt's success, a dead letter never attempted).
  std::optional<attempt_record> attempt;
};

} // namespace txrelay
