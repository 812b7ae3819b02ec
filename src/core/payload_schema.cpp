#include "core/payload_schema.hpp"

#include "core/utf8.hpp"

#include <cmath>
#include <sstream>

namespace txrelay {

const char* to_string(field_type t) {
  switch (t) {
    case field_type::any: return "any";
    case field_type::string: return "string";
    case field_type::number: return "number";
    case field_type::integer: return "integer";
    case field_type::boolean: return "boolean";
    case field_type::object: return "object";
    case field_type::array: return "array";
  }
  return "?";
}

std::optional<field_type> parse_field_type(std::string_view name) {
  for (auto t : {field_type::any, field_type::string, field_type::number, field_type::integer, field_type::boolean,
                 field_type::object, field_type::array})
    if (name == to_string(t))
      return t;
  return std::nullopt;
}

namespace {

bool has_type(const json_value& v, field_type t) {
  switch (t) {
    case field_type::any: return true;
    case field_type::string: return v.is_string();
    case field_type::number: return v.is_number();
    case field_type::integer:
      return v.type() == json_value::kind::integer ||
             (v.type() == json_value::kind::number && std::floor(v.as_double()) == v.as_double());
    case field_type::boolean: return v.is_bool();
    case field_type::object: return v.is_object();
    case field_type::array: return v.is_array();
  }
  return false;
}

std::string number_text(double d) {
  std::ostringstream out;
  out << d;
  return out.str();
}

bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n\f\v") == std::string::npos; }

} // namespace

std::vector<field_violation> check_payload(const payload_schema& schema, const json_value& payload) {
  std::vector<field_violation> out;
  for (const auto& rule : schema.fields) {
    std::string field = "payload";
    for (const auto& step : rule.path)
      field += "." + step;
    auto violate = [&](std::string problem) { out.push_back({field, std::move(problem)}); };

    const json_value* v = payload.at(rule.path);
    if (!v || v->is_null()) {
      if (rule.required)
        violate("is required");
      continue;
    }
    if (!has_type(*v, rule.type)) {
      violate(std::string{"must be "} + (rule.type == field_type::integer || rule.type == field_type::array ? "an " : "a ") +
              to_string(rule.type) + " (got " + (v->type() == json_value::kind::integer ? "integer" : to_string(v->type())) + ")");
      continue;
    }
    if (v->is_string()) {
      const auto& s = v->as_string();
      if (rule.not_blank && blank(s))
        violate("must not be blank");
      auto n = count_code_points(s);
      if (rule.min_length && n < *rule.min_length)
        violate("must be at least " + std::to_string(*rule.min_length) + " characters (got " + std::to_string(n) + ")");
      if (rule.max_length && n > *rule.max_length)
        violate("must be at most " + std::to_string(*rule.max_length) + " characters (got " + std::to_string(n) + ")");
    } else if (v->is_array()) {
      auto n = v->as_array().size();
      if (rule.min_length && n < *rule.min_length)
        violate("must have at least " + std::to_string(*rule.min_length) + " items (got " + std::to_string(n) + ")");
      if (rule.max_length && n > *rule.max_length)
        violate("must have at most " + std::to_string(*rule.max_length) + " items (got " + std::to_string(n) + ")");
    } else if (v->is_number()) {
      double d = v->as_double();
      if (rule.minimum && d < *rule.minimum)
        violate("must be at least " + number_text(*rule.minimum) + " (got " + v->to_json() + ")");
      if (rule.maximum && d > *rule.maximum)
        violate("must be at most " + number_text(*rule.maximum) + " (got " + v->to_json() + ")");
    }
    if (!rule.one_of.empty()) {
      bool allowed = false;
      for (const auto& candidate : rule.one_of)
        allowed = allowed || candidate == *v;
      if (!allowed) {
        std::string list;
        for (const auto& candidate : rule.one_of)
          list += (list.empty() ? "" : ", ") + candidate.to_json();
        violate("must be one of " + list);
      }
    }
  }
  return out;
}

} // namespace txrelay
