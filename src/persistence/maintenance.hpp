#pragma once
// Retention: deleting finished history (run by the node holding the
// maintenance lease, persistence/cluster.hpp).
#include "core/clock.hpp"
#include "persistence/pg_connection.hpp"

#include <optional>
#include <string>

namespace txrelay::pg {

/// Before when finished history expires; empty: kept forever.
struct retention_cutoffs {
  std::optional<time_point> delivered; // deliveries succeeded before it (and events routed to none made before it)
  std::optional<time_point> dead;      // deliveries dead since before it
  std::optional<time_point> rejected;  // events refused when routed, made before it
};

/// One window of a retention pass.
struct retention_window {
  std::string last_id;        // the last event examined: the next window starts after it
  int examined = 0;           // fewer than the limit: the pass is complete
  long long finished = 0;     // events deleted (with their deliveries) whose deliveries had all expired
  long long rejected = 0;     // rejected events deleted
};

/// Examines up to `limit` events with ids after `after_id` ("" from the
/// oldest) and deletes, in one short transaction, those whose history has
/// expired: every delivery finished and past its cutoff (delivered or
/// dead), or rejected past its cutoff. An event with a pending delivery, or
/// still waiting to be routed, is never deleted. A dead delivery replayed
/// while the window runs is either seen pending (kept) or finds its row gone.
result<retention_window, pg_error> expire_window(connection& conn, const retention_cutoffs& cutoffs,
                                                 const std::string& after_id, int limit);

} // namespace txrelay::pg
