#include "expr/condition.hpp"

#include "expr/expression.hpp"

namespace txrelay {

result<condition, expression_error> condition::parse(std::string_view text) {
  auto root = expr_detail::parse_expression(text);
  if (!root)
    return unexpected{root.error()};
  condition c;
  c.root_ = std::move(*root);
  c.text_ = std::string{text};
  return c;
}

bool condition::matches(const json_value& event) const noexcept {
  // Only a default-constructed condition has no tree: it restricts nothing.
  if (!root_)
    return true;
  return expr_detail::truthy(expr_detail::evaluate(*root_, event).get());
}

} // namespace txrelay
