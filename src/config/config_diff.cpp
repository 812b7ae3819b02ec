#include "config/config_diff.hpp"

#include <map>

namespace txrelay {

namespace {

std::string section(const txrelay_config& c, const std::string& name) {
  auto it = c.section_fingerprints.find(name);
  return it == c.section_fingerprints.end() ? std::string{} : it->second;
}

} // namespace

config_change diff_configs(const txrelay_config& running, const txrelay_config& loaded) {
  config_change change;
  for (const char* name : {"server", "auth", "database", "publish", "retention", "node"})
    if (section(running, name) != section(loaded, name))
      change.needs_restart.push_back(std::string{name} + " changed (a reload applies sinks, routes and topics)");
  change.routing_changed =
    section(running, "routes") != section(loaded, "routes") || section(running, "topics") != section(loaded, "topics");

  std::map<std::string, const sink_config*> before, after;
  for (const auto& s : running.sinks)
    before[s.name] = &s;
  for (const auto& s : loaded.sinks)
    after[s.name] = &s;
  for (const auto& [name, s] : after) {
    auto was = before.find(name);
    if (was == before.end()) {
      if (s->runs_in_transaction())
        change.needs_restart.push_back("sink " + name + " is added with phase in_transaction");
      else
        change.added_sinks.push_back(name);
    } else if (was->second->fingerprint != s->fingerprint) {
      if (s->runs_in_transaction() || was->second->runs_in_transaction())
        change.needs_restart.push_back("sink " + name + " (phase in_transaction) changed");
      else if (s->partitions != was->second->partitions)
        // Rows move to their new partitions at the start, before any sender runs.
        change.needs_restart.push_back("sink " + name + "'s partitions changed from " +
                                       std::to_string(was->second->partitions) + " to " +
                                       std::to_string(s->partitions));
      else
        change.changed_sinks.push_back(name);
    }
  }
  for (const auto& [name, s] : before) {
    if (after.count(name) != 0)
      continue;
    if (s->runs_in_transaction())
      change.needs_restart.push_back("sink " + name + " (phase in_transaction) is removed");
    else
      change.removed_sinks.push_back(name);
  }
  return change;
}

} // namespace txrelay
