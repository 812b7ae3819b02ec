#pragma once
// Measuring and cutting UTF-8 text by code points, as providers count their
// limits (Discord's 2000-character content), without ever splitting a
// multi-byte sequence. Text is assumed valid UTF-8: events are validated on
// the way in.
#include <cstddef>
#include <string>
#include <string_view>

namespace txrelay {

/// Code points in `text` (bytes that start a sequence).
std::size_t count_code_points(std::string_view text);

/// The longest prefix of `text` with at most `max_code_points` code points.
std::string_view prefix_code_points(std::string_view text, std::size_t max_code_points);

/// `text` if it has at most `max_code_points`; otherwise a prefix followed by
/// `marker`, together at most `max_code_points` (the marker alone is cut if it
/// does not fit).
std::string truncate_code_points(std::string_view text, std::size_t max_code_points, std::string_view marker);

/// A one-line excerpt of a response body for an error message: control
/// characters and line breaks become spaces, runs of spaces collapse, and
/// anything past `max_code_points` is cut with "…".
std::string one_line_excerpt(std::string_view text, std::size_t max_code_points = 200);

/// `bytes` (anything a server sent) as valid UTF-8 text that PostgreSQL and
/// JSON can hold: each malformed, overlong or surrogate sequence and each NUL
/// becomes U+FFFD; everything else is kept as it was.
std::string valid_utf8(std::string_view bytes);

/// Whether `bytes` is what valid_utf8 would keep as it is: valid UTF-8
/// without NUL.
bool is_text(std::string_view bytes);

/// The longest prefix of valid UTF-8 `text` with at most `max_bytes` bytes,
/// cut between code points.
std::string_view prefix_bytes(std::string_view text, std::size_t max_bytes);

} // namespace txrelay
