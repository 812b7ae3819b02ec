#pragma once
// Which node holds each sink's lease, as GET /v1/nodes on one node says.
#include "pg/engine_harness.hpp"
#include "support/json_probe.hpp"

#include <map>
#include <string>

namespace txrelay::testing {

/// Sink (or partition) name to the id of the node holding its lease.
inline std::map<std::string, std::string> sink_lease_holders(const engine_harness& e) {
  std::map<std::string, std::string> holders;
  auto body = e.get("/v1/nodes").body;
  for (int n = 0; n < json_array_size(body, "/nodes"); ++n) {
    auto p = "/nodes/" + std::to_string(n);
    for (int l = 0; l < json_array_size(body, p + "/leases"); ++l) {
      auto lease = json_string_at(body, p + "/leases/" + std::to_string(l)).value_or("");
      if (lease.rfind("sink:", 0) == 0)
        holders[lease.substr(5)] = json_string_at(body, p + "/id").value_or("?");
    }
  }
  return holders;
}

} // namespace txrelay::testing
