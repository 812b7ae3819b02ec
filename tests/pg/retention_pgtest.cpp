// Retention and leases: finished history is deleted once past its policy,
// nothing pending or unrouted ever is, and one node at a time holds a lease.
#include "core/ids.hpp"
#include "pg/engine_harness.hpp"
#include "persistence/cluster.hpp"
#include "persistence/maintenance.hpp"
#include "pg/migrated_database.hpp"
#include "support/json_probe.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>

using namespace txrelay;
using namespace txrelay::testing;

namespace {

constexpr millis day{86'400'000};

class retention_pgtest : public migrated_database_test {
protected:
  /// An event made `age` ago, with a UUIDv7 id of that time, as txrelay makes them.
  std::string event(millis age, bool rejected = false, bool unrouted = false) {
    auto made = std::chrono::system_clock::now() - age;
    auto id = new_uuid_v7(made, rng);
    // A routed event names its deliveries (none yet); a rejected or unrouted one has none.
    const bool routed = !rejected && !unrouted;
    db->query("INSERT INTO txrelay.events (id, topic, payload, created_at, rejection, delivery_ids, delivery_sinks) "
              "VALUES ('" + id + "', 't', '{}', '" + format_rfc3339(made) + "', " +
              (rejected ? "'{\"code\":\"schema_violation\"}'" : "NULL") + ", " +
              (routed ? "'{}', '{}'" : "NULL, NULL") + ")");
    if (unrouted)
      db->query("INSERT INTO txrelay.unrouted_events (event_id) VALUES ('" + id + "')");
    return id;
  }

  /// A delivery of the event, as txrelay leaves it:
  /// - "first": delivered at its first attempt, nothing but its event's arrays;
  /// - "pending": queued, never attempted;
  /// - "delivered" (after failures) and "dead": a history row last changed then.
  void delivery(const std::string& event_id, const std::string& sink, const std::string& kind, millis last_change) {
    // Made at its first attempt's time ("first"), or at least that long ago.
    auto at = format_rfc3339(std::chrono::system_clock::now() - last_change);
    auto id = new_uuid_v7(std::chrono::system_clock::now() - last_change, rng);
    db->query("UPDATE txrelay.events SET delivery_ids = delivery_ids || '" + id + "'::uuid, "
              "delivery_sinks = delivery_sinks || '" + sink + "'::text WHERE id = '" + event_id + "'");
    if (kind == "delivered" || kind == "dead")
      db->query("INSERT INTO txrelay.deliveries (event_id, sink, id, status, attempts, next_attempt_at, created_at, "
                "updated_at) VALUES ('" + event_id + "', '" + sink + "', '" + id + "', '" + kind + "', 3, now(), '" +
                at + "', '" + at + "')");
    if (kind == "pending")
      db->query("INSERT INTO txrelay.pending_deliveries (sink, id, event_id) VALUES ('" + sink + "', '" + id + "', '" +
                event_id + "')");
  }

  std::set<std::string> events_left() {
    std::set<std::string> ids;
    for (const auto& row : db->query("SELECT id::text FROM txrelay.events"))
      ids.insert(row[0]);
    return ids;
  }

  /// The policy of the defaults (delivered 7d, dead 30d, rejected 30d) over
  /// one event of every kind; returns the ids that must go.
  std::set<std::string> seed_every_kind(std::set<std::string>& kept) {
    std::set<std::string> expired;
    auto a = event(10 * day); // delivered long ago
    delivery(a, "s", "delivered", 10 * day);
    expired.insert(a);
    auto b = event(10 * day); // delivered only recently (retried for days)
    delivery(b, "s", "delivered", 3 * day);
    kept.insert(b);
    auto a1 = event(10 * day); // delivered at the first attempt long ago
    delivery(a1, "s", "first", 10 * day);
    expired.insert(a1);
    auto b1 = event(3 * day); // delivered at the first attempt recently
    delivery(b1, "s", "first", 3 * day);
    kept.insert(b1);
    auto p = event(10 * day); // published long ago while txrelay was down, routed and delivered recently
    delivery(p, "s", "first", 3 * day);
    kept.insert(p);
    auto c = event(40 * day); // dead for longer than dead rows are kept
    delivery(c, "s", "dead", 35 * day);
    expired.insert(c);
    auto d = event(40 * day); // dead, not yet expired: kept for a replay
    delivery(d, "s", "dead", 20 * day);
    kept.insert(d);
    auto e = event(40 * day); // still pending: never deleted
    delivery(e, "s", "pending", 40 * day);
    kept.insert(e);
    auto f = event(40 * day, true); // rejected long ago
    expired.insert(f);
    kept.insert(event(10 * day, true)); // rejected recently
    kept.insert(event(40 * day, false, true)); // waiting to be routed (txrelay was down)
    expired.insert(event(10 * day)); // routed to no sink
    kept.insert(event(3 * day)); // routed to no sink, recently
    auto j = event(40 * day); // one delivery long delivered, another dead recently
    delivery(j, "s", "first", 40 * day);
    delivery(j, "t", "dead", 10 * day);
    kept.insert(j);
    auto k = event(40 * day); // one delivered long ago after failures, one at its first attempt; one still pending
    delivery(k, "s", "delivered", 40 * day);
    delivery(k, "t", "first", 40 * day);
    delivery(k, "u", "pending", 40 * day);
    kept.insert(k);
    auto m = event(40 * day); // the same, finished
    delivery(m, "s", "delivered", 40 * day);
    delivery(m, "t", "first", 40 * day);
    expired.insert(m);
    kept.insert(event(millis{0})); // new
    return expired;
  }

  std::mt19937_64 rng{7};
};

TEST_F(retention_pgtest, a_pass_deletes_exactly_the_history_past_its_policy) {
  std::set<std::string> kept;
  auto expired = seed_every_kind(kept);
  auto now = std::chrono::system_clock::now();
  pg::retention_cutoffs cutoffs{now - 7 * day, now - 30 * day, now - 30 * day};
  // Windows of 2 events: the cursor carries the pass across many of them.
  std::string cursor;
  long long finished = 0, rejected = 0;
  int windows = 0;
  for (;;) {
    auto w = pg::expire_window(*conn, cutoffs, cursor, 2);
    ASSERT_TRUE(w) << w.error().message;
    finished += w->finished;
    rejected += w->rejected;
    ++windows;
    if (w->examined < 2)
      break;
    cursor = w->last_id;
  }
  EXPECT_GE(windows, 5);
  EXPECT_EQ(events_left(), kept);
  EXPECT_EQ(finished, 5);
  EXPECT_EQ(rejected, 1);
  // Deliveries went with their events; the kept events keep all of theirs.
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.delivery_status"), "10"); // b, b1, p, d, e, j's two, k's three
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.deliveries"), "4");      // b, d, j's dead one, k's retried one

  // Everything kept forever: a pass deletes nothing.
  auto forever = pg::expire_window(*conn, {}, "", 1000);
  ASSERT_TRUE(forever);
  EXPECT_EQ(forever->examined, 0);
  EXPECT_EQ(events_left(), kept);
}

TEST_F(retention_pgtest, one_holder_at_a_time_holds_a_lease) {
  auto held = [&](const std::string& holder, millis ttl) {
    auto r = pg::hold_lease(*conn, "work", holder, ttl);
    EXPECT_TRUE(r) << r.error().message;
    return r && *r;
  };
  EXPECT_TRUE(held("node-1", millis{10'000}));
  EXPECT_FALSE(held("node-2", millis{10'000})) << "taken while its holder's lease is valid";
  EXPECT_TRUE(held("node-1", millis{10'000})) << "its holder renews it";
  auto released = pg::release_lease(*conn, "work", "node-2");
  ASSERT_TRUE(released);
  EXPECT_FALSE(*released) << "only the holder gives it up";
  EXPECT_TRUE(*pg::release_lease(*conn, "work", "node-1"));
  EXPECT_TRUE(held("node-2", millis{0})); // expires at once
  EXPECT_TRUE(held("node-3", millis{10'000})) << "an expired lease is taken over";
  EXPECT_EQ(db->scalar("SELECT holder FROM txrelay.leases WHERE name = 'work'"), "node-3");
}

TEST_F(retention_pgtest, the_maintenance_leader_expires_history_and_the_api_says_expired) {
  std::set<std::string> kept;
  auto expired = seed_every_kind(kept);
  engine_harness e{*db, "node: {id: node-a}\n"
                        "retention: {interval: 100ms, batch: 3}\n"
                        "sinks:\n"
                        "  - {name: s, kind: webhook, url: \"http://127.0.0.1:9/\", optional: true}\n"
                        "routes:\n"
                        "  - {topic: t, sinks: [s]}\n"};
  ASSERT_TRUE(eventually([&] { return events_left() == kept; }, std::chrono::seconds{20}))
    << events_left().size() << " events left";
  EXPECT_EQ(db->scalar("SELECT holder FROM txrelay.leases WHERE name = 'maintenance'"), "node-a");

  auto gone = e.get("/v1/events/" + *expired.begin());
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(json_string_at(gone.body, "/error/code"), "expired") << gone.body;
  auto never = e.get("/v1/events/" + new_uuid_v7(std::chrono::system_clock::now(), rng));
  EXPECT_EQ(never.status, 404);
  EXPECT_EQ(json_string_at(never.body, "/error/code"), "not_found") << "a recent id cannot have expired";
  EXPECT_EQ(e.get("/v1/events/" + *kept.begin()).status, 200);

  auto metrics = e.get("/metrics").body;
  EXPECT_NE(metrics.find("txrelay_events_expired_total{kind=\"finished\"} 5"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("txrelay_events_expired_total{kind=\"rejected\"} 1"), std::string::npos);
  EXPECT_NE(metrics.find("txrelay_maintenance_leader 1"), std::string::npos);

  // A stopping node gives the lease up.
  e.stop();
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.leases WHERE name = 'maintenance'"), "0");
}

} // namespace
