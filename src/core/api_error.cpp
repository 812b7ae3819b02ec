#include "core/api_error.hpp"

#include "core/json_writer.hpp"

namespace txrelay {

std::string api_error::to_json() const {
  json_writer w;
  w.begin_object().key("error").begin_object();
  write_members(w);
  w.end_object().end_object();
  return std::move(w).take();
}

void api_error::write_members(json_writer& w) const {
  w.key("code").string(code).key("message").string(message);
  if (violations.empty())
    return;
  w.key("violations").begin_array();
  for (const auto& v : violations)
    w.begin_object().key("field").string(v.field).key("problem").string(v.problem).end_object();
  w.end_array();
}

} // namespace txrelay
