#include "expr/expression_error.hpp"

namespace txrelay {

std::string expression_error::to_string() const {
  return "at column " + std::to_string(position + 1) + ": " + message;
}

} // namespace txrelay
