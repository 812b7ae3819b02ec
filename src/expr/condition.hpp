#pragma once
// A boolean condition on an event document, as written in a route's `when`:
//   payload.closed == false
//   payload.rating >= 4 && payload.menu != null
//   topic in ["poll.created", "poll.closed"]
//   exists(payload.contact) || !(len(payload.tags) > 3)
// Parsed once, when the config loads; evaluating never throws: a missing
// field is null, and an operator whose operands do not fit (a string < a
// number) is false rather than an error.
//
// Grammar (lowest precedence first):
//   or     := and ("||" and)*
//   and    := not ("&&" not)*
//   not    := "!" not | cmp
//   cmp    := value (("==" | "!=" | "<" | "<=" | ">" | ">=") value | "in" list)?
//   value  := literal | path | call | "(" or ")"
//   path   := name ("." name)*          name: [A-Za-z_][A-Za-z0-9_]*
//   call   := "exists" "(" path ")" | "len" "(" value ")"
//   literal:= "string" (double-quoted, JSON escapes) | number | true | false | null
//   list   := "[" (literal ("," literal)*)? "]"
// Semantics:
//   == / != : JSON equality (1 == 1.0; null == missing field); never an error.
//   < <= > >=: both numbers or both strings (byte order), else false.
//   in      : equal to some element of the list.
//   exists(p): p is present and not null.   len(v): code points of a string,
//             elements of an array or members of an object, else null.
//   A bare value as a condition is truthy unless it is false, null, 0 or "".
#include "core/json_value.hpp"
#include "core/result.hpp"
#include "expr/expression_error.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace txrelay {

namespace expr_detail {
struct node; // expr/expression.hpp, shared with text_template
}

class condition {
public:
  static result<condition, expression_error> parse(std::string_view text);

  /// Whether `event` (an event_document) satisfies the condition.
  bool matches(const json_value& event) const noexcept;

  /// The text it was parsed from.
  const std::string& text() const noexcept { return text_; }

private:
  std::shared_ptr<const expr_detail::node> root_;
  std::string text_;
};

} // namespace txrelay
