#pragma once
// Validation of a POST /v1/events body, with simdjson.
#include "core/api_error.hpp"
#include "core/result.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace txrelay {

struct parsed_event {
  std::string topic;
  std::optional<std::string> key;
  std::string payload_json; // the payload object's JSON text
};

struct event_limits {
  std::size_t max_topic_length = 200;
  std::size_t max_key_length = 200;
  int max_depth = 64; // nesting of the whole body (`{}` is 1); deeper: 400 nesting_too_deep
};

/// 400 "invalid_json" when the body is not JSON (message carries the byte offset
/// when known); 400 "invalid_event" when it is JSON but not {"topic": non-empty
/// string, "payload": object, "key"?: string} (unknown fields are rejected, so a
/// typo such as "paylaod" is not silently dropped).
result<parsed_event, api_error> parse_event_body(std::string_view body, const event_limits& limits = {});

} // namespace txrelay

namespace txrelay {

/// Why a batch was refused: the batch-level error and, when items were at
/// fault, each failing item with its own error.
struct batch_error {
  struct item {
    std::size_t index;
    api_error error;
  };
  api_error error;
  std::vector<item> items;
};

/// A POST /v1/events:batch body, {"events": [event, ...]} with 1..max_events
/// events, each validated as parse_event_body does. All items are checked, so
/// the client learns every problem at once.
result<std::vector<parsed_event>, batch_error> parse_event_batch(std::string_view body, const event_limits& limits,
                                                                 std::size_t max_events);

} // namespace txrelay
