#pragma once
// A `sql` sink's statement as written in config, with its parameters named
// by the event fields they come from:
//   UPDATE restaurants SET review_count = review_count + 1,
//                          rating_sum = rating_sum + $payload.rating::int
//    WHERE id = $payload.restaurant_id::bigint
// Parsing turns each $path into a positional $N (the same path twice is the
// same $N), so values always travel as bound parameters, never spliced into
// the SQL text: an event cannot inject SQL. Roots: payload, topic, key,
// event_id, delivery_id, created_at. Values are sent as text (to_text());
// a missing or null field is SQL NULL; casts say what type the column wants.
#include "core/json_value.hpp"
#include "core/result.hpp"
#include "expr/expression_error.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace txrelay {

class sql_statement {
public:
  /// Quoted strings ('...', E'...'), quoted identifiers ("..."), dollar-quoted
  /// bodies ($$...$$, $tag$...$tag$) and comments are left alone. A positional
  /// $1 is an error: the statement's parameters are named.
  static result<sql_statement, expression_error> parse(std::string_view text);

  /// The statement with $1..$N.
  const std::string& text() const noexcept { return text_; }
  /// Path of each $N (index N-1) in the event document.
  const std::vector<std::vector<std::string>>& parameters() const noexcept { return params_; }

  /// Parameter values for `event` (an event_document); nullopt = NULL.
  std::vector<std::optional<std::string>> bind(const json_value& event) const;

private:
  std::string text_;
  std::vector<std::vector<std::string>> params_;
};

} // namespace txrelay
