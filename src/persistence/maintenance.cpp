#include "persistence/maintenance.hpp"

#include "core/ids.hpp"

namespace txrelay::pg {

namespace {

// Whether event e's history has expired ($2 delivered, $3 dead, $4 rejected
// cutoffs; '-infinity' keeps that kind forever). Evaluated when the window
// is chosen and again, under the deliveries' row locks, when it is deleted.
constexpr const char* expired_predicate = R"sql(
  CASE WHEN e.rejection IS NOT NULL THEN e.created_at < $4::timestamptz
  ELSE NOT EXISTS (SELECT 1 FROM unnest(e.delivery_ids, e.delivery_sinks) AS r(id, sink)
                   JOIN txrelay.pending_deliveries p ON p.sink = r.sink AND p.id = r.id)
   -- history rows: retried, dead or replayed deliveries, each by its last change
   AND NOT EXISTS (SELECT 1 FROM txrelay.deliveries d
                   WHERE d.event_id = e.id
                     AND NOT CASE WHEN d.status = 'dead' THEN d.updated_at < $3::timestamptz
                                  ELSE d.updated_at < $2::timestamptz END)
   -- deliveries without one were delivered at their first attempt (or the
   -- event went to no sink): counted from their creation, which their ids
   -- carry (a published event is routed later, after a txrelay outage
   -- perhaps days later), or else from the event's
   AND (coalesce(txrelay.uuid_v7_time(e.delivery_ids[1]), e.created_at) < $2::timestamptz
        OR cardinality(e.delivery_ids) > 0
           AND cardinality(e.delivery_ids) = (SELECT count(*) FROM txrelay.deliveries d WHERE d.event_id = e.id))
   AND NOT EXISTS (SELECT 1 FROM txrelay.unrouted_events u WHERE u.event_id = e.id)
  END)sql";

std::string cutoff_text(const std::optional<time_point>& t) { return t ? format_rfc3339(*t) : "-infinity"; }

} // namespace

result<retention_window, pg_error> expire_window(connection& conn, const retention_cutoffs& cutoffs,
                                                 const std::string& after_id, int limit) {
  retention_window window;
  std::optional<time_point> latest;
  for (const auto& t : {cutoffs.delivered, cutoffs.dead, cutoffs.rejected})
    if (t && (!latest || *t > *latest))
      latest = t;
  if (!latest)
    return window; // everything is kept forever
  // Only events made before the latest cutoff can have expired, and ids are
  // UUIDv7: the primary key's order is the order they were made in.
  const std::string below = uuid_v7_floor(*latest);
  const std::string after = after_id.empty() ? "00000000-0000-0000-0000-000000000000" : after_id;
  const std::string delivered = cutoff_text(cutoffs.delivered), dead = cutoff_text(cutoffs.dead),
                    rejected = cutoff_text(cutoffs.rejected), limit_text = std::to_string(limit);

  if (auto begun = conn.exec("BEGIN"); !begun)
    return unexpected{begun.error()};
  auto fail = [&](pg_error e) -> result<retention_window, pg_error> {
    if (!e.connection_lost)
      conn.exec("ROLLBACK");
    return unexpected{std::move(e)};
  };
  auto examined = conn.exec_prepared("txr_expire_window",
                                     std::string{"SELECT e.id::text, "} + expired_predicate +
                                       " FROM txrelay.events e WHERE e.id > $1::uuid AND e.id < $5::uuid "
                                       "ORDER BY e.id LIMIT $6::int",
                                     {after, delivered, dead, rejected, below, limit_text});
  if (!examined)
    return fail(examined.error());
  window.examined = examined->rows();
  std::string ids = "{";
  for (int r = 0; r < examined->rows(); ++r) {
    window.last_id = std::string{examined->get(r, 0)};
    if (examined->get(r, 1) == "t")
      ids += (ids.size() > 1 ? "," : "") + window.last_id;
  }
  ids += '}';
  if (ids != "{}") {
    // Lock the deliveries first (a replay waits, or has committed and is
    // seen by the DELETE's fresh snapshot), then delete what is still expired.
    auto locked = conn.exec_prepared("txr_expire_lock",
                                     "SELECT 1 FROM txrelay.deliveries WHERE event_id = ANY ($1::uuid[]) FOR UPDATE",
                                     {ids});
    if (!locked)
      return fail(locked.error());
    auto deleted = conn.exec_prepared("txr_expire_delete",
                                      std::string{"DELETE FROM txrelay.events e WHERE e.id = ANY ($1::uuid[]) AND "} +
                                        expired_predicate + " RETURNING e.rejection IS NOT NULL",
                                      {ids, delivered, dead, rejected});
    if (!deleted)
      return fail(deleted.error());
    for (int r = 0; r < deleted->rows(); ++r)
      ++(deleted->get(r, 0) == "t" ? window.rejected : window.finished);
  }
  if (auto committed = conn.exec("COMMIT"); !committed)
    return unexpected{committed.error()};
  return window;
}

} // namespace txrelay::pg
