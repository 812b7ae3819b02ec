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

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace txrelay {

class event_admission {
public:
  event_admission() = default;
  /// `partitions`: the partition count of each sink that has more than one.
  event_admission(routing_table routes, std::unordered_map<std::string, payload_schema> schemas,
                  std::unordered_map<std::string, int> partitions = {})
      : routes_(std::move(routes)), schemas_(std::move(schemas)), partitions_(std::move(partitions)) {}

  /// The sinks the event goes to (possibly none: its topic is routed but no
  /// route's `when` holds), a partitioned sink as the partition its key
  /// selects. Errors: 422 schema_violation listing every violation;
  /// 422 no_route when no route names the topic at all.
  result<std::vector<std::string>, api_error> admit(const parsed_event& event) const;

  const routing_table& routes() const noexcept { return routes_; }

private:
  result<std::vector<std::string>, api_error> routed_sinks(const parsed_event& event) const;

  routing_table routes_;
  std::unordered_map<std::string, payload_schema> schemas_;
  std::unordered_map<std::string, int> partitions_;
  // Shared by copies: keyless events of every thread take the partitions in turn.
  std::shared_ptr<std::atomic<std::uint64_t>> keyless_turn_ = std::make_shared<std::atomic<std::uint64_t>>(0);
};

} // namespace txrelay
