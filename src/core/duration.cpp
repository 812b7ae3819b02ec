#include "core/duration.hpp"

#include <charconv>
#include <cmath>

namespace txrelay {

result<millis, std::string> parse_duration(std::string_view text) {
  while (!text.empty() && text.front() == ' ')
    text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ')
    text.remove_suffix(1);
  if (text.empty())
    return unexpected{std::string{"empty duration (use e.g. 250ms, 2s, 5m, 1h)"}};
  if (text.front() == '-')
    return unexpected{"duration \"" + std::string{text} + "\" is negative"};
  std::size_t unit_at = 0;
  while (unit_at < text.size() && ((text[unit_at] >= '0' && text[unit_at] <= '9') || text[unit_at] == '.'))
    ++unit_at;
  auto number = text.substr(0, unit_at);
  auto unit = text.substr(unit_at);
  double value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec == std::errc::result_out_of_range)
    return unexpected{"duration \"" + std::string{text} + "\" is too large"};
  if (number.empty() || ec != std::errc{} || end != number.data() + number.size())
    return unexpected{"\"" + std::string{text} + "\" is not a duration (use e.g. 250ms, 2s, 5m, 1h)"};
  double factor;
  if (unit.empty() || unit == "s")
    factor = 1000;
  else if (unit == "ms")
    factor = 1;
  else if (unit == "m")
    factor = 60'000;
  else if (unit == "h")
    factor = 3'600'000;
  else if (unit == "d")
    factor = 86'400'000;
  else
    return unexpected{"unknown duration unit \"" + std::string{unit} + "\" (use ms, s, m, h or d)"};
  double ms = value * factor;
  if (!std::isfinite(ms) || ms > 1e15)
    return unexpected{"duration \"" + std::string{text} + "\" is too large"};
  return millis{static_cast<long long>(std::llround(ms))};
}

std::string format_duration(millis d) {
  const auto ms = d.count();
  if (ms == 0)
    return "0s";
  for (auto [unit, size] : {std::pair{"d", 86'400'000LL}, {"h", 3'600'000LL}, {"m", 60'000LL}, {"s", 1'000LL}})
    if (ms % size == 0)
      return std::to_string(ms / size) + unit;
  return std::to_string(ms) + "ms";
}

} // namespace txrelay
