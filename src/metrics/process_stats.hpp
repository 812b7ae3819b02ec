#pragma once
// The process's own vital signs for /metrics, read from /proc/self: the
// series every Prometheus client library exports under these names.
#include <optional>

namespace txrelay {

struct process_stats {
  double cpu_seconds = 0;       // user + system time since start
  long long resident_bytes = 0; // resident set size
  long long open_fds = 0;
  double start_time_seconds = 0; // unix time the process started
};

/// Reads /proc (file I/O: call it off the shared scheduler's threads).
/// nullopt where /proc is not mounted.
std::optional<process_stats> read_process_stats();

} // namespace txrelay
