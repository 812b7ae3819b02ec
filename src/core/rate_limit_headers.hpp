#pragma once
// What a sink says about when it will take the next request: Retry-After in
// its three forms (RFC 9110 delay-seconds, HTTP-date, and Discord's float
// seconds) and the X-RateLimit-* headers that announce an exhausted budget
// before a 429 happens. Pure arithmetic on injected time; every wait is
// capped at one day.
#include "core/clock.hpp"
#include "core/delivery.hpp"

#include <functional>
#include <optional>
#include <string_view>

namespace txrelay {

/// The longest wait txrelay takes from a sink. A sink may ask for anything;
/// a day keeps the arithmetic (and CAF's nanosecond timers) far from overflow.
inline constexpr millis max_sink_wait{24LL * 3600 * 1000};

/// A response header's value by case-insensitive name, empty when absent.
/// (core knows no HTTP types; the sinks pass a lookup over their header list.)
using header_lookup = std::function<std::string_view(std::string_view name)>;

/// Retry-After per RFC 9110: delay-seconds ("120") or an HTTP-date
/// ("Sun, 06 Nov 1994 08:49:37 GMT"), as a wait from `now`. A date in the
/// past is a wait of 0. nullopt for anything else.
std::optional<millis> parse_retry_after(std::string_view value, time_point now);

/// Seconds with an optional fraction ("64.57", "1.337", "2"), as Discord
/// sends its 429 body's `retry_after` and X-RateLimit-Reset-After. Rounded
/// up to whole milliseconds, so waiting that long is never early.
std::optional<millis> parse_retry_after_seconds_float(std::string_view value);

/// The same for a number already parsed (a JSON body's `retry_after`).
/// nullopt for a negative or non-finite value.
std::optional<millis> wait_from_seconds(double seconds);

/// X-RateLimit-Remaining with the time to its reset (X-RateLimit-Reset-After,
/// or X-RateLimit-Reset minus `now`); nullopt when the headers do not say both.
std::optional<rate_window> rate_limit_window(const header_lookup& header, time_point now);

/// X-RateLimit-Remaining: 0 means the next request would be refused until the
/// bucket resets: the wait is X-RateLimit-Reset-After (relative, so immune to
/// clock skew) or else X-RateLimit-Reset (epoch seconds) minus `now`.
/// nullopt when requests remain or the headers do not say.
std::optional<millis> rate_limit_wait(const header_lookup& header, time_point now);

/// The longer of two waits, either of which may be absent.
std::optional<millis> longer_wait(std::optional<millis> a, std::optional<millis> b);

} // namespace txrelay
