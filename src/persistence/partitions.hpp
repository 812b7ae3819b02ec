#pragma once
// Moving deliveries between the partitions of a sink when its partition
// count changes (config `partitions`): at the start, before any sender runs,
// the pending and dead rows of partitions that no longer exist, and the
// keyed rows of those that do whose key now selects another, go to the
// partition their event's key selects now (so each key is in one partition). Delivered rows are history and
// stay where they were sent from.
#include "persistence/pg_connection.hpp"

#include <string>
#include <vector>

namespace txrelay::pg {

/// Every sink (or partition) that has pending or dead deliveries: a skip
/// scan of the two partial indexes, cheap however many rows they hold.
result<std::vector<std::string>, pg_error> sinks_with_open_deliveries(connection& conn);

/// Moves the pending and dead deliveries of `from` to `sink` (partitions 1)
/// or to the partition of `sink` their event's key (or, for an event
/// without one, its id) selects. `misplaced_only` (`from` is a partition
/// that still exists): only keyed rows whose key now selects another one.
/// Returns how many moved.
result<long long, pg_error> move_open_deliveries(connection& conn, const std::string& from, const std::string& sink,
                                                 int partitions, bool misplaced_only);

/// Forgets the stored commands and faults of sinks (partitions) that no
/// longer exist, so that a partition that comes back starts clean.
result<long long, pg_error> forget_sink_state(connection& conn, const std::vector<std::string>& sinks);

} // namespace txrelay::pg
