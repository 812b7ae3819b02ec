// The outbox SQL against a real PostgreSQL: migrations, group ingest,
// idempotency, outcome recording and paging of pending deliveries.
#include "core/ids.hpp"
#include "persistence/binary_array.hpp"
#include "persistence/migrations.hpp"
#include "persistence/outbox.hpp"
#include "pg/migrated_database.hpp"
#include "support/eventually.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <thread>

using namespace txrelay;
using txrelay::testing::test_database;

namespace {

// Migration 13's objects, dropped by tests that take the schema back to
// before migration 11.
// Migration 14's publish() stays: re-migrating replaces it.
const std::string without_migrations_13_and_14 =
  "DROP VIEW txrelay.event_log;"
  "ALTER TABLE txrelay.unrouted_events DROP COLUMN topic, DROP COLUMN key, DROP COLUMN payload,"
  " DROP COLUMN created_at;"
  "DROP TABLE txrelay.delivery_attempts;"
  "DROP INDEX txrelay.events_topic, txrelay.events_key, txrelay.events_rejected;";


class outbox_pgtest : public txrelay::testing::migrated_database_test {
protected:
  pg::ingest_item item(const std::string& topic, std::vector<std::string> sinks,
                       std::optional<std::string> idem = std::nullopt) {
    now += std::chrono::milliseconds{1};
    pg::ingest_item it;
    it.event_id = new_uuid_v7(now, rng);
    it.created_at = format_rfc3339(now);
    it.event.topic = topic;
    it.event.key = "k";
    it.event.payload_json = R"({"n":1,"s":"quote \" and ünïcode"})";
    it.event.idempotency_key = std::move(idem);
    it.event.sinks = std::move(sinks);
    for (std::size_t i = 0; i < it.event.sinks.size(); ++i)
      it.delivery_ids.push_back(new_uuid_v7(now, rng));
    return it;
  }

  std::mt19937_64 rng{42};
  time_point now = wall_clock::now();
};

TEST_F(outbox_pgtest, migrate_is_idempotent_and_versioned) {
  auto again = pg::migrate(*conn);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, pg::schema_migrations().back().version);
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.schema_migrations"),
            std::to_string(pg::schema_migrations().size()));
}

TEST_F(outbox_pgtest, a_schema_change_waits_until_no_node_on_the_old_schema_runs) {
  // The schema as it was before migration 11, with a node still beating.
  ASSERT_TRUE(conn->exec(without_migrations_13_and_14 + "DROP VIEW txrelay.delivery_status; DROP TABLE txrelay.pending_deliveries;"
                         "DROP FUNCTION txrelay.uuid_v7_time;"
                         "ALTER TABLE txrelay.events DROP COLUMN delivery_ids, DROP COLUMN delivery_sinks;"
                         "CREATE INDEX deliveries_pending ON txrelay.deliveries (sink, id) WHERE status = 'pending';"
                         "DELETE FROM txrelay.schema_migrations WHERE version >= 11;"
                         "INSERT INTO txrelay.nodes VALUES ('old-node', now(), now(), NULL)"));
  auto refused = pg::migrate(*conn);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("old-node"), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find("stop them all first"), std::string::npos);
  EXPECT_EQ(db->scalar("SELECT max(version) FROM txrelay.schema_migrations"), "10");
  // Stopped gracefully (or silent past the node TTL): the migration runs.
  ASSERT_TRUE(conn->exec("UPDATE txrelay.nodes SET stopped_at = now()"));
  auto migrated = pg::migrate(*conn);
  ASSERT_TRUE(migrated) << migrated.error().message;
  EXPECT_EQ(*migrated, pg::schema_migrations().back().version);
}

TEST_F(outbox_pgtest, migrations_11_and_12_keep_every_delivery_s_status_and_only_the_history_that_says_something) {
  // The layout before migration 11: every delivery a row, its status in it.
  ASSERT_TRUE(conn->exec(without_migrations_13_and_14 + "DROP VIEW txrelay.delivery_status; DROP TABLE txrelay.pending_deliveries;"
                         "DROP FUNCTION txrelay.uuid_v7_time;"
                         "ALTER TABLE txrelay.events DROP COLUMN delivery_ids, DROP COLUMN delivery_sinks;"
                         "CREATE INDEX deliveries_pending ON txrelay.deliveries (sink, id) WHERE status = 'pending';"
                         "DELETE FROM txrelay.schema_migrations WHERE version >= 11;"));
  auto e = [](int n) { return "00000000-0000-7000-8000-00000000000" + std::to_string(n); };
  auto d = [](int n) { return "00000000-0000-7000-9000-00000000000" + std::to_string(n); };
  std::string sql = "INSERT INTO txrelay.events (id, topic, payload, created_at) VALUES ";
  for (int i = 1; i <= 4; ++i)
    sql += std::string(i > 1 ? ", " : "") + "('" + e(i) + "', 't', '{}', now())";
  ASSERT_TRUE(conn->exec(sql));
  struct old_row {
    int event, id;
    const char* sink;
    const char* status;
    int attempts;
    const char* last_error; // NULL or a quoted literal
    const char* replayed_at;
  };
  const std::vector<old_row> rows{
    {1, 1, "a", "delivered", 1, "NULL", "NULL"},      // delivered at the first attempt
    {1, 2, "b", "dead", 3, "'HTTP 410'", "NULL"},     // dead
    {2, 3, "a", "pending", 0, "NULL", "NULL"},        // never attempted
    {2, 4, "b", "pending", 2, "'HTTP 503'", "NULL"},  // retrying
    {3, 5, "a", "delivered", 3, "NULL", "NULL"},      // delivered after failures
    {3, 6, "b", "pending", 0, "'HTTP 500'", "now()"}, // replayed, not attempted since
  };
  for (const auto& r : rows)
    ASSERT_TRUE(conn->exec(std::string{"INSERT INTO txrelay.deliveries (event_id, sink, id, status, attempts, "
                                       "next_attempt_at, last_error, created_at, updated_at, replayed_at) VALUES ('"} +
                           e(r.event) + "', '" + r.sink + "', '" + d(r.id) + "', '" + r.status + "', " +
                           std::to_string(r.attempts) + ", now(), " + r.last_error + ", now(), now(), " +
                           r.replayed_at + ")"));
  auto migrated = pg::migrate(*conn);
  ASSERT_TRUE(migrated) << migrated.error().message;
  EXPECT_EQ(db->scalar("SELECT string_agg(sink || ':' || status || ':' || attempts || ':' || coalesce(last_error, '-'), "
                       "',' ORDER BY id) FROM txrelay.delivery_status"),
            "a:delivered:1:-,b:dead:3:HTTP 410,a:pending:0:-,b:pending:2:HTTP 503,a:delivered:3:-,"
            "b:pending:0:HTTP 500");
  // History rows are left where they say something: not for 1 and 3.
  EXPECT_EQ(db->scalar("SELECT string_agg(right(id::text, 1), ',' ORDER BY id) FROM txrelay.deliveries"), "2,4,5,6");
  EXPECT_EQ(db->scalar("SELECT string_agg(right(id::text, 1), ',' ORDER BY id) FROM txrelay.pending_deliveries"),
            "3,4,6");
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.events WHERE delivery_ids IS NULL"), "1"); // the 4th: no sink
  // And the senders page the queue as before.
  auto pending = pg::load_pending(*conn, "b", "", 10);
  ASSERT_TRUE(pending) << pending.error().message;
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].attempts, 2);
  EXPECT_EQ((*pending)[1].attempts, 0);
  EXPECT_TRUE((*pending)[1].replayed_at);
}

TEST_F(outbox_pgtest, ingests_a_batch_with_one_delivery_row_per_sink) {
  std::vector<pg::ingest_item> items{item("feedback", {"a", "b"}), item("feedback", {"a"}), item("other", {"b"})};
  auto receipts = pg::ingest_events(*conn, items);
  ASSERT_TRUE(receipts) << receipts.error().message;
  ASSERT_EQ(receipts->size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE((*receipts)[i].created);
    EXPECT_EQ((*receipts)[i].event_id, items[i].event_id);
    EXPECT_EQ((*receipts)[i].deliveries.size(), items[i].delivery_ids.size());
  }
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.events"), "3");
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.delivery_status WHERE status = 'pending'"), "4");
  EXPECT_EQ(db->scalar("SELECT payload->>'s' FROM txrelay.events WHERE id = '" + items[0].event_id + "'"),
            "quote \" and ünïcode");
}

TEST_F(outbox_pgtest, binary_arrays_arrive_as_the_values_sent) {
  pg::binary_array ids{pg::binary_array::element::uuid};
  pg::binary_array texts{pg::binary_array::element::text};
  ASSERT_TRUE(ids.add_uuid("0192F3A4-5B6C-7D8E-9F00-AABBCCDDEEFF"));
  ASSERT_TRUE(ids.add_uuid("00000000-0000-0000-0000-000000000001"));
  texts.add_text(R"({"q":"a \"b\", {c} \\ ünï"})");
  texts.add_null();
  auto rows = conn->exec_prepared_binary(
    "test_arrays", "SELECT u.id::text, u.t, u.t IS NULL FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS u(id, t, n) ORDER BY n",
    {ids.bytes(), texts.bytes()});
  ASSERT_TRUE(rows) << rows.error().message;
  ASSERT_EQ(rows->rows(), 2);
  EXPECT_EQ(rows->get(0, 0), "0192f3a4-5b6c-7d8e-9f00-aabbccddeeff");
  EXPECT_EQ(rows->get(0, 1), R"({"q":"a \"b\", {c} \\ ünï"})");
  EXPECT_EQ(rows->get(1, 0), "00000000-0000-0000-0000-000000000001");
  EXPECT_EQ(rows->get(1, 2), "t");

  // An array of the wrong element type is refused by the server, not misread.
  auto wrong = conn->exec_prepared_binary("test_wrong", "SELECT count(*) FROM unnest($1::uuid[])", {texts.bytes()});
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("element type"), std::string::npos) << wrong.error().message;
}

TEST_F(outbox_pgtest, an_event_without_key_or_idempotency_key_stores_nulls) {
  auto it = item("feedback", {"a"});
  it.event.key.reset();
  auto r = pg::ingest_events(*conn, {it});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(db->scalar("SELECT key IS NULL AND idempotency_key IS NULL FROM txrelay.events WHERE id = '" +
                       it.event_id + "'"),
            "t");
}

TEST_F(outbox_pgtest, an_id_that_is_not_a_uuid_is_refused_before_the_database) {
  auto it = item("feedback", {"a"});
  it.delivery_ids[0] = "delivery-1";
  auto r = pg::ingest_events(*conn, {it});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("delivery-1"), std::string::npos);
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.events"), "0");
}

TEST_F(outbox_pgtest, repeated_idempotency_key_returns_the_first_event_even_within_one_batch) {
  auto first = item("feedback", {"a", "b"}, "key-1");
  auto r1 = pg::ingest_events(*conn, {first});
  ASSERT_TRUE(r1);
  auto again = item("feedback", {"a", "b"}, "key-1");
  auto twice = item("feedback", {"a"}, "key-2");
  auto twice_dup = item("feedback", {"a"}, "key-2");
  auto r2 = pg::ingest_events(*conn, {again, twice, twice_dup});
  ASSERT_TRUE(r2) << r2.error().message;
  EXPECT_FALSE((*r2)[0].created);
  EXPECT_EQ((*r2)[0].event_id, first.event_id);
  ASSERT_EQ((*r2)[0].deliveries.size(), 2u);
  auto ids = (*r1)[0].deliveries;
  EXPECT_EQ((*r2)[0].deliveries[0].id, ids[0].id);
  EXPECT_EQ((*r2)[0].deliveries[1].id, ids[1].id);
  EXPECT_TRUE((*r2)[1].created);
  EXPECT_FALSE((*r2)[2].created);
  EXPECT_EQ((*r2)[2].event_id, twice.event_id);
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.events"), "2");
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.delivery_status"), "3");
}

TEST_F(outbox_pgtest, outcomes_change_only_pending_rows_and_last_report_wins) {
  auto it = item("feedback", {"a"});
  ASSERT_TRUE(pg::ingest_events(*conn, {it}));
  const auto& id = it.delivery_ids[0];
  delivery_outcome retry{id, it.event_id, "a", delivery_status::pending, 1, now + std::chrono::seconds{30}, 500,
                         "HTTP 500", {}};
  delivery_outcome done{id, it.event_id, "a", delivery_status::delivered, 2, {}, 204, "", {}};
  auto n = pg::record_outcomes(*conn, {retry, done});
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(db->scalar("SELECT status || ':' || attempts || ':' || last_status FROM txrelay.delivery_status"),
            "delivered:2:204");
  // A late report for a finished delivery does not reopen it.
  auto late = pg::record_outcomes(*conn, {retry});
  ASSERT_TRUE(late);
  EXPECT_EQ(*late, 0);
  EXPECT_EQ(db->scalar("SELECT status FROM txrelay.delivery_status"), "delivered");
}

TEST_F(outbox_pgtest, a_first_attempt_success_leaves_the_queue_and_writes_nothing_else) {
  auto it = item("feedback", {"a", "b"});
  ASSERT_TRUE(pg::ingest_events(*conn, {it}));
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.pending_deliveries"), "2");
  // The deliveries are in the event's row; no history row yet.
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.deliveries"), "0");
  EXPECT_EQ(db->scalar("SELECT array_to_string(delivery_sinks, ',') FROM txrelay.events"), "a,b");
  const auto event_version = db->scalar("SELECT xmin::text FROM txrelay.events");
  delivery_outcome first{it.delivery_ids[0], it.event_id, "a", delivery_status::delivered, 1, {}, 204, "", {}};
  delivery_outcome dead{it.delivery_ids[1], it.event_id, "b", delivery_status::dead, 3, {}, 410, "HTTP 410", {}};
  auto n = pg::record_outcomes(*conn, {first, dead});
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 2);
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.pending_deliveries"), "0");
  // Only the death has something to say; the event row is never rewritten.
  EXPECT_EQ(db->scalar("SELECT string_agg(sink, ',') FROM txrelay.deliveries"), "b");
  EXPECT_EQ(db->scalar("SELECT xmin::text FROM txrelay.events"), event_version);
  EXPECT_EQ(db->scalar("SELECT string_agg(sink || ':' || status || ':' || attempts, ',' ORDER BY sink) "
                       "FROM txrelay.delivery_status"),
            "a:delivered:1,b:dead:3");
  // The history row is dated by the delivery's id (a UUIDv7), not by when it was written.
  EXPECT_EQ(db->scalar("SELECT created_at = txrelay.uuid_v7_time(id) AND "
                       "abs(extract(epoch FROM created_at - '" + format_rfc3339(now) + "'::timestamptz)) < 0.002 "
                       "FROM txrelay.deliveries"),
            "t");
}

// Two senders can report on one delivery (the lease moved while an attempt
// was in flight): a retry reported while another finish is committing must
// not write history for the finished delivery.
TEST_F(outbox_pgtest, a_retry_racing_a_finish_waits_for_it_and_then_changes_nothing) {
  auto it = item("feedback", {"a"});
  ASSERT_TRUE(pg::ingest_events(*conn, {it}));
  auto finisher = pg::connection::open(db->url());
  auto retrier = pg::connection::open(db->url());
  ASSERT_TRUE(finisher && retrier);
  ASSERT_TRUE(finisher->exec("BEGIN"));
  delivery_outcome done{it.delivery_ids[0], it.event_id, "a", delivery_status::delivered, 1, {}, 204, "", {}};
  ASSERT_TRUE(pg::record_outcomes(*finisher, {done}));
  auto retrier_pid = retrier->exec("SELECT pg_backend_pid()");
  ASSERT_TRUE(retrier_pid);
  const std::string pid{retrier_pid->get(0, 0)};
  long long applied = -1;
  std::thread late{[&] {
    delivery_outcome retry{it.delivery_ids[0], it.event_id, "a", delivery_status::pending, 1,
                           now + std::chrono::seconds{5}, 503, "HTTP 503", {}};
    auto n = pg::record_outcomes(*retrier, {retry});
    applied = n ? *n : -2;
  }};
  // The retry waits on the finish's lock on the queue row ...
  bool waited = txrelay::testing::eventually([&] {
    return db->scalar("SELECT coalesce(wait_event_type, '') FROM pg_stat_activity WHERE pid = " + pid) == "Lock";
  });
  ASSERT_TRUE(finisher->exec("COMMIT"));
  late.join();
  EXPECT_TRUE(waited) << "the retry did not wait for the finish";
  // ... and then finds the delivery finished: nothing applied, no history.
  EXPECT_EQ(applied, 0);
  EXPECT_EQ(db->scalar("SELECT count(*) FROM txrelay.deliveries"), "0");
  EXPECT_EQ(db->scalar("SELECT status || ':' || attempts FROM txrelay.delivery_status"), "delivered:1");
}

TEST_F(outbox_pgtest, an_outcome_records_every_field_and_nulls_what_it_lacks) {
  auto it = item("feedback", {"a", "b"});
  ASSERT_TRUE(pg::ingest_events(*conn, {it}));
  auto retry_at = now + std::chrono::seconds{30};
  delivery_outcome retry{it.delivery_ids[0], it.event_id, "a", delivery_status::pending, 1, retry_at, 503,
                         "HTTP 503: \"busy\", {retry}", {}};
  delivery_outcome unreachable{it.delivery_ids[1], it.event_id, "b", delivery_status::pending, 3, retry_at, 0,
                               "connection refused", {}};
  auto n = pg::record_outcomes(*conn, {retry, unreachable});
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 2);
  auto row = [&](const std::string& sink) {
    return db->scalar("SELECT status || '|' || attempts || '|' || coalesce(last_status::text, 'null') || '|' || "
                      "last_error || '|' || (next_attempt_at = '" + format_rfc3339(retry_at) +
                      "'::timestamptz) FROM txrelay.delivery_status WHERE sink = '" + sink + "'");
  };
  EXPECT_EQ(row("a"), "pending|1|503|HTTP 503: \"busy\", {retry}|true");
  EXPECT_EQ(row("b"), "pending|3|null|connection refused|true");

  delivery_outcome dead{it.delivery_ids[1], it.event_id, "b", delivery_status::dead, 4, {}, 0, "", {}};
  ASSERT_TRUE(pg::record_outcomes(*conn, {dead}));
  EXPECT_EQ(db->scalar("SELECT status || '|' || attempts || '|' || (last_error IS NULL) || '|' || "
                       "(next_attempt_at = '" + format_rfc3339(retry_at) + "'::timestamptz) "
                       "FROM txrelay.delivery_status WHERE sink = 'b'"),
            "dead|4|true|true");
}

// Statements prepared while the table was empty must not keep the plan they
// got then: a hash join over every pending row (or worse) per outcome batch
// took minutes once the table held 190k rows.
TEST_F(outbox_pgtest, outcome_statement_plans_follow_the_table_as_it_grows) {
  auto ledger = pg::connection::open(db->url());
  ASSERT_TRUE(ledger);
  ASSERT_TRUE(ledger->exec(pg::ledger_session_settings));
  auto mode = ledger->exec("SHOW plan_cache_mode");
  ASSERT_TRUE(mode);
  EXPECT_EQ(mode->get(0, 0), "force_custom_plan");
  auto it = item("feedback", {"a"});
  ASSERT_TRUE(pg::ingest_events(*conn, {it}));
  delivery_outcome retry{it.delivery_ids[0], it.event_id, "a", delivery_status::pending, 1,
                         now + std::chrono::seconds{30}, 503, "busy", {}};
  for (int i = 0; i < 8; ++i) // past the 5 custom plans after which a generic one may be kept
    ASSERT_TRUE(pg::record_outcomes(*ledger, {retry}));
  ASSERT_TRUE(conn->exec(R"sql(
    WITH e AS (
      INSERT INTO txrelay.events (id, topic, payload, created_at)
      SELECT gen_random_uuid(), 'bulk', '{}', now() FROM generate_series(1, 20000) RETURNING id),
    d AS (
      INSERT INTO txrelay.deliveries (event_id, sink, id, next_attempt_at, created_at, updated_at)
      SELECT e.id, s, gen_random_uuid(), now(), now(), now() FROM e, unnest(ARRAY['a', 'b']) AS s
      RETURNING sink, id, event_id)
    INSERT INTO txrelay.pending_deliveries (sink, id, event_id) SELECT sink, id, event_id FROM d)sql"));
  // (History rows for all of them: retried deliveries, the rows the upsert probes.)
  auto plan = ledger->exec("EXPLAIN EXECUTE txr_outcomes('{" + it.delivery_ids[0] + "}', '{" + it.event_id +
                           "}', '{a}', '{pending}', '{2}', '{NULL}', '{NULL}', '{NULL}', "
                           "'{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}')");
  ASSERT_TRUE(plan) << plan.error().message;
  std::string text;
  for (int r = 0; r < plan->rows(); ++r)
    text += std::string{plan->get(r, 0)} + "\n";
  // One index probe per outcome, whichever index: never a scan of a whole
  // sink. With (event_id, sink) alone this plan probed the pending index by
  // sink only ("Index Cond: (sink = o.sink)").
  EXPECT_NE(text.find("Index Scan"), std::string::npos) << text;
  EXPECT_EQ(text.find("Index Cond: (sink = o.sink)\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("Seq Scan"), std::string::npos) << text;
  EXPECT_EQ(text.find("Bitmap"), std::string::npos) << text;
}

TEST_F(outbox_pgtest, load_pending_pages_by_id_per_sink) {
  std::vector<pg::ingest_item> items;
  for (int i = 0; i < 25; ++i)
    items.push_back(item("feedback", {"a", "b"}));
  ASSERT_TRUE(pg::ingest_events(*conn, items));
  std::vector<std::string> seen;
  std::string cursor;
  for (;;) {
    auto page = pg::load_pending(*conn, "a", cursor, 10);
    ASSERT_TRUE(page) << page.error().message;
    for (const auto& job : *page) {
      EXPECT_EQ(job.sink, "a");
      EXPECT_EQ(job.topic, "feedback");
      EXPECT_EQ(job.attempts, 0);
      seen.push_back(job.id);
    }
    if (page->size() < 10)
      break;
    cursor = page->back().id;
  }
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 25u);
  auto counts = pg::pending_counts(*conn);
  ASSERT_TRUE(counts);
  ASSERT_EQ(counts->size(), 2u);
  EXPECT_EQ((*counts)[0].sink, "a");
  EXPECT_EQ((*counts)[0].pending, 25);
  // The oldest is the first made (each item is a millisecond later): its UUIDv7 id's time.
  ASSERT_TRUE((*counts)[0].oldest);
  EXPECT_EQ((*counts)[0].oldest, uuid_v7_time(items[0].delivery_ids[0]));
  EXPECT_LT((*counts)[0].oldest, uuid_v7_time(items[1].delivery_ids[0]));
}

TEST_F(outbox_pgtest, find_event_reports_each_delivery) {
  auto it = item("feedback", {"a", "b"});
  ASSERT_TRUE(pg::ingest_events(*conn, {it}));
  auto found = pg::find_event(*conn, it.event_id);
  ASSERT_TRUE(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->topic, "feedback");
  EXPECT_EQ((*found)->deliveries.size(), 2u);
  EXPECT_EQ((*found)->deliveries[0].status, "pending");
  auto missing = pg::find_event(*conn, "00000000-0000-7000-8000-000000000000");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
}

} // namespace
