// What finishing a delivery costs PostgreSQL, before and after migration 11
// (pending deliveries in a table of their own; since migration 12 a delivery
// finished at its first attempt never had a history row), in the same run.
//
//   txrelay_bench_outcomes --database-url URL [--rows 200000] [--batch 200] [--rounds 3]
//
// For each layout and round, a fresh database gets `rows` pending deliveries
// (two sinks, rows/2 events), analysed, and then every one is finished as
// the ledger finishes them: delivered at its first attempt, `batch` outcomes
// per statement, one transaction each, with the ledger's session settings.
// The new layout runs txrelay's own statement (pg::record_outcomes); the old
// one runs the statement txrelay used before (below). Reported: rows/s and
// the server process's CPU per 1,000 rows (from /proc, so PostgreSQL must run
// on this machine), one JSON line per round and layout.
#include "core/ids.hpp"
#include "persistence/binary_array.hpp"
#include "persistence/migrations.hpp"
#include "persistence/outbox.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace txrelay;

namespace {

// The outcome statement before migration 11: an UPDATE of the row that
// stays, never HOT because `status` is in the pending index's predicate.
const char* before_outcomes_sql = R"sql(
UPDATE txrelay.deliveries AS d
SET status = o.status,
    attempts = greatest(d.attempts, o.attempts),
    next_attempt_at = coalesce(o.next_attempt_at::timestamptz, d.next_attempt_at),
    last_status = o.last_status,
    last_error = o.last_error,
    updated_at = now()
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::int4[], $6::text[], $7::int4[], $8::text[])
     AS o(id, event_id, sink, status, attempts, next_attempt_at, last_status, last_error)
WHERE d.event_id = o.event_id AND d.sink = o.sink AND d.id = o.id AND d.status = 'pending')sql";

// Migrations 11 and 12 undone: every delivery a row from its creation, in
// one table with the partial index of pending rows. (The events keep their
// arrays, which the outcome statement never reads.)
const char* before_layout_sql = R"sql(
INSERT INTO txrelay.deliveries (event_id, sink, id, next_attempt_at, created_at, updated_at)
SELECT event_id, sink, id, now(), now(), now() FROM txrelay.pending_deliveries;
DROP VIEW txrelay.delivery_status;
DROP TABLE txrelay.pending_deliveries;
CREATE INDEX deliveries_pending ON txrelay.deliveries (sink, id) WHERE status = 'pending';)sql";

struct options {
  std::string database_url;
  long rows = 200'000;
  int batch = 200;
  int rounds = 3;
};

[[noreturn]] void fail(const std::string& what) {
  std::cerr << "bench_outcomes: " << what << "\n";
  std::exit(1);
}

template <class T>
T must(result<T, pg::pg_error> r, const std::string& what) {
  if (!r)
    fail(what + ": " + r.error().message);
  return std::move(*r);
}

/// Server CPU (user + system) of the backend serving `conn`, in ms.
double backend_cpu_ms(pg::connection& conn) {
  auto pid = must(conn.exec("SELECT pg_backend_pid()"), "backend pid").get_int(0, 0);
  std::ifstream stat{"/proc/" + std::to_string(pid) + "/stat"};
  std::string line;
  if (!std::getline(stat, line))
    fail("cannot read /proc/" + std::to_string(pid) + "/stat (PostgreSQL must run on this machine)");
  std::istringstream fields{line.substr(line.rfind(')') + 2)};
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14)
      utime = std::stod(field);
    if (i == 15) {
      stime = std::stod(field);
      break;
    }
  }
  return (utime + stime) * 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct pending_row {
  std::string id, event_id, sink;
};

/// A fresh database with `rows` pending deliveries in the current layout.
std::vector<pending_row> fill(pg::connection& conn, long rows, std::mt19937_64& rng) {
  must(pg::migrate(conn), "migrate");
  auto now = std::chrono::system_clock::now();
  std::vector<pending_row> out;
  out.reserve(static_cast<std::size_t>(rows));
  const int chunk = 5'000; // events per ingest call
  for (long done = 0; done < rows / 2; done += chunk) {
    std::vector<pg::ingest_item> items;
    for (long i = done; i < std::min(rows / 2, done + chunk); ++i) {
      pg::ingest_item item;
      item.event_id = new_uuid_v7(now, rng);
      item.created_at = format_rfc3339(now);
      item.event.topic = "bench";
      item.event.key = "user-42";
      item.event.payload_json = R"({"user_id":42,"content":"a feedback message of a typical length"})";
      item.event.sinks = {"a", "b"};
      item.delivery_ids = {new_uuid_v7(now, rng), new_uuid_v7(now, rng)};
      for (int s = 0; s < 2; ++s)
        out.push_back({item.delivery_ids[static_cast<std::size_t>(s)], item.event_id, item.event.sinks[static_cast<std::size_t>(s)]});
      items.push_back(std::move(item));
    }
    must(pg::ingest_events(conn, items), "ingest");
  }
  return out;
}

/// Finishes every row, `batch` per statement; returns {seconds, server cpu ms}.
std::pair<double, double> finish(pg::connection& conn, const std::vector<pending_row>& rows, int batch, bool before) {
  must(conn.exec(pg::ledger_session_settings), "session settings");
  auto cpu_before = backend_cpu_ms(conn);
  auto start = std::chrono::steady_clock::now();
  for (std::size_t first = 0; first < rows.size(); first += static_cast<std::size_t>(batch)) {
    auto last = std::min(rows.size(), first + static_cast<std::size_t>(batch));
    if (!before) {
      std::vector<delivery_outcome> outcomes;
      for (auto i = first; i < last; ++i)
        outcomes.push_back({rows[i].id, rows[i].event_id, rows[i].sink, delivery_status::delivered, 1, {}, 204, "", {}});
      if (must(pg::record_outcomes(conn, outcomes), "record outcomes") != static_cast<long long>(last - first))
        fail("not every outcome applied");
      continue;
    }
    using element = pg::binary_array::element;
    pg::binary_array ids{element::uuid}, event_ids{element::uuid}, sinks{element::text}, statuses{element::text},
      attempts{element::int4}, next_at{element::text}, last_status{element::int4}, last_error{element::text};
    for (auto i = first; i < last; ++i) {
      ids.add_uuid(rows[i].id);
      event_ids.add_uuid(rows[i].event_id);
      sinks.add_text(rows[i].sink);
      statuses.add_text("delivered");
      attempts.add_int4(1);
      next_at.add_null();
      last_status.add_int4(204);
      last_error.add_null();
    }
    auto res = must(conn.exec_prepared_binary("bench_before_outcomes", before_outcomes_sql,
                                              {ids.bytes(), event_ids.bytes(), sinks.bytes(), statuses.bytes(),
                                               attempts.bytes(), next_at.bytes(), last_status.bytes(),
                                               last_error.bytes()}),
                    "record outcomes (before)");
    if (res.affected_rows() != static_cast<long long>(last - first))
      fail("not every outcome applied (before)");
  }
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {seconds, backend_cpu_ms(conn) - cpu_before};
}

std::string database_url(const std::string& admin_url, const std::string& name) {
  auto slash = admin_url.rfind('/');
  return admin_url.substr(0, slash + 1) + name;
}

} // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--database-url")
      o.database_url = value;
    else if (flag == "--rows")
      o.rows = std::stol(value);
    else if (flag == "--batch")
      o.batch = std::stoi(value);
    else if (flag == "--rounds")
      o.rounds = std::stoi(value);
    else
      fail("unknown flag " + flag);
  }
  if (o.database_url.empty())
    fail("--database-url is required (an administrator's URL; databases bench_outcomes_* are made there)");
  auto admin = must(pg::connection::open(o.database_url), "connect");
  admin.set_answer_deadline({});
  std::mt19937_64 rng{42};
  for (int round = 1; round <= o.rounds; ++round) {
    for (bool before : {true, false}) {
      const std::string name = before ? "bench_outcomes_before" : "bench_outcomes_now";
      must(admin.exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"), "drop database");
      must(admin.exec("CREATE DATABASE " + name), "create database");
      auto conn = must(pg::connection::open(database_url(o.database_url, name)), "connect " + name);
      conn.set_answer_deadline({});
      auto rows = fill(conn, o.rows, rng);
      if (before)
        must(conn.exec(before_layout_sql), "the layout before migration 11");
      must(conn.exec("VACUUM ANALYZE"), "vacuum");
      auto [seconds, cpu_ms] = finish(conn, rows, o.batch, before);
      std::printf("{\"round\":%d,\"layout\":\"%s\",\"rows\":%zu,\"batch\":%d,\"rows_per_s\":%.0f,"
                  "\"server_cpu_ms_per_1000\":%.2f}\n",
                  round, before ? "before_11" : "pending_table", rows.size(), o.batch,
                  static_cast<double>(rows.size()) / seconds, cpu_ms * 1000.0 / static_cast<double>(rows.size()));
      std::fflush(stdout);
    }
  }
  for (const char* name : {"bench_outcomes_before", "bench_outcomes_now"})
    (void)admin.exec(std::string{"DROP DATABASE IF EXISTS "} + name + " WITH (FORCE)");
  return 0;
}
