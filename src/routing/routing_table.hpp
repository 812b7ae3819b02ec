#pragma once
// Which sinks an event goes to: by topic, and by a condition on the event
// (a route's `when`). Built once from the config; conditions were parsed then.
#include "core/json_value.hpp"
#include "expr/condition.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace txrelay {

struct route_rule {
  std::string topic;              // exact topic name
  std::optional<condition> when;  // none: every event of the topic
  std::vector<std::string> sinks; // sink names
};

class routing_table {
public:
  routing_table() = default;
  /// `sink_order` fixes the order of sinks in results (config order);
  /// sinks not listed there (disabled sinks) are skipped.
  routing_table(const std::vector<route_rule>& rules, const std::vector<std::string>& sink_order);

  /// Whether any route names `topic` (whatever its conditions).
  bool routes_topic(std::string_view topic) const;

  /// Whether routing `topic` looks at the event (some route of it has a
  /// `when`): only then does the caller need to build the event document.
  bool needs_event(std::string_view topic) const;

  /// Sinks for the event, each once, in config order. `event` is its
  /// event_document; it may be null when needs_event(topic) is false. Empty
  /// when no route matches: unrouted topic, or no condition held.
  std::vector<std::string> sinks_for(std::string_view topic, const json_value* event = nullptr) const;

private:
  struct topic_routes {
    std::vector<std::pair<std::optional<condition>, std::vector<std::size_t>>> rules; // sink positions
    bool conditional = false;
    std::vector<std::string> unconditional; // all sinks, when no rule has a condition
  };
  std::vector<std::string> sink_order_;
  std::unordered_map<std::string, topic_routes> by_topic_;
};

} // namespace txrelay
