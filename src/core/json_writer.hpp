#pragma once
// Building a JSON document: the one way responses are written. The writer
// places commas and colons, escapes every string (append_json_string), and
// checks in debug builds that objects hold key/value pairs and that every
// container is closed.
//
//   json_writer w;
//   w.begin_object().key("id").string(id).key("attempts").number(3);
//   w.key("sinks").begin_array();
//   for (auto& s : sinks) w.string(s);
//   w.end_array().end_object();
//   std::string body = std::move(w).take();
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace txrelay {

class json_writer {
public:
  json_writer& begin_object();
  json_writer& end_object();
  json_writer& begin_array();
  json_writer& end_array();

  /// The next member's name; a value must follow.
  json_writer& key(std::string_view name);

  json_writer& string(std::string_view s);
  json_writer& number(long long n);
  json_writer& boolean(bool b);
  json_writer& null();
  /// A value already in JSON (a payload stored as jsonb text, an error
  /// object made elsewhere by this writer): inserted as it is.
  json_writer& raw(std::string_view json);

  /// The value, or null.
  json_writer& string_or_null(const std::optional<std::string>& s) { return s ? string(*s) : null(); }
  json_writer& number_or_null(const std::optional<long long>& n) { return n ? number(*n) : null(); }

  /// A member whose value is a string array.
  json_writer& strings(std::string_view name, const std::vector<std::string>& values);

  /// The document; the writer is empty afterwards.
  std::string take() &&;
  const std::string& text() const { return out_; }

private:
  void before_value();

  std::string out_;
  // Per open container: whether it holds an element yet, and whether it is an object.
  struct level {
    bool object;
    bool any = false;
  };
  std::vector<level> open_;
  bool after_key_ = false;
};

} // namespace txrelay
