#include "support/json_probe.hpp"

#include <simdjson.h>

namespace txrelay::testing {

namespace {

template <class F>
auto with_element(const std::string& json, const std::string& pointer, F&& f) -> decltype(f(simdjson::dom::element{})) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json).get(doc) != simdjson::SUCCESS)
    return std::nullopt;
  simdjson::dom::element el;
  if (doc.at_pointer(pointer).get(el) != simdjson::SUCCESS)
    return std::nullopt;
  return f(el);
}

} // namespace

std::optional<std::string> json_string_at(const std::string& json, const std::string& pointer) {
  return with_element(json, pointer, [](simdjson::dom::element el) -> std::optional<std::string> {
    std::string_view s;
    if (el.get_string().get(s) != simdjson::SUCCESS)
      return std::nullopt;
    return std::string{s};
  });
}

std::optional<std::int64_t> json_int_at(const std::string& json, const std::string& pointer) {
  return with_element(json, pointer, [](simdjson::dom::element el) -> std::optional<std::int64_t> {
    std::int64_t v = 0;
    if (el.get_int64().get(v) != simdjson::SUCCESS)
      return std::nullopt;
    return v;
  });
}

int json_array_size(const std::string& json, const std::string& pointer) {
  auto n = with_element(json, pointer, [](simdjson::dom::element el) -> std::optional<int> {
    simdjson::dom::array arr;
    if (el.get_array().get(arr) != simdjson::SUCCESS)
      return std::nullopt;
    return static_cast<int>(arr.size());
  });
  return n.value_or(-1);
}

bool json_is_null_at(const std::string& json, const std::string& pointer) {
  return with_element(json, pointer, [](simdjson::dom::element el) -> std::optional<bool> { return el.is_null(); })
    .value_or(false);
}

std::optional<std::string> json_raw_at(const std::string& json, const std::string& pointer) {
  return with_element(json, pointer,
                      [](simdjson::dom::element el) -> std::optional<std::string> { return simdjson::minify(el); });
}

std::string sink_field(const std::string& sinks_body, const std::string& sink, const std::string& field) {
  for (int i = 0; i < json_array_size(sinks_body, "/sinks"); ++i) {
    auto p = "/sinks/" + std::to_string(i);
    if (json_string_at(sinks_body, p + "/name") == sink)
      return json_string_at(sinks_body, p + "/" + field).value_or(json_raw_at(sinks_body, p + "/" + field).value_or("?"));
  }
  return "missing";
}

} // namespace txrelay::testing
