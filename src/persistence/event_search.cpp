#include "persistence/event_search.hpp"

#include "core/ids.hpp"

#include <algorithm>

namespace txrelay::pg {

namespace {

// A UUIDv7 carries its creation's millisecond, and an event's id and
// created_at are taken together (by txrelay, or by txrelay.publish()), so a
// time range is also an id range: the primary key bounds the scan, and
// created_at decides exactly. The margin covers the moments between taking
// the id and the timestamp.
constexpr auto id_time_margin = std::chrono::minutes{1};

// The page's deliveries, from the view that says each one's status now.
const std::string page_deliveries_sql = "SELECT d.event_id::text, " TXR_DELIVERY_RECORD_COLUMNS R"sql(
FROM txrelay.delivery_status d
WHERE d.event_id = ANY ($1::uuid[])
ORDER BY d.event_id, d.id)sql";

} // namespace

std::optional<search_status> parse_search_status(std::string_view text) {
  if (text == "pending")
    return search_status::pending;
  if (text == "delivered")
    return search_status::delivered;
  if (text == "dead")
    return search_status::dead;
  if (text == "rejected")
    return search_status::rejected;
  return std::nullopt;
}

search_statement event_search_statement(const event_query& q) {
  search_statement st;
  std::vector<std::string> where;
  auto arg = [&](std::optional<std::string> value) {
    st.params.push_back(std::move(value));
    return "$" + std::to_string(st.params.size());
  };
  if (q.before_id)
    where.push_back("e.id < " + arg(*q.before_id) + "::uuid");
  if (q.since) {
    where.push_back("e.id >= " + arg(uuid_v7_floor(*q.since - id_time_margin)) + "::uuid");
    where.push_back("e.created_at >= " + arg(format_rfc3339(*q.since)) + "::timestamptz");
  }
  if (q.until) {
    where.push_back("e.id < " + arg(uuid_v7_floor(*q.until + id_time_margin)) + "::uuid");
    where.push_back("e.created_at < " + arg(format_rfc3339(*q.until)) + "::timestamptz");
  }
  if (q.topic)
    where.push_back("e.topic = " + arg(*q.topic));
  if (q.key)
    where.push_back("e.key = " + arg(*q.key));
  std::string sinks = q.sinks.empty() ? std::string{} : arg(text_array_literal(q.sinks)) + "::text[]";
  if (!q.status) {
    if (!sinks.empty())
      where.push_back("e.delivery_sinks && " + sinks);
  } else {
    switch (*q.status) {
      case search_status::rejected:
        // events_rejected: a partial index of the few refused events.
        where.push_back("e.rejection IS NOT NULL");
        if (!sinks.empty())
          where.push_back("false"); // a refused event has no deliveries
        break;
      case search_status::pending:
        // The queue is the backlog, small when all is well: its event ids
        // drive the search. An event not yet routed is pending too.
        if (sinks.empty())
          where.push_back("e.id IN (SELECT p.event_id FROM txrelay.pending_deliveries p"
                          " UNION ALL SELECT u.event_id FROM txrelay.unrouted_events u)");
        else
          where.push_back("e.id IN (SELECT p.event_id FROM txrelay.pending_deliveries p WHERE p.sink = ANY (" + sinks +
                          "))");
        break;
      case search_status::dead:
        // deliveries_dead (sink, id) WHERE status = 'dead': dead rows are few.
        where.push_back("e.id IN (SELECT d.event_id FROM txrelay.deliveries d WHERE d.status = 'dead'" +
                        (sinks.empty() ? std::string{} : " AND d.sink = ANY (" + sinks + ")") + ")");
        break;
      case search_status::delivered:
        // Nearly every event: the newest are scanned and each checked.
        where.push_back(
          "EXISTS (SELECT 1 FROM unnest(e.delivery_ids, e.delivery_sinks) AS r(id, sink)"
          " WHERE " +
          (sinks.empty() ? std::string{} : "r.sink = ANY (" + sinks + ") AND ") +
          "NOT EXISTS (SELECT 1 FROM txrelay.pending_deliveries p WHERE p.sink = r.sink AND p.id = r.id)"
          " AND NOT EXISTS (SELECT 1 FROM txrelay.deliveries d WHERE d.event_id = e.id AND d.sink = r.sink"
          " AND d.status = 'dead'))");
        break;
    }
  }
  st.sql = "SELECT e.id::text, e.topic, e.key, " TXR_RFC3339("e.created_at") ", " TXR_ROUTING_STATE "\n"
           "FROM txrelay.event_log e";
  for (std::size_t i = 0; i < where.size(); ++i)
    st.sql += (i == 0 ? "\nWHERE " : "\n  AND ") + where[i];
  // One more than the page: whether a next page exists.
  st.sql += "\nORDER BY e.id DESC\nLIMIT " + arg(std::to_string(q.limit + 1));
  return st;
}

result<event_page, pg_error> search_events(connection& conn, const event_query& query) {
  if (query.before_id && !is_uuid(*query.before_id))
    return unexpected{pg_error{"", "internal error: the cursor is not a UUID"}};
  auto st = event_search_statement(query);
  // The search shares the ledger's connection with outcome recording: a
  // search no index serves (a sink nearly no event has) gives up rather than
  // hold that connection for the whole statement timeout.
  if (auto begun = conn.exec("BEGIN READ ONLY; SET LOCAL statement_timeout = 5000"); !begun)
    return unexpected{begun.error()};
  auto res = conn.exec(st.sql, params_of(st.params));
  if (!res) {
    if (!res.error().connection_lost)
      conn.exec("ROLLBACK");
    return unexpected{res.error()};
  }
  if (auto ended = conn.exec("COMMIT"); !ended)
    return unexpected{ended.error()};
  event_page page;
  int rows = std::min(res->rows(), query.limit);
  std::vector<std::string> ids;
  for (int r = 0; r < rows; ++r) {
    event_summary e;
    e.id = res->get(r, 0);
    e.topic = res->get(r, 1);
    e.key = res->get_optional(r, 2);
    e.created_at = res->get(r, 3);
    e.routing = routing_state_from(res->get(r, 4));
    ids.push_back(e.id);
    page.events.push_back(std::move(e));
  }
  if (res->rows() > query.limit)
    page.next = page.events.back().id;
  if (ids.empty())
    return page;
  auto ds = conn.exec(page_deliveries_sql, params_of({text_array_literal(ids)}));
  if (!ds)
    return unexpected{ds.error()};
  for (int r = 0; r < ds->rows(); ++r) {
    auto event = std::find_if(page.events.begin(), page.events.end(),
                              [&](const event_summary& e) { return e.id == ds->get(r, 0); });
    if (event == page.events.end())
      continue;
    event->deliveries.push_back(delivery_record_at(*ds, r, 1));
  }
  return page;
}

} // namespace txrelay::pg
