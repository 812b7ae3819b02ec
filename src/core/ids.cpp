#include "core/ids.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

namespace txrelay {

namespace {

std::string format_uuid_v7(std::uint64_t ms, std::uint32_t rand_a, std::uint64_t rand_b) {
  std::array<std::uint8_t, 16> b{};
  for (int i = 0; i < 6; ++i)
    b[i] = static_cast<std::uint8_t>(ms >> (8 * (5 - i)));
  b[6] = static_cast<std::uint8_t>(0x70 | ((rand_a >> 8) & 0x0f)); // version 7
  b[7] = static_cast<std::uint8_t>(rand_a & 0xff);
  b[8] = static_cast<std::uint8_t>(0x80 | ((rand_b >> 56) & 0x3f)); // variant 10
  for (int i = 9; i < 16; ++i)
    b[i] = static_cast<std::uint8_t>(rand_b >> (8 * (15 - i)));
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

} // namespace

std::string uuid_v7_floor(time_point t) {
  auto ms = std::max<long long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
  return format_uuid_v7(static_cast<std::uint64_t>(ms), 0, 0);
}

std::string uuid_v7_generator::next(time_point now) {
  auto ms = static_cast<std::uint64_t>(
    std::max<long long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count()));
  if (ms > last_ms_) {
    last_ms_ = ms;
    counter_ = static_cast<std::uint32_t>(rng_() & 0x7ff); // start low: room to count up
  } else if (++counter_ > 0xfff) {
    // Same (or an earlier) millisecond and the counter is spent: borrow the next one.
    ++last_ms_;
    counter_ = 0;
  }
  return format_uuid_v7(last_ms_, counter_, rng_());
}

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

std::optional<time_point> uuid_v7_time(std::string_view id) {
  if (!is_uuid(id) || id[14] != '7')
    return std::nullopt;
  std::uint64_t ms = 0;
  for (char c : id.substr(0, 13)) { // 8 hex, '-', 4 hex: the 48-bit timestamp
    if (c == '-')
      continue;
    int v = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
    ms = (ms << 4) | static_cast<std::uint64_t>(v);
  }
  return time_point{std::chrono::milliseconds{static_cast<long long>(ms)}};
}

} // namespace txrelay
