#include "routing/routing_table.hpp"

#include <algorithm>

namespace txrelay {

routing_table::routing_table(const std::vector<route_rule>& rules, const std::vector<std::string>& sink_order)
    : sink_order_(sink_order) {
  for (const auto& rule : rules) {
    auto& routes = by_topic_[rule.topic];
    std::vector<std::size_t> positions;
    for (const auto& s : rule.sinks) {
      auto it = std::find(sink_order.begin(), sink_order.end(), s);
      if (it != sink_order.end())
        positions.push_back(static_cast<std::size_t>(it - sink_order.begin()));
    }
    routes.conditional = routes.conditional || rule.when.has_value();
    routes.rules.emplace_back(rule.when, std::move(positions));
  }
  for (auto& [topic, routes] : by_topic_)
    if (!routes.conditional)
      routes.unconditional = sinks_for(topic, nullptr);
}

bool routing_table::routes_topic(std::string_view topic) const {
  return by_topic_.find(std::string{topic}) != by_topic_.end();
}

bool routing_table::needs_event(std::string_view topic) const {
  auto it = by_topic_.find(std::string{topic});
  return it != by_topic_.end() && it->second.conditional;
}

std::vector<std::string> routing_table::sinks_for(std::string_view topic, const json_value* event) const {
  auto it = by_topic_.find(std::string{topic});
  if (it == by_topic_.end())
    return {};
  const auto& routes = it->second;
  if (!routes.conditional && !routes.unconditional.empty())
    return routes.unconditional;
  static const json_value no_event;
  std::vector<bool> chosen(sink_order_.size(), false);
  for (const auto& [when, positions] : routes.rules) {
    if (when && !when->matches(event ? *event : no_event))
      continue;
    for (auto p : positions)
      chosen[p] = true;
  }
  std::vector<std::string> out;
  for (std::size_t p = 0; p < chosen.size(); ++p)
    if (chosen[p])
      out.push_back(sink_order_[p]);
  return out;
}

} // namespace txrelay
