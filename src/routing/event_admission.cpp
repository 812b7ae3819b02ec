#include "routing/event_admission.hpp"

#include "core/partition.hpp"
#include "expr/event_document.hpp"

namespace txrelay {

result<std::vector<std::string>, api_error> event_admission::admit(const parsed_event& event) const {
  auto sinks = routed_sinks(event);
  if (!sinks || partitions_.empty())
    return sinks;
  for (auto& sink : *sinks) {
    auto divided = partitions_.find(sink);
    if (divided == partitions_.end())
      continue;
    // A key keeps its partition (its order holds there); events without
    // one take the partitions in turn.
    int n = divided->second;
    int index = event.key ? partition_for(*event.key, n)
                          : static_cast<int>(keyless_turn_->fetch_add(1, std::memory_order_relaxed) % n);
    sink = partition_name(sink, index);
  }
  return sinks;
}

result<std::vector<std::string>, api_error> event_admission::routed_sinks(const parsed_event& event) const {
  auto schema = schemas_.find(event.topic);
  bool has_schema = schema != schemas_.end();
  if (!routes_.routes_topic(event.topic))
    return unexpected{api_error{422, "no_route", "no route for topic \"" + event.topic + "\""}};
  if (!has_schema && !routes_.needs_event(event.topic))
    return routes_.sinks_for(event.topic); // the common case: no parse at all

  auto payload = json_value::parse(event.payload_json); // already validated as an object
  if (!payload)
    return unexpected{api_error{400, "invalid_event", "payload: " + payload.error()}};
  if (has_schema) {
    auto violations = check_payload(schema->second, *payload);
    if (!violations.empty()) {
      api_error err{422, "schema_violation", "", std::move(violations)};
      err.message = "the payload does not match topic \"" + event.topic + "\"'s schema (" +
                    std::to_string(err.violations.size()) +
                    (err.violations.size() == 1 ? " violation)" : " violations)");
      return unexpected{std::move(err)};
    }
  }
  if (!routes_.needs_event(event.topic))
    return routes_.sinks_for(event.topic);
  auto doc = event_document(event_fields{event.topic, key_view(event.key), "", "", ""}, std::move(*payload));
  return routes_.sinks_for(event.topic, &doc);
}

} // namespace txrelay
