#include "core/routing.hpp"

#include <algorithm>

namespace txrelay {

routing_table::routing_table(const std::vector<route_rule>& rules, const std::vector<std::string>& sink_order) {
  for (const auto& rule : rules) {
    auto& sinks = by_topic_[rule.topic];
    for (const auto& s : rule.sinks)
      if (std::find(sink_order.begin(), sink_order.end(), s) != sink_order.end() &&
          std::find(sinks.begin(), sinks.end(), s) == sinks.end())
        sinks.push_back(s);
  }
  for (auto& [topic, sinks] : by_topic_) {
    auto position = [&](const std::string& s) { return std::find(sink_order.begin(), sink_order.end(), s); };
    std::sort(sinks.begin(), sinks.end(), [&](const auto& a, const auto& b) { return position(a) < position(b); });
  }
}

const std::vector<std::string>& routing_table::sinks_for(std::string_view topic) const {
  static const std::vector<std::string> none;
  auto it = by_topic_.find(std::string{topic});
  return it == by_topic_.end() ? none : it->second;
}

} // namespace txrelay
