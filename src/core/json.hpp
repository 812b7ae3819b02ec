#pragma once
// Writing JSON by hand, correctly: every string goes through append_json_string.
#include <string>
#include <string_view>

namespace txrelay {

/// Appends `s` as a JSON string literal (quotes included), escaping quotes,
/// backslashes and control characters; invalid UTF-8 bytes become U+FFFD.
void append_json_string(std::string& out, std::string_view s);

std::string json_string(std::string_view s);

} // namespace txrelay
