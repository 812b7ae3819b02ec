#include "actors/node_context.hpp"

#include "actors/persistence_support.hpp"
#include "logging/log.hpp"

namespace txrelay {

pg::connection* reachable_connection(std::optional<pg::connection>& conn, const node_context& node, bool& unavailable,
                                     std::string_view who, std::string_view meanwhile) {
  auto reached = ensure_connection(conn, node.database_url, node.database_limits);
  if (!reached) {
    if (!unavailable)
      log::warn(std::string{who} + ": cannot reach PostgreSQL: " + reached.error().message + std::string{meanwhile});
    unavailable = true;
    return nullptr;
  }
  unavailable = false;
  return *reached;
}

} // namespace txrelay
