#include "persistence/binary_array.hpp"

#include "core/hex.hpp"
#include "core/ids.hpp"

namespace txrelay::pg {

namespace {

// Header layout: ndim, has-null flag, element OID, then per dimension its
// length and lower bound; all big-endian 32-bit integers.
constexpr std::size_t null_flag_at = 4;
constexpr std::size_t length_at = 12;
constexpr std::size_t header_bytes = 20;

void put_be32(char* out, std::uint32_t v) {
  out[0] = static_cast<char>(v >> 24);
  out[1] = static_cast<char>(v >> 16);
  out[2] = static_cast<char>(v >> 8);
  out[3] = static_cast<char>(v);
}

} // namespace

binary_array::binary_array(element type) : buffer_(header_bytes, '\0'), type_(type) {
  put_be32(buffer_.data(), 1);
  put_be32(buffer_.data() + 8, static_cast<std::uint32_t>(type_));
  put_be32(buffer_.data() + 16, 1); // lower bound
}

void binary_array::add_length(std::int32_t n) {
  char be[4];
  put_be32(be, static_cast<std::uint32_t>(n));
  buffer_.append(be, 4);
  put_be32(buffer_.data() + length_at, static_cast<std::uint32_t>(++count_));
}

void binary_array::add_text(std::string_view value) {
  add_length(static_cast<std::int32_t>(value.size()));
  buffer_.append(value);
}

bool binary_array::add_uuid(std::string_view canonical) {
  if (type_ != element::uuid || !is_uuid(canonical))
    return false;
  char raw[16];
  std::size_t n = 0;
  for (std::size_t i = 0; i < canonical.size();) {
    if (canonical[i] == '-') {
      ++i;
      continue;
    }
    raw[n++] = static_cast<char>(hex_digit(canonical[i]) << 4 | hex_digit(canonical[i + 1]));
    i += 2; // every group of the canonical form has an even number of digits
  }
  add_length(16);
  buffer_.append(raw, 16);
  return true;
}

void binary_array::add_int4(std::int32_t value) {
  add_length(4);
  char be[4];
  put_be32(be, static_cast<std::uint32_t>(value));
  buffer_.append(be, 4);
}

void binary_array::add_null() {
  add_length(-1);
  put_be32(buffer_.data() + null_flag_at, 1);
}

binary_array text_array(const std::vector<std::string>& values) {
  binary_array array{binary_array::element::text};
  for (const auto& v : values)
    array.add_text(v);
  return array;
}

} // namespace txrelay::pg
