#pragma once
// GET /v1/events: events by topic, key, delivery status, sink and creation
// time, newest first, a page at a time (keyset on the id, never OFFSET).
// Which index serves which filter is in docs/architecture.md; a test checks
// the plans with EXPLAIN.
#include "core/clock.hpp"
#include "persistence/outbox.hpp"
#include "persistence/pg_connection.hpp"

#include <optional>
#include <string>
#include <vector>

namespace txrelay::pg {

/// What an event's deliveries may be in: an event matches when one of its
/// deliveries (to the sink asked for, if one is) is. `rejected` is the
/// event's own state: refused when it was routed.
enum class search_status { pending, delivered, dead, rejected };

std::optional<search_status> parse_search_status(std::string_view text);

struct event_query {
  std::optional<std::string> topic;
  std::optional<std::string> key;
  std::optional<search_status> status;
  std::vector<std::string> sinks; // non-empty: a delivery to one of these (a partitioned sink's partitions)
  std::optional<time_point> since; // created_at >= since
  std::optional<time_point> until; // created_at < until
  std::optional<std::string> before_id; // the cursor: ids below this one
  int limit = 50;
};

/// One event of a page, with its deliveries' state (no payload: pages are
/// for finding; GET /v1/events/{id} shows the rest).
struct event_summary {
  std::string id;
  std::string topic;
  std::optional<std::string> key;
  std::string created_at;
  routing_state routing = routing_state::routed;
  std::vector<delivery_record> deliveries; // by id; no history
};

struct event_page {
  std::vector<event_summary> events; // newest first
  std::optional<std::string> next;   // the cursor of the following page; empty: this was the last
};

/// The statement a query runs (with its parameters), for the plan tests.
struct search_statement {
  std::string sql;
  std::vector<std::optional<std::string>> params;
};
search_statement event_search_statement(const event_query& query);

result<event_page, pg_error> search_events(connection& conn, const event_query& query);

} // namespace txrelay::pg
