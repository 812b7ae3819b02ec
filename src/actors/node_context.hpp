#pragma once
// What every actor that speaks for this node to the shared database knows:
// where the database is, how long to wait for it, the clock, the metrics,
// and which node it is (the cluster and maintenance actors).
#include "core/clock.hpp"
#include "metrics/metrics.hpp"
#include "persistence/pg_connection.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace txrelay {

struct node_context {
  std::string database_url;
  pg::connection_limits database_limits;
  std::shared_ptr<const txrelay::clock> clock;
  std::shared_ptr<metrics_registry> metrics;
  std::string node_id;
};

/// The connection in `conn`, reopened if it is gone; null when PostgreSQL
/// cannot be reached. An outage is logged once (as `who`, with
/// `meanwhile`: what happens until it answers), not at every try;
/// `unavailable` remembers it.
pg::connection* reachable_connection(std::optional<pg::connection>& conn, const node_context& node, bool& unavailable,
                                     std::string_view who, std::string_view meanwhile = {});

} // namespace txrelay
