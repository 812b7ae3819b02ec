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
#include "sinks/sink_transport.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace txrelay {

namespace pg {
struct pg_error;
}

/// What a failed statement means for the delivery: connection loss, a
/// serialization failure or deadlock (40), lack of resources (53), an
/// operator shutdown (57) and a lost connection (08) are retried; anything
/// else (a constraint violation, bad input, a wrong statement) would fail
/// the same way again, so the delivery is dead.
attempt_result classify_sql_error(const pg::pg_error& err);

class sql_sink final : public sink_transport {
public:
  /// `connections`: statements running at once (each on its own connection);
  /// `statement_timeout`: the longest one attempt may run (the sink's `timeout`).
  sql_sink(std::string database_url, std::string sink_name, sql_statement statement, int connections,
           millis statement_timeout = millis{10'000});
  ~sql_sink() override;

  void attempt(const delivery_job& job, attempt_callback done) override;

private:
  struct work {
    delivery_job job;
    attempt_callback done;
  };
  void run();

  std::string database_url_;
  std::string sink_name_;
  sql_statement statement_;
  millis statement_timeout_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<work> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

} // namespace txrelay
