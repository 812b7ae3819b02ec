#pragma once
// What is wrong with a condition or template, and where.
#include <cstddef>
#include <string>

namespace txrelay {

struct expression_error {
  std::size_t position = 0; // 0-based byte offset into the expression or template text
  std::string message;      // "expected ']' after the list", "unknown filter 'uper'", ...
  /// "at column N: message" (N = position + 1), for config errors.
  std::string to_string() const;
};

} // namespace txrelay
