#pragma once
// What the actors that own PostgreSQL connections are configured with: the
// persistence actor and its ingest writers, and the ledger.
#include "actors/persistence_support.hpp"
#include "core/clock.hpp"
#include "expr/sql_statement.hpp"
#include "metrics/metrics.hpp"
#include "routing/admission_source.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <string>

namespace txrelay {

struct persistence_options {
  std::string database_url;
  pg::connection_limits database_limits; // every connection these actors open
  std::shared_ptr<const txrelay::clock> clock;
  std::shared_ptr<metrics_registry> metrics;
  std::size_t max_batch = 1000;             // events per ingest transaction
  std::size_t max_batch_bytes = 8u << 20;   // payload bytes per ingest transaction
  std::size_t ingest_writers = 2;           // connections committing ingest groups
  std::size_t max_queued_events = 50'000;   // waiting for a writer; more: 503 overloaded
  // A writer starts a group while another is still committing only when this
  // many events are queued: small groups side by side cost PostgreSQL more
  // per event than one group twice their size.
  std::size_t parallel_group_events = 100;
  // ... or when the oldest queued request has waited this long: a writer
  // stuck on a lock must not hold up requests while another sits idle.
  std::chrono::milliseconds writer_patience{20};
  // Routes compensation events (a dead delivery's `on_dead`) like client events.
  std::shared_ptr<const admission_source> admission;
  // sql sinks with phase in_transaction: sink name -> statement, run inside
  // the ingest transaction of every event routed to them.
  std::map<std::string, sql_statement> in_transaction;
  // Shared by every writer of events (ingest writers and the ledger).
  std::shared_ptr<shared_uuid_v7_generator> ids = std::make_shared<shared_uuid_v7_generator>(std::random_device{}());
};

} // namespace txrelay
