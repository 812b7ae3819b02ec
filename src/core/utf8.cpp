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

} // namespace txrelay
