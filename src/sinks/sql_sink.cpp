#include "sinks/sql_sink.hpp"

#include "core/utf8.hpp"
#include "expr/event_document.hpp"
#include "logging/log.hpp"
#include "persistence/outbox.hpp"
#include "persistence/pg_connection.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

namespace txrelay {

attempt_result classify_sql_error(const pg::pg_error& err) {
  attempt_result r;
  // libpq's messages span lines (ERROR:, DETAIL:), and DETAIL quotes row
  // values (a unique violation, the key): a delivery's last error, which the
  // API shows, is the primary message only; the log keeps the rest.
  auto message = err.connection_lost ? std::string{"the database connection was lost"} : pg::primary_message(err.message);
  r.error = err.sqlstate.empty() ? message : "SQLSTATE " + err.sqlstate + ": " + message;
  auto cls = err.sqlstate.substr(0, 2);
  // 55P03: lock_not_available (lock_timeout); 57014 (statement_timeout) is in class 57.
  bool transient = err.connection_lost || err.sqlstate.empty() || cls == "08" || cls == "40" || cls == "53" ||
                   cls == "57" || cls == "58" || err.sqlstate == "55P03";
  r.outcome = transient ? attempt_result::verdict::retry : attempt_result::verdict::permanent;
  // 57014 query_canceled: the statement_timeout; 55P03 the lock_timeout.
  r.reason = err.connection_lost || cls == "08"                  ? failure_reason::connect
             : err.sqlstate == "57014" || err.sqlstate == "55P03" ? failure_reason::timeout
                                                                  : failure_reason::other;
  return r;
}


result<pg::result_set, pg::pg_error> run_statement(pg::connection& conn, const sql_statement& statement,
                                                  const json_value& event) {
  auto values = statement.bind(event);
  return conn.exec(statement.text(), pg::params_of(values));
}

namespace {

attempt_result apply(pg::connection& conn, const delivery_job& job, const std::string& sink,
                     const sql_statement& statement) {
  auto fail = [&](const pg::pg_error& err) {
    if (!err.connection_lost)
      conn.exec("ROLLBACK");
    log::warn("sql sink " + sink + ": delivery " + job.id + ": " + one_line_excerpt(err.message, 1000));
    return classify_sql_error(err);
  };
  if (auto r = conn.exec("BEGIN"); !r)
    return fail(r.error());
  // Claim first: marking the row delivered locks it, so a concurrent
  // attempt waits here; 0 rows means an earlier attempt applied it.
  auto claimed = pg::mark_delivered(conn, {job.event_id, sink, job.id}, job.attempts + 1);
  if (!claimed)
    return fail(claimed.error());
  attempt_result r;
  if (*claimed == 0) {
    conn.exec("ROLLBACK");
    r.outcome = attempt_result::verdict::delivered; // applied by an earlier attempt
    return r;
  }
  if (auto done = run_statement(conn, statement, delivery_document(job)); !done)
    return fail(done.error());
  if (auto committed = conn.exec("COMMIT"); !committed)
    return fail(committed.error()); // unknown outcome: the retry's claim finds out
  r.outcome = attempt_result::verdict::delivered;
  return r;
}

} // namespace

struct sql_sink::shared {
  struct work {
    delivery_job job;
    attempt_callback done;
  };
  std::string database_url;
  std::string sink_name;
  sql_statement statement;
  millis statement_timeout;
  int max_workers = 1;
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<work> queue;
  int workers = 0;
  int idle = 0;
  bool stopping = false;

  void run();
  /// Answers under the lock, and not at all once the sink is gone: the
  /// callback reaches an actor whose system may be shutting down. So the
  /// destructor waits for at most an answer in progress, never a statement.
  void answer(work& w, attempt_result r) {
    std::lock_guard lock{mutex};
    if (!stopping)
      w.done(std::move(r));
  }
};

void sql_sink::shared::run() {
  std::optional<pg::connection> conn;
  for (;;) {
    work next;
    {
      std::unique_lock lock{mutex};
      ++idle;
      wake.wait(lock, [&] { return stopping || !queue.empty(); });
      --idle;
      if (stopping)
        return; // what is still queued was answered by the destructor
      next = std::move(queue.front());
      queue.pop_front();
    }
    if (!conn || !conn->healthy()) {
      conn.reset();
      // Bounded waits: a statement stuck on a lock must not hold a worker
      // for ever (the server cancels it), nor may a database that stopped
      // answering (the connection is closed 10 s later). A timeout is a
      // transient failure, retried with backoff.
      pg::connection_limits limits;
      limits.statement_timeout = statement_timeout;
      auto opened = pg::connection::open(database_url, limits);
      if (!opened) {
        attempt_result r;
        // libpq's reason names the host, port and user: logged, not shown.
        log::warn("sql sink: cannot connect to the database: " + one_line_excerpt(opened.error().message, 500));
        r.error = "cannot connect to the database";
        r.reason = failure_reason::connect;
        answer(next, std::move(r));
        continue;
      }
      conn.emplace(std::move(*opened));
    }
    answer(next, apply(*conn, next.job, sink_name, statement));
  }
}

sql_sink::sql_sink(std::string database_url, std::string sink_name, sql_statement statement, int connections,
                   millis statement_timeout)
    : shared_(std::make_shared<shared>()) {
  shared_->database_url = std::move(database_url);
  shared_->sink_name = std::move(sink_name);
  shared_->statement = std::move(statement);
  shared_->statement_timeout = statement_timeout;
  shared_->max_workers = std::max(1, connections);
}

sql_sink::~sql_sink() {
  std::deque<shared::work> unattempted;
  {
    std::lock_guard lock{shared_->mutex};
    shared_->stopping = true;
    unattempted.swap(shared_->queue);
  }
  shared_->wake.notify_all();
  // Not attempted: the rows stay pending in PostgreSQL, and each callback is
  // still called once, as the transport contract says.
  for (auto& w : unattempted) {
    attempt_result r;
    r.error = "not attempted: the sink was stopped";
    w.done(std::move(r));
  }
}

void sql_sink::attempt(const delivery_job& job, attempt_callback done) {
  bool start_worker = false;
  {
    std::lock_guard lock{shared_->mutex};
    shared_->queue.push_back({job, std::move(done)});
    // Another thread only when every existing one is busy.
    start_worker = shared_->idle == 0 && shared_->workers < shared_->max_workers;
    if (start_worker)
      ++shared_->workers;
  }
  if (start_worker)
    std::thread([state = shared_] { state->run(); }).detach();
  else
    shared_->wake.notify_one();
}

} // namespace txrelay
