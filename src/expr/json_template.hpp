#pragma once
// A JSON template: any JSON shape whose strings (not keys) are text
// templates. Used for a webhook body override, a compensation event's
// payload and the like:
//   {"user_id": "{{ payload.user_id }}", "reason": "profile failed: {{ payload.email }}"}
// A string that is exactly one {{ path }} renders as the value at that path
// with its JSON type (a number stays a number, an object stays an object;
// missing is null); any other string renders as a string.
#include "core/json_value.hpp"
#include "core/result.hpp"
#include "expr/expression_error.hpp"
#include "expr/text_template.hpp"

#include <memory>
#include <string>

namespace txrelay {

struct template_error {
  std::string where; // path inside the shape, "reason" or "items[2].text"; "" for the root
  expression_error error;
};

class json_template {
public:
  static result<json_template, template_error> parse(const json_value& shape);
  json_value render(const json_value& event) const;

  struct node; // expr/json_template.cpp

private:
  std::shared_ptr<const node> root_;
};

} // namespace txrelay
