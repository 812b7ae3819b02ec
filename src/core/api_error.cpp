#include "core/api_error.hpp"

#include "core/json.hpp"

namespace txrelay {

std::string api_error::to_json() const {
  std::string out = "{\"error\":{\"code\":";
  append_json_string(out, code);
  out += ",\"message\":";
  append_json_string(out, message);
  out += "}}";
  return out;
}

} // namespace txrelay
