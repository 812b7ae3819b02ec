#pragma once
// Process log lines, written by one dedicated thread: callers (actors, I/O
// threads) only enqueue, so a slow terminal or pipe never stalls CAF's
// scheduler. Messages must not contain secrets: callers log sink names and
// url::redacted(), never raw URLs or secret values.
#include <functional>
#include <string>
#include <string_view>

namespace txrelay::log {

enum class level { debug, info, warn, error };

void write(level lvl, std::string_view message);
inline void info(std::string_view m) { write(level::info, m); }
inline void warn(std::string_view m) { write(level::warn, m); }
inline void error(std::string_view m) { write(level::error, m); }

/// A line for standard output as is (the log sink's deliveries). `written`,
/// if given, runs on the writer thread once the line is flushed.
void out(std::string line, std::function<void()> written = {});

/// Writes everything queued so far, then returns. Called at shutdown.
void flush();

/// Lines below `lvl` are dropped (default info).
void set_threshold(level lvl);

} // namespace txrelay::log
