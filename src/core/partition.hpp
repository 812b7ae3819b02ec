#pragma once
// Which partition of a partitioned sink an event's deliveries go to: the
// first 32 bits of the MD5 of its key, modulo the partition count. MD5 here
// is a spreading function, not a security one; PostgreSQL computes the same
// value (partition_sql), so rows can be moved to their partitions in SQL
// when the count changes.
#include <string>
#include <string_view>

namespace txrelay {

/// The name of partition `index` of `sink`: "name.index" (sink names have
/// no dot, so it is never a configured sink's name).
std::string partition_name(const std::string& sink, int index);

/// Whether deliveries to `instance` belong to the configured sink `sink`:
/// the sink itself or one of its partitions, under any partition count.
bool is_instance_of(std::string_view instance, std::string_view sink);

/// In [0, partitions); every event of one key lands in the same partition,
/// so per-key order holds within it.
int partition_for(std::string_view key, int partitions);

/// The same in SQL, for a text expression `key` and an integer expression
/// `partitions` (both spliced in as written).
inline constexpr const char* partition_sql_template =
  "((('x' || substr(md5(%KEY%), 1, 8))::bit(32)::bigint % %N%)::int)";

} // namespace txrelay
