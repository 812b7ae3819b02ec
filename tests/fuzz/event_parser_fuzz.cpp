// libFuzzer target: the body of POST /v1/events (core/event_parser.hpp).
// The whole input is the request body. Besides crashes, sanitizer reports,
// leaks and timeouts, it aborts when an accepted event breaks what the rest of
// txrelay relies on: a non-empty topic within the limit and free of control
// characters, a key within the limit and free of NUL, and a payload that is a
// JSON object without the \u0000 escape (PostgreSQL's jsonb cannot store it).
// Deterministic; no I/O.
#include "core/event_parser.hpp"
#include "core/json_value.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

using namespace txrelay;

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "event_parser_fuzz: invariant broken: %s\n", what);
  std::abort();
}

bool has_escaped_nul(std::string_view json) {
  for (std::size_t i = 0; i < json.size(); ++i) {
    if (json[i] != '\\')
      continue;
    if (json.compare(i, 6, "\\u0000") == 0)
      return true;
    ++i;
  }
  return false;
}

void check_event(const parsed_event& ev, const event_limits& limits) {
  if (ev.topic.empty() || ev.topic.size() > limits.max_topic_length)
    broken("accepted topic is empty or over the limit");
  for (unsigned char c : ev.topic)
    if (c < 0x20 || c == 0x7f)
      broken("accepted topic holds a control character");
  if (ev.key && (ev.key->size() > limits.max_key_length || ev.key->find('\0') != std::string::npos))
    broken("accepted key is over the limit or holds NUL");
  if (has_escaped_nul(ev.payload_json))
    broken("accepted payload holds \\u0000");
  auto payload = json_value::parse(ev.payload_json);
  if (!payload)
    broken("accepted payload_json is not valid JSON");
  if (!payload->is_object())
    broken("accepted payload_json is not an object");
}

void check_error(const api_error& e) {
  // invalid_json, invalid_event (and nesting_too_deep where the parser limits depth)
  if (e.status != 400 || e.code.empty() || e.message.empty())
    broken("parse_event_body error is not a 400 with a code and a message");
  if (!json_value::parse(e.to_json()))
    broken("api_error::to_json is not valid JSON");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body{reinterpret_cast<const char*>(data), size};

  // The limits the API uses (api_options::limits is default-constructed from config).
  const event_limits defaults{};
  auto ev = parse_event_body(body, defaults);
  if (ev)
    check_event(*ev, defaults);
  else
    check_error(ev.error());

  // Small limits, so the length checks are reached with short inputs.
  const event_limits tight{4, 4};
  auto small = parse_event_body(body, tight);
  if (small)
    check_event(*small, tight);
  else
    check_error(small.error());
  if (small && !ev)
    broken("accepted with tighter limits but refused with the defaults");
  return 0;
}
