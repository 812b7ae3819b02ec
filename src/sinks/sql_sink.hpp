#pragma once
// A `sql` sink: a projection into PostgreSQL itself (a denormalised
// aggregate, a read-side profile). Its statement runs in the same
// transaction that marks the delivery delivered, and that transaction first
// locks the delivery row and checks it is still pending. So however often a
// delivery is attempted (a retry after a lost COMMIT reply, a sender restart,
// two senders during a handover), the statement's effect is applied exactly
// once.
//
// libpq blocks, so the sink owns its own threads and connections (never a
// CAF scheduler thread); results go back through the attempt callback.
#include "config/config.hpp"
#include "persistence/pg_connection.hpp"
#include "sinks/sink_transport.hpp"

#include <memory>
#include <string>

namespace txrelay {

/// What a failed statement means for the delivery: connection loss, a
/// serialization failure or deadlock (40), lack of resources (53), an
/// operator shutdown (57) and a lost connection (08) are retried; anything
/// else (a constraint violation, bad input, a wrong statement) would fail
/// the same way again, so the delivery is dead.
attempt_result classify_sql_error(const pg::pg_error& err);

/// Runs `statement` with its parameters bound from `event` (an event
/// document): for a sql sink's attempt and for an in_transaction projection.
result<pg::result_set, pg::pg_error> run_statement(pg::connection& conn, const sql_statement& statement,
                                                  const json_value& event);

class sql_sink final : public sink_transport {
public:
  /// `connections`: statements running at once (each on its own thread and
  /// connection, started by the first attempts that need them: a sink that
  /// is never attempted, such as an in_transaction one, costs nothing);
  /// `statement_timeout`: the longest one attempt may run (the sink's `timeout`).
  sql_sink(std::string database_url, std::string sink_name, sql_statement statement, int connections,
           millis statement_timeout = millis{10'000});
  /// Does not wait for a statement in progress: it runs on a sender's
  /// scheduler thread (a restart). Queued work is answered "not attempted";
  /// a running statement finishes on its own thread, which then exits.
  ~sql_sink() override;

  void attempt(const delivery_job& job, attempt_callback done) override;

  struct shared; // sql_sink.cpp: what the worker threads and the sink share

private:
  std::shared_ptr<shared> shared_;
};

} // namespace txrelay
