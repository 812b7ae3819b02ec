#pragma once
// What a reload of the config file would change in a running txrelay, and
// what it cannot change without a restart.
#include "config/config.hpp"

#include <string>
#include <vector>

namespace txrelay {

struct config_change {
  std::vector<std::string> added_sinks;   // in the new file only: start them
  std::vector<std::string> removed_sinks; // in the running config only: stop them after their attempts
  std::vector<std::string> changed_sinks; // in both, written differently: restart them
  bool routing_changed = false;           // routes or topics: new events are routed by the new ones
  // What a reload cannot apply, each with why (the listener, the keys, the
  // database, the router's settings, and in_transaction sinks, whose
  // statements run inside every writer's transactions).
  std::vector<std::string> needs_restart;

  bool empty() const {
    return added_sinks.empty() && removed_sinks.empty() && changed_sinks.empty() && !routing_changed &&
           needs_restart.empty();
  }
};

config_change diff_configs(const txrelay_config& running, const txrelay_config& loaded);

} // namespace txrelay
