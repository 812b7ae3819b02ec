#include "actors/persistence_support.hpp"

#include "core/utf8.hpp"

#include <map>

namespace txrelay {

result<pg::connection*, pg::pg_error> ensure_connection(std::optional<pg::connection>& conn, const std::string& url,
                                                        const char* session_setup) {
  if (conn && conn->healthy())
    return &*conn;
  conn.reset();
  auto opened = pg::connection::open(url);
  if (!opened)
    return unexpected{opened.error()};
  if (auto r = opened->exec(session_setup); !r)
    return unexpected{r.error()};
  conn.emplace(std::move(*opened));
  return &*conn;
}

caf::error to_caf(const pg::pg_error& err) {
  return make_persistence_error(err.connection_lost ? persistence_errc::unavailable : persistence_errc::rejected,
                                err.message);
}

std::string primary_message(const std::string& message) {
  auto line = message.substr(0, message.find('\n'));
  for (const char* prefix : {"ERROR:  ", "FATAL:  "})
    if (line.rfind(prefix, 0) == 0)
      line = line.substr(std::string_view{prefix}.size());
  return one_line_excerpt(line, 300);
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
