#include "persistence/cluster.hpp"

#include "persistence/binary_array.hpp"
#include "persistence/sql_time.hpp"

namespace txrelay::pg {

namespace {

std::vector<std::string> first_column(const result_set& res) {
  std::vector<std::string> out;
  for (int r = 0; r < res.rows(); ++r)
    out.emplace_back(res.get(r, 0));
  return out;
}

// A lease row changes only for its holder or once expired, so of two nodes
// racing for a free lease one writes it and the other's conflict check sees
// the winner's row and returns nothing.
constexpr const char* lease_upsert =
  " ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at"
  " WHERE l.holder = EXCLUDED.holder OR l.expires_at < now() RETURNING name";

} // namespace

result<std::vector<std::string>, pg_error> heartbeat(connection& conn, const std::string& node, bool starting,
                                                     millis node_ttl) {
  // The beat's own row is not visible to the SELECT's snapshot: it joins by UNION.
  auto res = conn.exec_prepared(
    "txr_heartbeat",
    "WITH beat AS (INSERT INTO txrelay.nodes AS n (id, started_at, heartbeat_at) VALUES ($1, now(), now()) "
    "  ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), stopped_at = NULL, "
    "    started_at = CASE WHEN $2::bool THEN now() ELSE n.started_at END RETURNING id) "
    "SELECT id FROM txrelay.nodes WHERE id <> $1 AND stopped_at IS NULL "
    "  AND heartbeat_at > now() - $3::bigint * interval '1 millisecond' "
    "UNION SELECT id FROM beat ORDER BY 1",
    {node, starting ? "true" : "false", std::to_string(node_ttl.count())});
  if (!res)
    return unexpected{res.error()};
  return first_column(*res);
}

result<bool, pg_error> hold_lease(connection& conn, const std::string& name, const std::string& holder, millis ttl) {
  auto held = hold_leases(conn, {name}, holder, ttl);
  if (!held)
    return unexpected{held.error()};
  return held->size() == 1;
}

result<std::vector<std::string>, pg_error> hold_leases(connection& conn, const std::vector<std::string>& names,
                                                       const std::string& holder, millis ttl) {
  if (names.empty())
    return std::vector<std::string>{};
  auto array = text_array(names);
  auto ms = std::to_string(ttl.count());
  auto res = conn.exec_prepared_binary("txr_leases_hold",
                                       std::string{"INSERT INTO txrelay.leases AS l (name, holder, expires_at) "
                                                   "SELECT unnest($1::text[]), $2::text, "
                                                   "now() + $3::text::bigint * interval '1 millisecond'"} +
                                         lease_upsert,
                                       {array.bytes(), holder, ms});
  if (!res)
    return unexpected{res.error()};
  return first_column(*res);
}

result<bool, pg_error> release_lease(connection& conn, const std::string& name, const std::string& holder) {
  auto res = conn.exec_prepared("txr_lease_release", "DELETE FROM txrelay.leases WHERE name = $1 AND holder = $2",
                                {name, holder});
  if (!res)
    return unexpected{res.error()};
  return res->affected_rows() == 1;
}

result<std::vector<node_record>, pg_error> list_nodes(connection& conn, millis node_ttl, millis forget_after) {
  auto res = conn.exec_prepared(
    "txr_nodes_list",
    "SELECT n.id, " TXR_RFC3339("n.started_at") ", " TXR_RFC3339("n.heartbeat_at") ", "
    "  n.stopped_at IS NULL AND n.heartbeat_at > now() - $1::bigint * interval '1 millisecond', "
    "  coalesce((SELECT string_agg(l.name, ',' ORDER BY l.name) FROM txrelay.leases l "
    "            WHERE l.holder = n.id AND l.expires_at > now()), '') "
    "FROM txrelay.nodes n WHERE n.heartbeat_at > now() - $2::bigint * interval '1 millisecond' ORDER BY n.id",
    {std::to_string(node_ttl.count()), std::to_string(forget_after.count())});
  if (!res)
    return unexpected{res.error()};
  std::vector<node_record> nodes;
  for (int r = 0; r < res->rows(); ++r) {
    node_record n;
    n.id = std::string{res->get(r, 0)};
    n.started_at = std::string{res->get(r, 1)};
    n.heartbeat_at = std::string{res->get(r, 2)};
    n.live = res->get(r, 3) == "t";
    std::string_view leases = res->get(r, 4);
    while (!leases.empty()) {
      auto comma = leases.find(',');
      n.leases.emplace_back(leases.substr(0, comma));
      leases = comma == std::string_view::npos ? std::string_view{} : leases.substr(comma + 1);
    }
    nodes.push_back(std::move(n));
  }
  return nodes;
}

result<bool, pg_error> leave(connection& conn, const std::string& node) {
  auto res = conn.exec_prepared("txr_node_leave", "UPDATE txrelay.nodes SET stopped_at = now() WHERE id = $1", {node});
  if (!res)
    return unexpected{res.error()};
  return res->affected_rows() == 1;
}

result<long long, pg_error> forget_nodes(connection& conn, millis forget_after) {
  auto res = conn.exec_prepared("txr_nodes_forget",
                                "DELETE FROM txrelay.nodes WHERE heartbeat_at < now() - $1::bigint * interval '1 millisecond'",
                                {std::to_string(forget_after.count())});
  if (!res)
    return unexpected{res.error()};
  return res->affected_rows();
}

namespace {

constexpr const char* command_columns =
  "sink, coalesce(c.paused, false), coalesce(" TXR_RFC3339("c.resumed_at") ", ''), coalesce(" TXR_RFC3339(
    "c.updated_at") ", '')";

sink_control control_at(const result_set& res, int r) {
  return {std::string{res.get(r, 0)}, res.get(r, 1) == "t", std::string{res.get(r, 2)}, std::string{res.get(r, 3)},
          {}};
}

} // namespace

result<sink_control, pg_error> set_sink_control(connection& conn, const std::string& sink, bool paused) {
  auto res = conn.exec_prepared(
    "txr_sink_control_set",
    std::string{"WITH c AS (INSERT INTO txrelay.sink_controls AS c (sink, paused, resumed_at, updated_at) "
                "VALUES ($1, $2::bool, CASE WHEN $2::bool THEN NULL ELSE now() END, now()) "
                "ON CONFLICT (sink) DO UPDATE SET paused = EXCLUDED.paused, "
                // In the order the writes take the row's lock, even when an
                // earlier-started transaction writes last: nodes apply the newest.
                "  updated_at = greatest(clock_timestamp(), c.updated_at + interval '1 microsecond'), "
                "  resumed_at = CASE WHEN EXCLUDED.paused THEN c.resumed_at ELSE now() END RETURNING *), "
                // A resume says "fixed": the faults its last sender recorded go with it.
                "cleared AS (UPDATE txrelay.sink_faults SET broken = NULL, failed = NULL "
                "  WHERE sink = $1 AND NOT $2::bool) "
                "SELECT "} +
      command_columns + " FROM c",
    {sink, paused ? "true" : "false"});
  if (!res)
    return unexpected{res.error()};
  return control_at(*res, 0);
}

result<std::vector<sink_control>, pg_error> load_sink_controls(connection& conn) {
  // A row per sink with a command, a fault or both (USING merges the sink).
  auto res = conn.exec_prepared(
    "txr_sink_controls",
    std::string{"SELECT "} + command_columns +
      ", coalesce(f.broken, ''), coalesce(f.failed, ''), "
      "coalesce(greatest(0, ceil(extract(epoch FROM f.quiet_until - now()) * 1000)), 0)::bigint "
      "FROM txrelay.sink_controls c FULL JOIN txrelay.sink_faults f USING (sink) ORDER BY sink",
    {});
  if (!res)
    return unexpected{res.error()};
  std::vector<sink_control> rows;
  for (int r = 0; r < res->rows(); ++r) {
    auto row = control_at(*res, r);
    row.fault.broken = std::string{res->get(r, 4)};
    row.fault.failed = std::string{res->get(r, 5)};
    row.fault.quiet_for = millis{res->get_int(r, 6)};
    rows.push_back(std::move(row));
  }
  return rows;
}

result<bool, pg_error> record_sink_faults(connection& conn, const std::vector<sink_fault_update>& updates) {
  for (const auto& u : updates) {
    std::optional<std::string> quiet;
    if (u.quiet_for)
      quiet = std::to_string(u.quiet_for->count());
    std::vector<std::optional<std::string>> values{u.sink, u.broken, u.failed, quiet, u.clear ? "true" : "false"};
    auto res = conn.exec_prepared(
      "txr_sink_faults_record",
      "INSERT INTO txrelay.sink_faults AS f (sink, broken, failed, quiet_until) "
      "VALUES ($1, $2, $3, now() + $4::bigint * interval '1 millisecond') "
      "ON CONFLICT (sink) DO UPDATE SET "
      "  broken = CASE WHEN $5::bool THEN $2 ELSE coalesce($2, f.broken) END, "
      "  failed = CASE WHEN $5::bool THEN $3 ELSE coalesce($3, f.failed) END, "
      "  quiet_until = CASE WHEN $4::bigint IS NULL THEN f.quiet_until ELSE EXCLUDED.quiet_until END",
      params_of(values));
    if (!res)
      return unexpected{res.error()};
  }
  return true;
}

result<bool, pg_error> notify(connection& conn, const std::string& channel, const std::vector<std::string>& payloads) {
  if (payloads.empty())
    return true;
  auto array = text_array(payloads);
  auto res = conn.exec_prepared_binary("txr_notify", "SELECT pg_notify($1::text, p) FROM unnest($2::text[]) p",
                                       {channel, array.bytes()});
  if (!res)
    return unexpected{res.error()};
  return true;
}

} // namespace txrelay::pg
