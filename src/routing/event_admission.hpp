#pragma once
// Whether an event is accepted, and where it goes: its topic's payload
// schema first (every violation reported), then the routes, conditions
// included. Pure and shared: the HTTP side admits client events with it, the
// persistence actor admits compensation events with it.
#include "core/api_error.hpp"
#include "core/event_parser.hpp"
#include "core/payload_schema.hpp"
#include "core/result.hpp"
#include "routing/routing_table.hpp"

#include <string>
#include <unordered_map>
#include <vector>

namespace txrelay {

class event_admission {
public:
  event_admission() = default;
  event_admission(routing_table routes, std::unordered_map<std::string, payload_schema> schemas)
      : routes_(std::move(routes)), schemas_(std::move(schemas)) {}

  /// The sinks the event goes to (possibly none: its topic is routed but no
  /// route's `when` holds). Errors: 422 schema_violation listing every
  /// violation; 422 no_route when no route names the topic at all.
  result<std::vector<std::string>, api_error> admit(const parsed_event& event) const;

  const routing_table& routes() const noexcept { return routes_; }

private:
  routing_table routes_;
  std::unordered_map<std::string, payload_schema> schemas_;
};

} // namespace txrelay
