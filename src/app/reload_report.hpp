#pragma once
// What a config reload did, for its log line and its HTTP answer.
#include "config/config_diff.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace txrelay {

struct reload_report {
  config_change change; // needs_restart is empty: such a file is refused
  // Each removed sink's pending deliveries: they stay in PostgreSQL and are
  // sent if a later reload (or restart) brings the sink back.
  // Unknown (empty) if they could not be counted.
  std::vector<std::pair<std::string, std::optional<long long>>> removed_pending;
  // A problem after the switch that did not undo it (see engine::reload).
  std::vector<std::string> warnings;
};

} // namespace txrelay
