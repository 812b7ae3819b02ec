#pragma once
// A topic's payload schema: which fields an event of that topic must carry,
// their types and bounds. Checked before anything is stored, and every
// violation is reported at once, so a client fixes its request in one go.
// Deliberately small (not JSON Schema): what config authors need to keep bad
// events out (scenario 1: content required, not blank, at most 800 characters).
#include "core/json_value.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace txrelay {

enum class field_type { any, string, number, integer, boolean, object, array };

const char* to_string(field_type t);
std::optional<field_type> parse_field_type(std::string_view name);

struct field_rule {
  std::vector<std::string> path; // inside the payload: {"user", "name"} for "user.name"
  field_type type = field_type::any;
  bool required = false;   // present and not null
  bool not_blank = false;  // strings: not empty or only whitespace
  std::optional<std::size_t> min_length, max_length; // strings: code points; arrays: items
  std::optional<double> minimum, maximum;            // numbers
  std::vector<json_value> one_of;                    // allowed values, when non-empty
};

struct payload_schema {
  std::vector<field_rule> fields;
};

struct field_violation {
  std::string field;   // "payload.content"
  std::string problem; // "is required", "must be at most 800 characters (got 913)"
};

/// Every violation of `schema` by `payload`, in rule order; empty when it conforms.
std::vector<field_violation> check_payload(const payload_schema& schema, const json_value& payload);

} // namespace txrelay
