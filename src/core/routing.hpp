#pragma once
// Which sinks an event goes to. Pure: built once from the config.
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace txrelay {

struct route_rule {
  std::string topic;              // exact topic name
  std::vector<std::string> sinks; // sink names
};

class routing_table {
public:
  routing_table() = default;
  /// `sink_order` fixes the order of sinks in results (config order);
  /// sinks not listed there (disabled sinks) are skipped.
  routing_table(const std::vector<route_rule>& rules, const std::vector<std::string>& sink_order);

  /// Sinks for `topic`, each once, in config order; empty when unrouted.
  const std::vector<std::string>& sinks_for(std::string_view topic) const;

private:
  std::unordered_map<std::string, std::vector<std::string>> by_topic_;
};

} // namespace txrelay
