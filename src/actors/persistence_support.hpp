#pragma once
// What the actors that write to PostgreSQL share: the ingest writers (events
// from clients) and the ledger (outcomes, and the compensation events they
// carry). Both open their connection on demand, make ids from one generator,
// and hand committed deliveries to the senders.
#include "actors/protocol.hpp"
#include "core/ids.hpp"
#include "expr/sql_statement.hpp"
#include "persistence/outbox.hpp"
#include "persistence/pg_connection.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace txrelay {

/// Sends `self` a flush message unless one is already on its way. It queues
/// behind everything in the mailbox, so one flush sees every request (or
/// outcome) that arrived together. The state has a `flush_scheduled` flag.
template <class Self>
void schedule_flush(Self* self) {
  if (!self->state.flush_scheduled) {
    self->state.flush_scheduled = true;
    self->send(self, flush_atom::value);
  }
}

/// The connection in `conn`, reopened (within `limits`) if it is gone;
/// `session_setup`, if any, runs once on each new connection (SET commands).
result<pg::connection*, pg::pg_error> ensure_connection(std::optional<pg::connection>& conn, const std::string& url,
                                                        const pg::connection_limits& limits,
                                                        const char* session_setup = nullptr);

/// A libpq error as the actors' error: connection lost -> unavailable (503).
caf::error to_caf(const pg::pg_error& err);

using pg::primary_message;

/// Whether trying again may pass: a lost connection, a deadlock, a
/// serialization failure, a timeout (classify_sql_error's retry verdict).
bool is_transient(const pg::pg_error& err);

/// An event with its new ids, ready for pg::ingest_events.
pg::ingest_item make_ingest_item(shared_uuid_v7_generator& ids, event_submission ev, time_point now);

/// Why an in_transaction projection could not be done for an event.
struct projection_failure {
  std::string sink;
  pg::pg_error error;
  bool transient = false; // a deadlock, serialization failure or timeout: retrying may pass
  bool statement = true;  // the sink's statement failed (false: marking its delivery did)
};

/// Runs the statement of every in_transaction sql sink `item` is routed to,
/// inside the caller's transaction, and marks those deliveries delivered by
/// their first attempt. The first failure stops it; the caller rolls back.
std::optional<projection_failure> run_projections(pg::connection& conn,
                                                  const std::map<std::string, sql_statement>& in_transaction,
                                                  const pg::ingest_item& item);

/// Sends each sink's newly committed deliveries to `dispatcher`, skipping
/// sinks done inside the ingest transaction and events that were replays.
void dispatch_committed(caf::event_based_actor* self, const caf::actor& dispatcher,
                        const std::vector<pg::ingest_item>& items, const std::vector<pg::ingest_receipt>& receipts,
                        const std::map<std::string, sql_statement>& in_transaction, time_point now,
                        time_point committed_at);

} // namespace txrelay
