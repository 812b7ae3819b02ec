#include "core/event_parser.hpp"

#include <simdjson.h>

namespace txrelay {

namespace {

api_error invalid_json(std::string message) { return {400, "invalid_json", std::move(message)}; }
api_error invalid_event(std::string message) { return {400, "invalid_event", std::move(message)}; }

bool has_control_characters(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f)
      return true;
  return false;
}

} // namespace

result<parsed_event, api_error> parse_event_body(std::string_view body, const event_limits& limits) {
  if (body.empty())
    return unexpected{invalid_json("empty body: send a JSON object")};
  // One parser per thread: it keeps its buffers between calls.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(body.data(), body.size()).get(doc); err != simdjson::SUCCESS)
    return unexpected{invalid_json(std::string{"the body is not valid JSON: "} + simdjson::error_message(err))};
  simdjson::dom::object object;
  if (doc.get_object().get(object) != simdjson::SUCCESS)
    return unexpected{invalid_event("the body must be a JSON object {\"topic\", \"payload\", \"key\"?}")};

  parsed_event ev;
  bool seen_topic = false, seen_payload = false, seen_key = false;
  for (auto field : object) {
    auto name = field.key;
    auto value = field.value;
    if (name == "topic") {
      if (seen_topic)
        return unexpected{invalid_event("\"topic\" appears twice")};
      seen_topic = true;
      std::string_view topic;
      if (value.get_string().get(topic) != simdjson::SUCCESS || topic.empty())
        return unexpected{invalid_event("\"topic\" must be a non-empty string")};
      if (topic.size() > limits.max_topic_length)
        return unexpected{
          invalid_event("\"topic\" is longer than " + std::to_string(limits.max_topic_length) + " bytes")};
      if (has_control_characters(topic))
        return unexpected{invalid_event("\"topic\" must not contain control characters")};
      ev.topic = std::string{topic};
    } else if (name == "payload") {
      if (seen_payload)
        return unexpected{invalid_event("\"payload\" appears twice")};
      seen_payload = true;
      if (!value.is_object())
        return unexpected{invalid_event("\"payload\" must be a JSON object")};
      ev.payload_json = simdjson::minify(value);
    } else if (name == "key") {
      if (seen_key)
        return unexpected{invalid_event("\"key\" appears twice")};
      seen_key = true;
      if (value.is_null())
        continue;
      std::string_view key;
      if (value.get_string().get(key) != simdjson::SUCCESS)
        return unexpected{invalid_event("\"key\" must be a string or null")};
      if (key.size() > limits.max_key_length)
        return unexpected{invalid_event("\"key\" is longer than " + std::to_string(limits.max_key_length) + " bytes")};
      ev.key = std::string{key};
    } else {
      return unexpected{invalid_event("unknown field \"" + std::string{name} +
                                      "\": an event has \"topic\", \"payload\" and optionally \"key\"")};
    }
  }
  if (!seen_topic)
    return unexpected{invalid_event("\"topic\" is required")};
  if (!seen_payload)
    return unexpected{invalid_event("\"payload\" is required and must be a JSON object")};
  return ev;
}

} // namespace txrelay
