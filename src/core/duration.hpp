#pragma once
#include "core/clock.hpp"
#include "core/result.hpp"

#include <string>
#include <string_view>

namespace txrelay {

/// "250ms", "2s", "1.5s", "5m", "1h", or a bare number of seconds ("30").
result<millis, std::string> parse_duration(std::string_view text);

/// The form parse_duration reads, in the largest unit that divides it
/// exactly: 100ms, 10s, 10m, 1d ("0s" for zero).
std::string format_duration(millis d);

} // namespace txrelay
