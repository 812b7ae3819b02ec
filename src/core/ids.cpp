#include "core/ids.hpp"

#include <array>
#include <cstdint>

namespace txrelay {

std::string new_uuid_v7(time_point now, std::mt19937_64& rng) {
  auto ms = static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
  std::array<std::uint8_t, 16> b{};
  for (int i = 0; i < 6; ++i)
    b[i] = static_cast<std::uint8_t>(ms >> (8 * (5 - i)));
  auto r1 = rng();
  auto r2 = rng();
  for (int i = 6; i < 16; ++i)
    b[i] = static_cast<std::uint8_t>((i < 11 ? r1 >> (8 * (i - 6)) : r2 >> (8 * (i - 11))) & 0xff);
  b[6] = static_cast<std::uint8_t>(0x70 | (b[6] & 0x0f)); // version 7
  b[8] = static_cast<std::uint8_t>(0x80 | (b[8] & 0x3f)); // variant 10
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      out += '-';
    out += hex[b[i] >> 4];
    out += hex[b[i] & 0x0f];
  }
  return out;
}

bool is_uuid(std::string_view s) {
  if (s.size() != 36)
    return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-')
        return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

} // namespace txrelay
