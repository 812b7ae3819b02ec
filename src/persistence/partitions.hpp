#pragma once
// Moving deliveries between the partitions of a sink when its partition
// count changes (config `partitions`): at the start, before any sender runs,
// the pending and dead rows of partitions that no longer exist go to the
// partition their event's key selects now. Delivered rows are history and
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
/// without one, its id) selects. Returns how many moved.
result<long long, pg_error> move_open_deliveries(connection& conn, const std::string& from, const std::string& sink,
                                                 int partitions);

} // namespace txrelay::pg
