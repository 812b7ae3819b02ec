#include "sinks/sql_sink.hpp"

#include "core/utf8.hpp"
#include "expr/event_document.hpp"
#include "persistence/pg_connection.hpp"

#include <optional>

namespace txrelay {

attempt_result classify_sql_error(const pg::pg_error& err) {
  attempt_result r;
  // libpq's messages span lines (ERROR:, DETAIL:); a delivery's last error is one line.
  auto message = one_line_excerpt(err.message, 500);
  r.error = err.sqlstate.empty() ? message : "SQLSTATE " + err.sqlstate + ": " + message;
  auto cls = err.sqlstate.substr(0, 2);
  // 55P03: lock_not_available (lock_timeout); 57014 (statement_timeout) is in class 57.
  bool transient = err.connection_lost || err.sqlstate.empty() || cls == "08" || cls == "40" || cls == "53" ||
                   cls == "57" || cls == "58" || err.sqlstate == "55P03";
  r.outcome = transient ? attempt_result::verdict::retry : attempt_result::verdict::permanent;
  return r;
}

sql_sink::sql_sink(std::string database_url, std::string sink_name, sql_statement statement, int connections,
                   millis statement_timeout)
    : database_url_(std::move(database_url)), sink_name_(std::move(sink_name)), statement_(std::move(statement)),
      statement_timeout_(statement_timeout) {
  for (int i = 0; i < std::max(1, connections); ++i)
    workers_.emplace_back([this] { run(); });
}

sql_sink::~sql_sink() {
  {
    std::lock_guard lock{mutex_};
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& w : workers_)
    w.join();
  // Still queued: not attempted. The rows stay pending in PostgreSQL, and
  // each callback is still called once, as the transport contract says.
  for (auto& w : queue_) {
    attempt_result r;
    r.error = "not attempted: the sink was stopped";
    w.done(std::move(r));
  }
}

void sql_sink::attempt(const delivery_job& job, attempt_callback done) {
  {
    std::lock_guard lock{mutex_};
    queue_.push_back({job, std::move(done)});
  }
  wake_.notify_one();
}

namespace {

// Locks the delivery row and claims it: 0 rows means another attempt applied
// it already (or it was finished otherwise), so the statement must not run.
constexpr const char* claim_sql = R"sql(
UPDATE txrelay.deliveries
   SET status = 'delivered', attempts = $3, last_status = NULL, last_error = NULL, updated_at = now()
 WHERE event_id = $1 AND sink = $2 AND status = 'pending')sql";

attempt_result apply(pg::connection& conn, const delivery_job& job, const std::string& sink,
                     const sql_statement& statement) {
  auto fail = [&](const pg::pg_error& err) {
    if (!err.connection_lost)
      conn.exec("ROLLBACK");
    return classify_sql_error(err);
  };
  if (auto r = conn.exec("BEGIN"); !r)
    return fail(r.error());
  auto attempts = std::to_string(job.attempts + 1);
  auto claimed = conn.exec_prepared("txr_sql_claim", claim_sql, {job.event_id, sink, attempts});
  if (!claimed)
    return fail(claimed.error());
  attempt_result r;
  if (claimed->affected_rows() == 0) {
    conn.exec("ROLLBACK");
    r.outcome = attempt_result::verdict::delivered; // applied by an earlier attempt
    return r;
  }
  std::optional<std::string_view> key;
  if (job.key)
    key = *job.key;
  auto doc = event_document_from_json(event_fields{job.topic, key, job.event_id, job.id, job.created_at}, job.payload_json);
  auto values = statement.bind(doc);
  std::vector<pg::param> params;
  params.reserve(values.size());
  for (const auto& v : values)
    params.push_back(v ? pg::param{*v} : pg::param{});
  if (auto done = conn.exec(statement.text(), params); !done)
    return fail(done.error());
  if (auto committed = conn.exec("COMMIT"); !committed)
    return fail(committed.error()); // unknown outcome: the retry's claim finds out
  r.outcome = attempt_result::verdict::delivered;
  return r;
}

} // namespace

void sql_sink::run() {
  std::optional<pg::connection> conn;
  for (;;) {
    work next;
    {
      std::unique_lock lock{mutex_};
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_)
        return; // what is still queued stays pending in PostgreSQL
      next = std::move(queue_.front());
      queue_.pop_front();
    }
    if (!conn || !conn->healthy()) {
      conn.reset();
      auto opened = pg::connection::open(database_url_);
      if (!opened) {
        attempt_result r;
        r.error = "cannot connect to the database: " + opened.error().message;
        next.done(std::move(r));
        continue;
      }
      conn.emplace(std::move(*opened));
      // Bounded waits: a statement stuck on a lock would also hold up this
      // sink's shutdown (the destructor joins these threads). A timeout is a
      // transient failure, retried with backoff.
      if (auto limited = conn->exec("SET statement_timeout = " + std::to_string(statement_timeout_.count())); !limited) {
        conn.reset();
        next.done(classify_sql_error(limited.error()));
        continue;
      }
    }
    next.done(apply(*conn, next.job, sink_name_, statement_));
  }
}

} // namespace txrelay
