#include "core/json_writer.hpp"

#include "core/json.hpp"

#include <cassert>

namespace txrelay {

void json_writer::before_value() {
  if (after_key_) { // the member's value: its comma came before the key
    after_key_ = false;
    return;
  }
  assert((open_.empty() || !open_.back().object) && "a value inside an object needs a key");
  if (!open_.empty()) {
    if (open_.back().any)
      out_ += ',';
    open_.back().any = true;
  }
}

json_writer& json_writer::begin_object() {
  before_value();
  out_ += '{';
  open_.push_back({true});
  return *this;
}

json_writer& json_writer::end_object() {
  assert(!open_.empty() && open_.back().object && !after_key_);
  open_.pop_back();
  out_ += '}';
  return *this;
}

json_writer& json_writer::begin_array() {
  before_value();
  out_ += '[';
  open_.push_back({false});
  return *this;
}

json_writer& json_writer::end_array() {
  assert(!open_.empty() && !open_.back().object);
  open_.pop_back();
  out_ += ']';
  return *this;
}

json_writer& json_writer::key(std::string_view name) {
  assert(!open_.empty() && open_.back().object && !after_key_);
  if (open_.back().any)
    out_ += ',';
  open_.back().any = true;
  append_json_string(out_, name);
  out_ += ':';
  after_key_ = true;
  return *this;
}

json_writer& json_writer::string(std::string_view s) {
  before_value();
  append_json_string(out_, s);
  return *this;
}

json_writer& json_writer::number(long long n) {
  before_value();
  out_ += std::to_string(n);
  return *this;
}

json_writer& json_writer::boolean(bool b) {
  before_value();
  out_ += b ? "true" : "false";
  return *this;
}

json_writer& json_writer::null() {
  before_value();
  out_ += "null";
  return *this;
}

json_writer& json_writer::raw(std::string_view json) {
  before_value();
  out_ += json;
  return *this;
}

json_writer& json_writer::strings(std::string_view name, const std::vector<std::string>& values) {
  key(name).begin_array();
  for (const auto& v : values)
    string(v);
  return end_array();
}

std::string json_writer::take() && {
  assert(open_.empty() && !after_key_ && "every container closed");
  std::string out = std::move(out_);
  out_.clear();
  return out;
}

} // namespace txrelay
