// libFuzzer target: json_value::parse (core/json_value.hpp) and check_payload
// (core/payload_schema.hpp).
//
// Input: either a payload alone (JSON text), checked against a fixed schema
// that uses every kind of rule, or
//     <schema as JSON>\n----\n<payload as JSON>
// where the schema is {"path.to.field": {"type": "string", "required": true,
// "not_blank": true, "min_length": 1, "max_length": 5, "minimum": 0,
// "maximum": 10, "one_of": [...]}, ...} (what `topics: {t: {payload: ...}}`
// holds in the config; malformed rule members are ignored).
//
// Aborts when a parsed document does not survive to_json() and parse() again
// equal, or a violation's field is not under "payload". Deterministic; no I/O.
#include "core/api_error.hpp"
#include "core/json_value.hpp"
#include "core/payload_schema.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace txrelay;

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "payload_schema_fuzz: invariant broken: %s\n", what);
  std::abort();
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    auto dot = path.find('.', start);
    out.emplace_back(path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos)
      return out;
    start = dot + 1;
  }
}

std::optional<std::size_t> length_of(const json_value* v) {
  if (!v || v->type() != json_value::kind::integer || v->as_integer() < 0)
    return std::nullopt;
  return static_cast<std::size_t>(v->as_integer());
}

std::optional<double> number_of(const json_value* v) {
  if (!v || !v->is_number())
    return std::nullopt;
  return v->as_double();
}

payload_schema schema_from(const json_value& spec) {
  payload_schema schema;
  if (!spec.is_object())
    return schema;
  for (const auto& [path, rule_spec] : spec.as_object()) {
    field_rule rule;
    rule.path = split_path(path);
    if (const auto* t = rule_spec.find("type"); t && t->is_string())
      rule.type = parse_field_type(t->as_string()).value_or(field_type::any);
    if (const auto* b = rule_spec.find("required"); b && b->is_bool())
      rule.required = b->as_bool();
    if (const auto* b = rule_spec.find("not_blank"); b && b->is_bool())
      rule.not_blank = b->as_bool();
    rule.min_length = length_of(rule_spec.find("min_length"));
    rule.max_length = length_of(rule_spec.find("max_length"));
    rule.minimum = number_of(rule_spec.find("minimum"));
    rule.maximum = number_of(rule_spec.find("maximum"));
    if (const auto* list = rule_spec.find("one_of"); list && list->is_array())
      rule.one_of = list->as_array();
    schema.fields.push_back(std::move(rule));
  }
  return schema;
}

const payload_schema& fixed_schema() {
  static const payload_schema schema = [] {
    auto spec = json_value::parse(R"({
      "content": {"type": "string", "required": true, "not_blank": true, "min_length": 1, "max_length": 800},
      "contact": {"type": "string", "max_length": 100},
      "rating": {"type": "integer", "minimum": 1, "maximum": 5},
      "score": {"type": "number", "minimum": -1.5, "maximum": 1e300},
      "user.name": {"type": "string", "min_length": 2, "max_length": 3},
      "user.id": {"type": "integer", "required": true},
      "flag": {"type": "boolean"},
      "tags": {"type": "array", "min_length": 1, "max_length": 3},
      "meta": {"type": "object"},
      "kind": {"one_of": ["meeting", "lunch", 1, 2.5, true, null, [1], {"a": 1}]},
      "any": {"type": "any", "required": true},
      "": {"type": "string"}
    })");
    if (!spec)
      broken("the fixed schema does not parse");
    return schema_from(*spec);
  }();
  return schema;
}

void round_trip(const json_value& v) {
  auto text = v.to_json();
  auto again = json_value::parse(text);
  if (!again)
    broken("json_value::to_json() is not valid JSON");
  // Equal as JSON values (the text may differ: -0.0 prints "-0", read back as 0).
  if (!(*again == v))
    broken("json_value does not survive to_json() and parse()");
  (void)v.to_text();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input{reinterpret_cast<const char*>(data), size};
  const payload_schema* schema = &fixed_schema();
  payload_schema custom;
  std::string_view payload_text = input;
  if (auto sep = input.find("\n----\n"); sep != std::string_view::npos) {
    auto spec = json_value::parse(input.substr(0, sep));
    if (!spec)
      return 0;
    round_trip(*spec);
    custom = schema_from(*spec);
    schema = &custom;
    payload_text = input.substr(sep + 6);
  }

  auto payload = json_value::parse(payload_text);
  if (!payload)
    return 0;
  round_trip(*payload);

  auto violations = check_payload(*schema, *payload);
  if (violations.size() > schema->fields.size() * 4)
    broken("more violations than a rule can produce");
  for (const auto& v : violations)
    if (v.field.rfind("payload", 0) != 0 || v.problem.empty())
      broken("violation without a payload field or a problem");
  // What the API answers with (422 schema_violation): must be valid JSON.
  api_error err{422, "schema_violation", "the payload does not match its topic's schema", std::move(violations)};
  if (!json_value::parse(err.to_json()))
    broken("api_error::to_json with violations is not valid JSON");
  return 0;
}
