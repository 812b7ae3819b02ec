#include "core/event_parser.hpp"

#include <simdjson.h>

#include <algorithm>
#include <optional>
#include <vector>

namespace txrelay {

namespace {

api_error invalid_json(std::string message) { return {400, "invalid_json", std::move(message)}; }
api_error invalid_event(std::string message) { return {400, "invalid_event", std::move(message)}; }

/// True when JSON text holds the escape \u0000 (not an escaped backslash
/// followed by "u0000"): escapes are skipped whole, so "\\u0000" is not one.
bool has_escaped_nul(std::string_view json) {
  for (std::size_t i = 0; i < json.size(); ++i) {
    if (json[i] != '\\')
      continue;
    if (json.compare(i, 6, "\\u0000") == 0)
      return true;
    ++i; // skip the escaped character
  }
  return false;
}

bool has_control_characters(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f)
      return true;
  return false;
}

/// One parser per thread: it keeps its buffers between calls. The nesting
/// limit is simdjson's own, so a document nested too deep is refused while
/// it is parsed, before anything walks it.
result<simdjson::dom::element, api_error> parse_json(std::string_view body, int max_depth) {
  if (body.empty())
    return unexpected{invalid_json("empty body: send a JSON object")};
  thread_local simdjson::dom::parser parser;
  // simdjson's max_depth counts one more level than it accepts.
  auto depth = static_cast<std::size_t>(max_depth) + 1;
  if (parser.max_depth() != depth) {
    if (auto err = parser.allocate(std::max<std::size_t>(body.size(), 4096), depth); err != simdjson::SUCCESS)
      return unexpected{invalid_json(std::string{"cannot parse: "} + simdjson::error_message(err))};
  }
  simdjson::dom::element doc;
  if (auto err = parser.parse(body.data(), body.size()).get(doc); err != simdjson::SUCCESS) {
    if (err == simdjson::DEPTH_ERROR)
      return unexpected{api_error{400, "nesting_too_deep",
                                  "the body nests objects and arrays deeper than " + std::to_string(max_depth) +
                                    " levels (server.max_json_depth)"}};
    return unexpected{invalid_json(std::string{"the body is not valid JSON: "} + simdjson::error_message(err))};
  }
  return doc;
}

/// The first key repeated within one object anywhere in `root`. PostgreSQL's
/// jsonb keeps the last of repeated keys, other parsers the first: a payload
/// with one would be checked against its schema as one value and read by a
/// receiver as another.
///
/// Every element is visited once, from an explicit stack (no recursion),
/// and each object's keys are compared once: pairwise while few, sorted
/// when many. The work is linear in the document (n log n for wide
/// objects), whatever its shape.
std::optional<std::string> repeated_key(simdjson::dom::element root) {
  std::vector<simdjson::dom::element> pending{root};
  std::vector<std::string_view> keys;
  while (!pending.empty()) {
    auto e = pending.back();
    pending.pop_back();
    simdjson::dom::object object;
    simdjson::dom::array array;
    if (e.get(object) == simdjson::SUCCESS) {
      keys.clear();
      for (simdjson::dom::key_value_pair field : object) {
        keys.push_back(field.key);
        pending.push_back(field.value);
      }
      if (keys.size() < 32) {
        for (std::size_t i = 1; i < keys.size(); ++i)
          if (std::find(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(i), keys[i]) !=
              keys.begin() + static_cast<std::ptrdiff_t>(i))
            return std::string{keys[i]};
      } else {
        std::sort(keys.begin(), keys.end());
        if (auto dup = std::adjacent_find(keys.begin(), keys.end()); dup != keys.end())
          return std::string{*dup};
      }
    } else if (e.get(array) == simdjson::SUCCESS) {
      for (simdjson::dom::element item : array)
        pending.push_back(item);
    }
  }
  return std::nullopt;
}

result<parsed_event, api_error> read_event(simdjson::dom::element element, const event_limits& limits) {
  simdjson::dom::object object;
  if (element.get_object().get(object) != simdjson::SUCCESS)
    return unexpected{invalid_event("an event must be a JSON object {\"topic\", \"payload\", \"key\"?}")};

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
      if (auto repeated = repeated_key(value))
        return unexpected{invalid_event("\"payload\" repeats the key \"" + *repeated +
                                        "\" (JSON parsers disagree on which one counts)")};
      ev.payload_json = simdjson::minify(value);
      // PostgreSQL cannot store U+0000 in jsonb or text: refuse it here as bad
      // input rather than fail at commit with a storage error.
      if (has_escaped_nul(ev.payload_json))
        return unexpected{invalid_event("\"payload\" must not contain the NUL character (\\u0000)")};
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
      if (key.find('\0') != std::string_view::npos)
        return unexpected{invalid_event("\"key\" must not contain the NUL character (\\u0000)")};
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

} // namespace

result<parsed_event, api_error> parse_event_body(std::string_view body, const event_limits& limits) {
  auto doc = parse_json(body, limits.max_depth);
  if (!doc)
    return unexpected{doc.error()};
  return read_event(*doc, limits);
}

result<std::vector<parsed_event>, batch_error> parse_event_batch(std::string_view body, const event_limits& limits,
                                                                 std::size_t max_events) {
  auto doc = parse_json(body, limits.max_depth);
  if (!doc)
    return unexpected{batch_error{doc.error(), {}}};
  simdjson::dom::object object;
  simdjson::dom::array events;
  auto shape = invalid_event("a batch is {\"events\": [event, ...]} with 1 to " + std::to_string(max_events) +
                             " events");
  if (doc->get_object().get(object) != simdjson::SUCCESS || object.size() != 1 ||
      object["events"].get_array().get(events) != simdjson::SUCCESS)
    return unexpected{batch_error{shape, {}}};
  if (events.size() == 0 || events.size() > max_events)
    return unexpected{batch_error{shape, {}}};
  std::vector<parsed_event> out;
  out.reserve(events.size());
  batch_error failed{{400, "invalid_batch", ""}, {}};
  std::size_t index = 0;
  for (auto element : events) {
    auto ev = read_event(element, limits);
    if (ev)
      out.push_back(std::move(*ev));
    else
      failed.items.push_back({index, ev.error()});
    ++index;
  }
  if (!failed.items.empty()) {
    failed.error.message = std::to_string(failed.items.size()) + " of " + std::to_string(events.size()) +
                           " events are invalid; nothing was stored";
    return unexpected{std::move(failed)};
  }
  return out;
}

} // namespace txrelay
