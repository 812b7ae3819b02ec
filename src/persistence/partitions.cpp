#include "persistence/partitions.hpp"

#include "core/partition.hpp"
#include "persistence/binary_array.hpp"

namespace txrelay::pg {

result<std::vector<std::string>, pg_error> sinks_with_open_deliveries(connection& conn) {
  // One index probe per distinct sink and status instead of a scan of every row.
  static const std::string sql = R"sql(
WITH RECURSIVE pending(sink) AS (
  (SELECT sink FROM txrelay.pending_deliveries ORDER BY sink LIMIT 1)
  UNION ALL
  SELECT (SELECT q.sink FROM txrelay.pending_deliveries q WHERE q.sink > p.sink ORDER BY q.sink LIMIT 1)
    FROM pending p WHERE p.sink IS NOT NULL
), dead(sink) AS (
  (SELECT sink FROM txrelay.deliveries WHERE status = 'dead' ORDER BY sink LIMIT 1)
  UNION ALL
  SELECT (SELECT d.sink FROM txrelay.deliveries d WHERE d.status = 'dead' AND d.sink > p.sink
           ORDER BY d.sink LIMIT 1)
    FROM dead p WHERE p.sink IS NOT NULL
)
SELECT sink FROM pending WHERE sink IS NOT NULL
UNION
SELECT sink FROM dead WHERE sink IS NOT NULL)sql";
  auto res = conn.exec_prepared("txr_open_sinks", sql, {});
  if (!res)
    return unexpected{res.error()};
  std::vector<std::string> sinks;
  for (int r = 0; r < res->rows(); ++r)
    sinks.emplace_back(res->get(r, 0));
  return sinks;
}

result<long long, pg_error> move_open_deliveries(connection& conn, const std::string& from, const std::string& sink,
                                                 int partitions, bool misplaced_only) {
  static const std::string sql = [] {
    std::string partition = partition_sql_template;
    auto splice = [&](const std::string& name, const std::string& with) {
      partition.replace(partition.find(name), name.size(), with);
    };
    splice("%KEY%", "coalesce(e.key, d.event_id::text)");
    splice("%N%", "$3::int");
    const std::string target = "CASE WHEN $3::int <= 1 THEN $2 ELSE $2 || '.' || " + partition + " END";
    // A delivery's sink is named in three places, which move together: its
    // queue entry, its history row if it has one, and its event's
    // delivery_sinks. Open deliveries are the queued ones and the dead ones
    // (which always have a history row, and are never queued).
    return "WITH queued AS ("
           "  UPDATE txrelay.pending_deliveries d SET sink = " + target +
           "    FROM txrelay.events e "
           "   WHERE d.sink = $1 AND e.id = d.event_id"
           // In a partition that still exists only keyed rows move, and only
           // those the key now places elsewhere: keyless rows were dealt in
           // turn, and may stay where they are.
           "     AND (NOT $4::bool OR (e.key IS NOT NULL AND " + target + " <> d.sink)) "
           "  RETURNING d.event_id, d.id, d.sink"
           "), dead AS ("
           "  UPDATE txrelay.deliveries d SET sink = " + target +
           "    FROM txrelay.events e "
           "   WHERE d.sink = $1 AND d.status = 'dead' AND e.id = d.event_id"
           "     AND (NOT $4::bool OR (e.key IS NOT NULL AND " + target + " <> d.sink)) "
           "  RETURNING d.event_id, d.id, d.sink"
           "), history AS ("
           "  UPDATE txrelay.deliveries d SET sink = q.sink FROM queued q"
           "   WHERE d.event_id = q.event_id AND d.sink = $1 AND d.id = q.id"
           "), moved AS (SELECT * FROM queued UNION ALL SELECT * FROM dead"
           "), routes AS ("
           "  UPDATE txrelay.events e SET delivery_sinks = ("
           "    SELECT array_agg(coalesce(m.sink, r.sink) ORDER BY r.n)"
           "      FROM unnest(e.delivery_ids, e.delivery_sinks) WITH ORDINALITY AS r(id, sink, n)"
           "      LEFT JOIN moved m ON m.id = r.id)"
           "   WHERE e.id IN (SELECT event_id FROM moved)"
           ") SELECT count(*) FROM moved";
  }();
  auto res = conn.exec_prepared("txr_move_open", sql,
                                {from, sink, std::to_string(partitions), misplaced_only ? "true" : "false"});
  if (!res)
    return unexpected{res.error()};
  return res->get_int(0, 0);
}

result<long long, pg_error> forget_sink_state(connection& conn, const std::vector<std::string>& sinks) {
  if (sinks.empty())
    return 0;
  auto names = text_array(sinks);
  auto res = conn.exec_prepared_binary("txr_forget_sink_state",
                                "WITH c AS (DELETE FROM txrelay.sink_controls WHERE sink = ANY ($1::text[]) RETURNING 1), "
                                "f AS (DELETE FROM txrelay.sink_faults WHERE sink = ANY ($1::text[]) RETURNING 1) "
                                "SELECT (SELECT count(*) FROM c) + (SELECT count(*) FROM f)",
                                {names.bytes()});
  if (!res)
    return unexpected{res.error()};
  return res->get_int(0, 0);
}

} // namespace txrelay::pg
