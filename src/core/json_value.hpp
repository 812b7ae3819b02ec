#pragma once
// An owned, immutable-after-build JSON document: what conditions, templates,
// topic schemas and SQL parameters read an event through. Parsed once with
// simdjson; objects keep member order (so rendering is stable).
#include "core/result.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace txrelay {

class json_value {
public:
  enum class kind { null, boolean, integer, number, string, array, object };
  using array_t = std::vector<json_value>;
  using object_t = std::vector<std::pair<std::string, json_value>>;

  json_value() = default; // null
  json_value(std::nullptr_t) {}
  json_value(bool b) : v_(b) {}
  json_value(std::int64_t i) : v_(i) {}
  json_value(int i) : v_(static_cast<std::int64_t>(i)) {}
  json_value(double d) : v_(d) {}
  json_value(std::string s) : v_(std::move(s)) {}
  json_value(const char* s) : v_(std::string(s)) {}
  json_value(array_t a) : v_(std::move(a)) {}
  json_value(object_t o) : v_(std::move(o)) {}

  /// The document in `text`; the error says what and where (byte offset when known).
  static result<json_value, std::string> parse(std::string_view text);

  kind type() const noexcept { return static_cast<kind>(v_.index()); }
  bool is_null() const noexcept { return type() == kind::null; }
  bool is_bool() const noexcept { return type() == kind::boolean; }
  bool is_number() const noexcept { return type() == kind::integer || type() == kind::number; }
  bool is_string() const noexcept { return type() == kind::string; }
  bool is_array() const noexcept { return type() == kind::array; }
  bool is_object() const noexcept { return type() == kind::object; }

  // Accessors; calling one for the wrong kind is a bug (std::bad_variant_access).
  bool as_bool() const { return std::get<bool>(v_); }
  std::int64_t as_integer() const { return std::get<std::int64_t>(v_); }
  double as_double() const; // integer or number
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const array_t& as_array() const { return std::get<array_t>(v_); }
  const object_t& as_object() const { return std::get<object_t>(v_); }
  array_t& as_array() { return std::get<array_t>(v_); }
  object_t& as_object() { return std::get<object_t>(v_); }

  /// The member `name` of an object; nullptr when this is not an object or has no such member.
  const json_value* find(std::string_view name) const noexcept;
  /// Follows a path of member names ("payload", "user", "name"); nullptr when any step is missing.
  const json_value* at(const std::vector<std::string>& path) const noexcept;
  /// Sets (or replaces) member `name`; this must be an object.
  void set(std::string name, json_value value);

  /// Compact JSON text.
  std::string to_json() const;
  void append_json(std::string& out) const;
  /// Text for people and SQL parameters: strings as they are, numbers in JSON
  /// form, true/false, "" for null, JSON text for arrays and objects.
  std::string to_text() const;

  friend bool operator==(const json_value& a, const json_value& b);

private:
  std::variant<std::nullptr_t, bool, std::int64_t, double, std::string, array_t, object_t> v_{nullptr};
};

const char* to_string(json_value::kind k);

} // namespace txrelay
