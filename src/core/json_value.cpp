#include "core/json_value.hpp"

#include "core/json.hpp"

#include <simdjson.h>

#include <cmath>
#include <cstdio>
#include <unordered_map>

namespace txrelay {

namespace {

// e's type was checked by the caller, so the conversion cannot fail.
template <class T>
void read(simdjson::dom::element e, T& out) {
  auto err = e.get(out);
  (void)err;
}

json_value from_dom(simdjson::dom::element e) {
  using simdjson::dom::element_type;
  switch (e.type()) {
  case element_type::NULL_VALUE:
    return json_value{};
  case element_type::BOOL: {
    bool b = false;
    read(e, b);
    return json_value{b};
  }
  case element_type::INT64: {
    std::int64_t i = 0;
    read(e, i);
    return json_value{i};
  }
  case element_type::UINT64: { // beyond int64: keep the magnitude as a double
    std::uint64_t u = 0;
    read(e, u);
    return json_value{static_cast<double>(u)};
  }
  case element_type::DOUBLE: {
    double d = 0;
    read(e, d);
    return json_value{d};
  }
  case element_type::STRING: {
    std::string_view s;
    read(e, s);
    return json_value{std::string(s)};
  }
  case element_type::ARRAY: {
    simdjson::dom::array array;
    read(e, array);
    json_value::array_t items;
    for (simdjson::dom::element item : array)
      items.push_back(from_dom(item));
    return json_value{std::move(items)};
  }
  case element_type::OBJECT: {
    simdjson::dom::object object;
    read(e, object);
    // A repeated key keeps its last value, as PostgreSQL's jsonb does: the
    // schema, the routes and every template then see what is stored. Large
    // objects use a map, so a payload of many members stays linear.
    json_value::object_t members;
    // Reserved whole, so `index`'s views of member names never dangle.
    members.reserve(object.size());
    std::unordered_map<std::string_view, std::size_t> index;
    bool indexed = false;
    for (simdjson::dom::key_value_pair field : object) {
      std::string_view key = field.key;
      if (!indexed && members.size() >= 16) {
        for (std::size_t i = 0; i < members.size(); ++i)
          index.emplace(members[i].first, i);
        indexed = true;
      }
      std::size_t at = members.size();
      if (indexed) {
        if (auto it = index.find(key); it != index.end())
          at = it->second;
      } else {
        for (std::size_t i = 0; i < members.size(); ++i)
          if (members[i].first == key)
            at = i;
      }
      if (at < members.size()) {
        members[at].second = from_dom(field.value);
        continue;
      }
      members.emplace_back(std::string(key), from_dom(field.value));
      if (indexed)
        index.emplace(members.back().first, members.size() - 1);
    }
    return json_value{std::move(members)};
  }
  }
  return json_value{};
}

void append_double(std::string& out, double d) {
  if (!std::isfinite(d)) { // JSON has no NaN or infinity
    out += "null";
    return;
  }
  char buf[32];
  // Shortest form that reads back exactly.
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, d);
    if (std::strtod(buf, nullptr) == d)
      break;
  }
  out += buf;
}

} // namespace

result<json_value, std::string> json_value::parse(std::string_view text) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(text.data(), text.size()).get(doc); err != simdjson::SUCCESS)
    return unexpected{std::string{"not valid JSON: "} + simdjson::error_message(err)};
  return from_dom(doc);
}

double json_value::as_double() const {
  if (type() == kind::integer)
    return static_cast<double>(as_integer());
  return std::get<double>(v_);
}

const json_value* json_value::find(std::string_view name) const noexcept {
  if (!is_object())
    return nullptr;
  for (const auto& [k, v] : std::get<object_t>(v_))
    if (k == name)
      return &v;
  return nullptr;
}

const json_value* json_value::at(const std::vector<std::string>& path) const noexcept {
  const json_value* at = this;
  for (const auto& step : path) {
    at = at->find(step);
    if (!at)
      return nullptr;
  }
  return at;
}

void json_value::set(std::string name, json_value value) {
  auto& members = as_object();
  for (auto& [k, v] : members)
    if (k == name) {
      v = std::move(value);
      return;
    }
  members.emplace_back(std::move(name), std::move(value));
}

void json_value::append_json(std::string& out) const {
  switch (type()) {
  case kind::null:
    out += "null";
    break;
  case kind::boolean:
    out += as_bool() ? "true" : "false";
    break;
  case kind::integer:
    out += std::to_string(as_integer());
    break;
  case kind::number:
    append_double(out, std::get<double>(v_));
    break;
  case kind::string:
    append_json_string(out, as_string());
    break;
  case kind::array: {
    out += '[';
    bool first = true;
    for (const auto& item : as_array()) {
      if (!first)
        out += ',';
      first = false;
      item.append_json(out);
    }
    out += ']';
    break;
  }
  case kind::object: {
    out += '{';
    bool first = true;
    for (const auto& [k, v] : as_object()) {
      if (!first)
        out += ',';
      first = false;
      append_json_string(out, k);
      out += ':';
      v.append_json(out);
    }
    out += '}';
    break;
  }
  }
}

std::string json_value::to_json() const {
  std::string out;
  append_json(out);
  return out;
}

std::string json_value::to_text() const {
  switch (type()) {
  case kind::null:
    return "";
  case kind::string:
    return as_string();
  default:
    return to_json();
  }
}

bool operator==(const json_value& a, const json_value& b) {
  if (a.is_number() && b.is_number())
    return a.as_double() == b.as_double();
  return a.v_ == b.v_;
}

const char* to_string(json_value::kind k) {
  switch (k) {
  case json_value::kind::null:
    return "null";
  case json_value::kind::boolean:
    return "boolean";
  case json_value::kind::integer:
    return "integer";
  case json_value::kind::number:
    return "number";
  case json_value::kind::string:
    return "string";
  case json_value::kind::array:
    return "array";
  case json_value::kind::object:
    return "object";
  }
  return "?";
}

} // namespace txrelay
