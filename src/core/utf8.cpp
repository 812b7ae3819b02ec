#include "core/utf8.hpp"

#include <algorithm>

namespace txrelay {

namespace {

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xc0) == 0x80; }

} // namespace

std::size_t count_code_points(std::string_view text) {
  std::size_t n = 0;
  for (char c : text)
    n += !is_continuation(c);
  return n;
}

std::string_view prefix_code_points(std::string_view text, std::size_t max_code_points) {
  std::size_t seen = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (is_continuation(text[i]))
      continue;
    if (seen == max_code_points)
      return text.substr(0, i); // i starts a sequence: the cut is between two code points
    ++seen;
  }
  return text;
}

std::string truncate_code_points(std::string_view text, std::size_t max_code_points, std::string_view marker) {
  if (count_code_points(text) <= max_code_points)
    return std::string{text};
  auto marker_length = count_code_points(marker);
  if (marker_length >= max_code_points)
    return std::string{prefix_code_points(marker, max_code_points)};
  std::string out{prefix_code_points(text, max_code_points - marker_length)};
  out += marker;
  return out;
}

std::string one_line_excerpt(std::string_view text, std::size_t max_code_points) {
  if (max_code_points == 0)
    return {};
  std::string flat;
  flat.reserve(std::min(text.size(), max_code_points * 4 + 8));
  for (char c : text) {
    bool space = static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == ' ';
    if (space) {
      if (!flat.empty() && flat.back() != ' ')
        flat += ' ';
    } else {
      flat += c;
    }
    // Enough to know whether it has to be cut; the rest is never looked at.
    if (flat.size() > max_code_points * 4 + 4)
      break;
  }
  while (!flat.empty() && flat.back() == ' ')
    flat.pop_back();
  bool cut_early = flat.size() > max_code_points * 4 + 4 || count_code_points(flat) > max_code_points;
  if (!cut_early)
    return flat;
  return std::string{prefix_code_points(flat, max_code_points - 1)} + "…";
}

namespace {

// The length of the valid UTF-8 sequence at bytes[i] (never NUL), or 0.
// Each lead byte announces a length and the range its first continuation
// byte must fall in (RFC 3629's table): this refuses overlong forms,
// surrogates and code points past U+10FFFF.
std::size_t sequence_length(std::string_view bytes, std::size_t i) {
  auto b0 = static_cast<unsigned char>(bytes[i]);
  if (b0 != 0 && b0 < 0x80)
    return 1;
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) length = 2;
  else if (b0 == 0xe0) length = 3, low = 0xa0;
  else if (b0 >= 0xe1 && b0 <= 0xec) length = 3;
  else if (b0 == 0xed) length = 3, high = 0x9f;
  else if (b0 >= 0xee && b0 <= 0xef) length = 3;
  else if (b0 == 0xf0) length = 4, low = 0x90;
  else if (b0 >= 0xf1 && b0 <= 0xf3) length = 4;
  else if (b0 == 0xf4) length = 4, high = 0x8f;
  if (length == 0 || i + length > bytes.size())
    return 0;
  for (std::size_t k = 1; k < length; ++k) {
    auto b = static_cast<unsigned char>(bytes[i + k]);
    if (k == 1 ? (b < low || b > high) : !is_continuation(bytes[i + k]))
      return 0;
  }
  return length;
}

} // namespace

std::string valid_utf8(std::string_view bytes) {
  static constexpr std::string_view replacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(bytes.size());
  for (std::size_t i = 0; i < bytes.size();) {
    if (auto n = sequence_length(bytes, i)) {
      out.append(bytes.substr(i, n));
      i += n;
    } else {
      out += replacement;
      i += 1;
    }
  }
  return out;
}

bool is_text(std::string_view bytes) {
  for (std::size_t i = 0; i < bytes.size();) {
    auto n = sequence_length(bytes, i);
    if (n == 0)
      return false;
    i += n;
  }
  return true;
}

std::string_view prefix_bytes(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes)
    return text;
  auto cut = max_bytes;
  while (cut > 0 && is_continuation(text[cut]))
    --cut;
  return text.substr(0, cut);
}

} // namespace txrelay
