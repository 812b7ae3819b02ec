#pragma once
// The expression language shared by condition (a route's `when`) and
// text_template (`{{ value | filter }}`, `{{#if condition}}`); the grammar and
// its meaning are in condition.hpp.
//
// An expression is parsed once into a tree of nodes; evaluating a tree
// against an event document reads values in place (paths resolve with
// json_value::at) and never throws or re-parses.
#include "core/json_value.hpp"
#include "core/result.hpp"
#include "expr/expression_error.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace txrelay::expr_detail {

enum class node_kind {
  literal,  // literal
  path,     // path
  exists,   // path
  len,      // operands[0]
  negation, // operands[0]
  all_of,   // operands (&&)
  any_of,   // operands (||)
  equal,    // operands[0], operands[1]
  not_equal,
  less,
  less_equal,
  greater,
  greater_equal,
  one_of, // operands[0] in list
};

struct node {
  node_kind kind = node_kind::literal;
  json_value literal;
  std::vector<std::string> path;
  std::vector<std::shared_ptr<const node>> operands;
  std::vector<json_value> list;
};

using node_ptr = std::shared_ptr<const node>;

// -- parsing -----------------------------------------------------------------

/// The expression making up all of text[begin, end); error positions are
/// offsets into `text` (so a template reports columns of the whole template).
result<node_ptr, expression_error> parse_expression(std::string_view text, std::size_t begin, std::size_t end);
inline result<node_ptr, expression_error> parse_expression(std::string_view text) {
  return parse_expression(text, 0, text.size());
}

/// `name` or `name(literal, ...)` after a `|` in a template insertion. The
/// name is not checked here: text_template knows which filters exist.
struct filter_call {
  std::string name;
  std::vector<json_value> arguments;
  std::size_t position = 0; // of the name, in the whole text
};

/// `expression ("|" filter)*`, all of text[begin, end).
struct insertion {
  node_ptr value;
  std::vector<filter_call> filters;
};
result<insertion, expression_error> parse_insertion(std::string_view text, std::size_t begin, std::size_t end);

// -- evaluating --------------------------------------------------------------

/// A value met while evaluating: a borrowed one (inside the event document or
/// the expression tree) or one computed here (a comparison, a length). A
/// missing path is `borrowed == nullptr` with `computed` null.
struct value_ref {
  const json_value* borrowed = nullptr;
  json_value computed;

  const json_value& get() const noexcept { return borrowed ? *borrowed : computed; }
};

value_ref evaluate(const node& n, const json_value& event) noexcept;

/// A value as a condition: true unless false, null (or missing), 0 or "".
bool truthy(const json_value& v) noexcept;

/// JSON equality with numbers compared by value (integers exactly).
bool json_equal(const json_value& a, const json_value& b) noexcept;

} // namespace txrelay::expr_detail
