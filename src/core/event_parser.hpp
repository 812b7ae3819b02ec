#pragma once
// Validation of a POST /v1/events body, with simdjson.
#include "core/api_error.hpp"
#include "core/result.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace txrelay {

struct parsed_event {
  std::string topic;
  std::optional<std::string> key;
  std::string payload_json; // the payload object's JSON text
};

struct event_limits {
  std::size_t max_topic_length = 200;
  std::size_t max_key_length = 200;
};

/// 400 "invalid_json" when the body is not JSON (message carries the byte offset
/// when known); 400 "invalid_event" when it is JSON but not {"topic": non-empty
/// string, "payload": object, "key"?: string} (unknown fields are rejected, so a
/// typo such as "paylaod" is not silently dropped).
result<parsed_event, api_error> parse_event_body(std::string_view body, const event_limits& limits = {});

} // namespace txrelay
