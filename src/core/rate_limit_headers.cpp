#include "core/rate_limit_headers.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <string>

namespace txrelay {

namespace {

std::string_view trimmed(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
    value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
    value.remove_suffix(1);
  return value;
}

std::optional<double> parse_double(std::string_view value) {
  value = trimmed(value);
  double v = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (value.empty() || ec != std::errc{} || end != value.data() + value.size() || !std::isfinite(v))
    return std::nullopt;
  return v;
}

/// Milliseconds, rounded up (less a hair of binary-fraction noise, so
/// 1.337 s is 1337 ms, not 1338), capped at max_sink_wait.
millis capped_millis(double seconds) {
  double ms = std::ceil(seconds * 1000.0 - 1e-6);
  if (ms <= 0)
    return millis{0};
  if (ms >= static_cast<double>(max_sink_wait.count()))
    return max_sink_wait;
  return millis{static_cast<long long>(ms)};
}

} // namespace

std::optional<millis> parse_retry_after(std::string_view value, time_point now) {
  value = trimmed(value);
  if (value.empty())
    return std::nullopt;
  long long seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  const long long max_seconds = max_sink_wait.count() / 1000;
  if (end == value.data() + value.size()) {
    if (ec == std::errc::result_out_of_range && value.front() != '-')
      return max_sink_wait;
    if (ec != std::errc{} || seconds < 0)
      return std::nullopt;
    return millis{std::min(seconds, max_seconds) * 1000};
  }
  // HTTP-date, IMF-fixdate form: "Sun, 06 Nov 1994 08:49:37 GMT".
  std::tm tm{};
  std::string text{value};
  const char* rest = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (rest == nullptr || *rest != '\0')
    return std::nullopt;
  // In whole seconds of time_t: a far-future date would overflow the
  // nanosecond system_clock.
  auto now_ms = std::chrono::duration_cast<millis>(now.time_since_epoch()).count();
  auto at_s = static_cast<long long>(timegm(&tm));
  if (at_s > now_ms / 1000 + max_seconds)
    return max_sink_wait;
  auto delta = millis{at_s * 1000 - now_ms};
  return std::clamp(delta, millis{0}, max_sink_wait);
}

std::optional<millis> wait_from_seconds(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0)
    return std::nullopt;
  return capped_millis(seconds);
}

std::optional<millis> parse_retry_after_seconds_float(std::string_view value) {
  auto seconds = parse_double(value);
  if (!seconds)
    return std::nullopt;
  return wait_from_seconds(*seconds);
}

std::optional<rate_window> rate_limit_window(const header_lookup& header, time_point now) {
  auto remaining_text = trimmed(header("x-ratelimit-remaining"));
  long long remaining = 0;
  auto [end, ec] = std::from_chars(remaining_text.data(), remaining_text.data() + remaining_text.size(), remaining);
  if (remaining_text.empty() || ec != std::errc{} || end != remaining_text.data() + remaining_text.size() ||
      remaining < 0)
    return std::nullopt;
  if (auto after = parse_retry_after_seconds_float(header("x-ratelimit-reset-after")))
    return rate_window{remaining, *after};
  if (auto reset_at = parse_double(header("x-ratelimit-reset"))) {
    double now_s = std::chrono::duration<double>(now.time_since_epoch()).count();
    return rate_window{remaining, capped_millis(*reset_at - now_s)}; // a reset in the past is a wait of 0
  }
  return std::nullopt;
}

std::optional<millis> rate_limit_wait(const header_lookup& header, time_point now) {
  auto window = rate_limit_window(header, now);
  if (!window || window->remaining != 0)
    return std::nullopt;
  return window->resets_in;
}

std::optional<millis> longer_wait(std::optional<millis> a, std::optional<millis> b) {
  if (!a)
    return b;
  if (!b)
    return a;
  return std::max(*a, *b);
}

} // namespace txrelay
