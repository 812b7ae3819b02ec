#pragma once
// The two nouns of the outbox: an event accepted from a client, and one
// delivery of it to one sink.
#include "core/clock.hpp"

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
  std::vector<std::string> sinks;             // routed sinks, in config order
};

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
};

/// What one attempt at a sink came to.
struct attempt_result {
  enum class verdict {
    delivered, // the sink took it
    retry,     // transient: try again after backoff
    permanent, // the sink will never take it: dead now
  };
  verdict outcome = verdict::retry;
  int http_status = 0;                // 0 when no HTTP response arrived
  std::string error;                  // human readable, no secrets
  std::optional<millis> retry_after;  // a floor for the next attempt, if the sink said so
};

/// What the persistence actor records for a delivery after an attempt.
struct delivery_outcome {
  std::string delivery_id;
  std::string event_id; // with sink, the row's key
  std::string sink;
  delivery_status status = delivery_status::pending;
  int attempts = 0;
  time_point next_attempt_at{}; // meaningful while pending
  int http_status = 0;
  std::string error;
};

} // namespace txrelay
