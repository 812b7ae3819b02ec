#pragma once
// Time is injected wherever behaviour depends on it (backoff, rate limits,
// signatures), so tests drive it instead of sleeping.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace txrelay {

using wall_clock = std::chrono::system_clock;
using time_point = wall_clock::time_point;
using millis = std::chrono::milliseconds;

class clock {
public:
  virtual ~clock() = default;
  virtual time_point now() const = 0;
};

class system_clock final : public clock {
public:
  time_point now() const override { return wall_clock::now(); }
};

/// A clock that moves only when told to; for tests.
class manual_clock final : public clock {
public:
  explicit manual_clock(time_point start = time_point{std::chrono::seconds{1'700'000'000}})
    : now_(start) {}
  time_point now() const override { return now_; }
  void advance(millis d) { now_ += d; }
  void set(time_point t) { now_ = t; }

private:
  time_point now_;
};

std::shared_ptr<const clock> default_clock();

/// RFC 3339 UTC with microseconds, e.g. 2026-11-22T20:52:25.123456Z.
std::string format_rfc3339(time_point t);

/// An RFC 3339 date-time ("2026-11-23T17:20:14.123Z", any numeric offset,
/// lower-case t/z or a space separator accepted) as the instant it names;
/// nullopt for anything else, impossible dates and years past 2200 included. Fractions of a
/// second are dropped.
std::optional<time_point> parse_rfc3339(std::string_view text);

} // namespace txrelay
