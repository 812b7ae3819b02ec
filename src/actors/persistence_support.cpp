#include "actors/persistence_support.hpp"

#include "core/utf8.hpp"
#include "expr/event_document.hpp"
#include "logging/log.hpp"
#include "sinks/sql_sink.hpp"

#include <map>

namespace txrelay {

result<pg::connection*, pg::pg_error> ensure_connection(std::optional<pg::connection>& conn, const std::string& url,
                                                        const pg::connection_limits& limits,
                                                        const char* session_setup) {
  if (conn && conn->healthy())
    return &*conn;
  conn.reset();
  auto opened = pg::connection::open(url, limits);
  if (!opened)
    return unexpected{opened.error()};
  if (session_setup != nullptr)
    if (auto r = opened->exec(session_setup); !r)
      return unexpected{r.error()};
  conn.emplace(std::move(*opened));
  return &*conn;
}

caf::error to_caf(const pg::pg_error& err) {
  // A connection error names the host, port and user, and a statement's
  // DETAIL can quote rows: the log keeps them, the client gets less.
  if (err.connection_lost) {
    log::warn("database unavailable: " + one_line_excerpt(err.message, 500));
    return make_persistence_error(persistence_errc::unavailable, "cannot reach the database");
  }
  log::warn("statement failed: " + one_line_excerpt(err.message, 500));
  return make_persistence_error(persistence_errc::rejected, primary_message(err.message));
}

pg::ingest_item make_ingest_item(shared_uuid_v7_generator& ids, event_submission ev, time_point now) {
  pg::ingest_item item;
  item.event_id = ids.next(now);
  item.created_at = format_rfc3339(now);
  item.delivery_ids.reserve(ev.sinks.size());
  for (std::size_t i = 0; i < ev.sinks.size(); ++i)
    item.delivery_ids.push_back(ids.next(now));
  item.event = std::move(ev);
  return item;
}

bool is_transient(const pg::pg_error& err) {
  return err.connection_lost || classify_sql_error(err).outcome == attempt_result::verdict::retry;
}

std::optional<projection_failure> run_projections(pg::connection& conn,
                                                  const std::map<std::string, sql_statement>& in_transaction,
                                                  const pg::ingest_item& item) {
  for (std::size_t s = 0; s < item.event.sinks.size(); ++s) {
    const auto& sink = item.event.sinks[s];
    auto statement = in_transaction.find(sink);
    if (statement == in_transaction.end())
      continue;
    auto doc = event_document_from_json(
      event_fields{item.event.topic, key_view(item.event.key), item.event_id, item.delivery_ids[s], item.created_at},
      item.event.payload_json);
    if (auto ran = run_statement(conn, statement->second, doc); !ran) {
      // The log keeps libpq's DETAIL lines; callers pass on the primary message only.
      log::warn("in_transaction sink " + sink + " refused event " + item.event_id + ": " +
                one_line_excerpt(ran.error().message, 1000));
      return projection_failure{sink, ran.error(), is_transient(ran.error()), true};
    }
    if (auto marked = pg::mark_delivered(conn, {item.event_id, sink, item.delivery_ids[s]}, 1); !marked)
      return projection_failure{sink, marked.error(), is_transient(marked.error()), false};
  }
  return std::nullopt;
}

void dispatch_committed(caf::event_based_actor* self, const caf::actor& dispatcher,
                        const std::vector<pg::ingest_item>& items, const std::vector<pg::ingest_receipt>& receipts,
                        const std::map<std::string, sql_statement>& in_transaction, time_point now,
                        time_point committed_at) {
  if (!dispatcher)
    return; // senders find these rows when they start and sweep
  std::map<std::string, delivery_jobs> by_sink;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (!receipts[i].created)
      continue;
    const auto& item = items[i];
    for (std::size_t s = 0; s < item.delivery_ids.size(); ++s) {
      if (in_transaction.count(item.event.sinks[s]))
        continue; // done in the ingest transaction
      delivery_job job;
      job.id = item.delivery_ids[s];
      job.event_id = item.event_id;
      job.sink = item.event.sinks[s];
      job.topic = item.event.topic;
      job.key = item.event.key;
      job.payload_json = item.event.payload_json;
      job.created_at = item.created_at;
      job.next_attempt_at = now;
      job.committed_at = committed_at;
      by_sink[job.sink].push_back(std::move(job));
    }
  }
  for (auto& [sink, jobs] : by_sink)
    self->send(dispatcher, dispatch_atom::value, sink, std::move(jobs));
}

} // namespace txrelay
