#include "core/api_error.hpp"

#include "core/json.hpp"

namespace txrelay {

std::string api_error::to_json() const {
  std::string out = "{\"error\":{\"code\":";
  append_json_string(out, code);
  out += ",\"message\":";
  append_json_string(out, message);
  append_violations(out, violations);
  out += "}}";
  return out;
}

void append_violations(std::string& out, const std::vector<field_violation>& violations) {
  if (violations.empty())
    return;
  out += ",\"violations\":[";
  for (std::size_t i = 0; i < violations.size(); ++i) {
    out += i ? ",{\"field\":" : "{\"field\":";
    append_json_string(out, violations[i].field);
    out += ",\"problem\":";
    append_json_string(out, violations[i].problem);
    out += '}';
  }
  out += ']';
}

} // namespace txrelay
