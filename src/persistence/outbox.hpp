#pragma once
// The transactional outbox in SQL: events, their deliveries, and outcomes.
// Each function is one round trip where it can be: a batch's columns travel as
// binary arrays (binary_array.hpp) expanded by unnest, so a group of N events
// costs one statement and one commit, not N.
#include "core/delivery.hpp"
#include "persistence/pg_connection.hpp"
#include "persistence/sql_time.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace txrelay::pg {

/// One event to commit, with its ids already chosen by the caller.
struct ingest_item {
  std::string event_id;
  std::string created_at; // RFC 3339
  event_submission event;
  std::size_t request = 0; // which request of the group: its events share an Idempotency-Key
  // A client's request: repeating its key with another body is an error
  // (idempotency_reused_sqlstate). Otherwise (a compensation event) the
  // earlier event simply stands.
  bool strict_idempotency = false;
  std::vector<std::string> delivery_ids; // parallel to event.sinks
};

/// A delivery row's whole identity: its key (event_id, sink) and its id.
struct delivery_key {
  std::string event_id;
  std::string sink;
  std::string id;
};

struct delivery_ref {
  std::string id;
  std::string sink;
};

struct ingest_receipt {
  bool created = true; // false: an earlier event with the same idempotency key
  std::string event_id;
  std::string topic;
  std::string created_at;
  std::vector<delivery_ref> deliveries; // ordered by id
};

/// One kept attempt of a delivery (migration 13): failed ones, and the last
/// of a delivery that failed before.
struct attempt_entry {
  int attempt = 0;
  std::string at; // RFC 3339: when it started
  long long duration_ms = 0;
  std::string outcome; // retry | dead | delivered
  std::optional<int> http_status;
  std::optional<std::string> error_class; // a failure_reason; empty when the sink took it
  std::optional<std::string> error;
  std::optional<std::string> response_excerpt;
};

struct delivery_record {
  std::string id;
  std::string sink;
  std::string status;
  int attempts = 0;
  std::string next_attempt_at; // RFC 3339
  std::optional<int> last_status;
  std::optional<std::string> last_error;
  std::string updated_at;
  std::vector<attempt_entry> history; // by start
};

/// Whether an event has been routed. Events ingested over HTTP are routed
/// before they are stored; events published from SQL wait for the router.
enum class routing_state { routed, pending, rejected };

const char* to_string(routing_state s);

/// An event's routing state in SQL, over `txrelay.event_log e`: text that
/// routing_state_from reads back. An event still in the queue is its queue
/// row (queued), or, published with an idempotency key, a stored row not
/// routed yet: no deliveries, and named by a queue row.
#define TXR_ROUTING_STATE                                                                    \
  "CASE WHEN e.rejection IS NOT NULL THEN 'rejected' WHEN e.queued THEN 'pending'"             \
  " WHEN e.delivery_ids IS NULL"                                                             \
  " AND EXISTS (SELECT 1 FROM txrelay.unrouted_events u WHERE u.event_id = e.id) THEN 'pending'" \
  " ELSE 'routed' END"
routing_state routing_state_from(std::string_view text);

/// A delivery's columns in the delivery_status view `d`, in the order
/// delivery_record_at reads them from column `first` on.
#define TXR_DELIVERY_RECORD_COLUMNS                                                              \
  "d.id::text, d.sink, d.status, d.attempts, " TXR_RFC3339("d.next_attempt_at") ", d.last_status, " \
  "d.last_error, " TXR_RFC3339("d.updated_at")
delivery_record delivery_record_at(const result_set& rows, int row, int first);

struct event_record {
  std::string id;
  std::string topic;
  std::optional<std::string> key;
  std::string payload_json;
  std::string created_at;
  routing_state routing = routing_state::routed;
  std::optional<std::string> rejection_json; // rejected: the API error object, as JSON
  std::optional<std::string> producer;       // the name of the API key that posted it
  std::vector<delivery_record> deliveries; // ordered by id
};

/// A text[] literal: {"a","b"} with quotes and backslashes escaped.
std::string text_array_literal(const std::vector<std::string>& items);

/// Settings for a connection that records outcomes and pages pending
/// deliveries (the ledger's).
/// - Outcomes may be lost in a server crash and redone (at least once), so it
///   commits without waiting for the WAL flush; what must be durable opens a
///   transaction with `SET LOCAL synchronous_commit = on`.
/// - Every statement is planned for the table as it is now. A plan cached
///   while the deliveries table was nearly empty (a fresh install) outlives
///   its growth until the next ANALYZE, and the plan it got then, a hash join
///   over every pending row, took minutes per outcome batch at 190k rows.
inline constexpr const char* ledger_session_settings = "SET synchronous_commit = off; SET plan_cache_mode = force_custom_plan";

/// The SQLSTATE of the error ingest_events returns when a request repeats an
/// Idempotency-Key with a different body (txrelay's own code, class TX).
inline constexpr const char* idempotency_reused_sqlstate = "TX409";

/// Commits every item in one statement (so one transaction): each event,
/// with its deliveries' ids and sinks, and each delivery queued. Items whose idempotency key exists already get
/// the earlier event's receipt (created = false). Receipts are in item order.
/// A request that repeats a key with another topic, key or payload (or a
/// batch with other events, or more or fewer) fails the whole call with
/// idempotency_reused_sqlstate, and nothing is stored.
result<std::vector<ingest_receipt>, pg_error> ingest_events(connection& conn, const std::vector<ingest_item>& items);

/// The same statements inside a transaction the caller opened (and commits):
/// for work that must commit with the events (in_transaction projections,
/// compensation events with the outcome that caused them).
result<std::vector<ingest_receipt>, pg_error> ingest_events_in_transaction(connection& conn,
                                                                         const std::vector<ingest_item>& items);

/// Marks one pending delivery delivered by its `attempt`-th attempt, inside
/// the caller's transaction (a projection done with it). The row lock it
/// takes also serialises concurrent attempts; 0 rows: it was finished already.
result<long long, pg_error> mark_delivered(connection& conn, const delivery_key& delivery, int attempt);

/// Applies the outcomes of attempts, one statement. Only pending rows change:
/// a finished delivery is never reopened by a late or duplicate report.
result<long long, pg_error> record_outcomes(connection& conn, const std::vector<delivery_outcome>& outcomes);

/// Pending deliveries of `sink` with id > `after_id` ("" = from the start), by id.
result<std::vector<delivery_job>, pg_error> load_pending(connection& conn, const std::string& sink,
                                                         const std::string& after_id, int limit);

result<std::optional<event_record>, pg_error> find_event(connection& conn, const std::string& event_id);

/// Which dead deliveries to replay: of one event, of one sink, or both.
struct replay_filter {
  std::optional<std::string> event_id;
  std::optional<std::string> sink;
  std::vector<std::string> sinks; // only these (the configured ones): a removed sink's rows stay dead
  int limit = 10'000;             // at most this many per call: the caller asks again for more
};

/// Makes the matching dead deliveries pending again with a fresh attempt
/// budget (attempts 0, due now), keeping their ids; returns them by id.
/// Their last error stays until the next attempt replaces it.
result<std::vector<delivery_ref>, pg_error> replay_dead(connection& conn, const replay_filter& filter);

/// Rewrites txrelay.topics to exactly `topics` (the routed topics of the
/// config), in one transaction: txrelay.publish() refuses any other.
result<long long, pg_error> declare_topics(connection& conn, const std::vector<std::string>& topics);

/// An event committed by txrelay.publish(), claimed for routing.
struct published_event {
  std::string event_id;
  std::string topic;
  std::optional<std::string> key;
  std::string payload_json;
  std::string created_at; // RFC 3339
  // Its row is in txrelay.events already (it was published with an
  // idempotency key); otherwise it came in its queue row only.
  bool stored = false;
};

/// Whether any event waits for routing: one probe of the queue's index, so
/// an idle poll costs one round trip and no transaction.
result<bool, pg_error> any_unrouted(connection& conn);

/// Takes up to `limit` events waiting for routing, in the order of their
/// publish() calls, inside
/// the caller's transaction: their queue rows are deleted (and locked rows
/// skipped), so the claim holds exactly as long as the transaction. Events
/// committed out of id order are taken whenever they become visible.
result<std::vector<published_event>, pg_error> claim_unrouted(connection& conn, int limit);

/// A published event txrelay refused when it routed it, with the reason:
/// the API's error object as JSON ({"code", "message", "violations"?}).
struct rejected_event {
  std::string event_id;
  std::string rejection_json;
};

/// What routing decided for a claimed event: its deliveries (none if no
/// route took it), or why it was refused.
struct routing_decision {
  ingest_item item; // the event, its sinks and delivery ids
  bool stored = false; // its row exists (published_event::stored): updated, not inserted
  std::optional<std::string> rejection_json;
};

/// Records routing inside the caller's transaction: each event in
/// txrelay.events with its deliveries or its rejection (inserted, or
/// updated when stored already), and its deliveries queued, due at once.
result<long long, pg_error> record_routing(connection& conn, const std::vector<const routing_decision*>& decisions);

/// Takes one event out of the routing queue and records it rejected, in its
/// own transaction: for an event that fails every attempt to route it, so
/// it cannot hold up the events behind it. 0: it was not queued any more.
result<long long, pg_error> reject_unrouted(connection& conn, const rejected_event& event);

/// A dead delivery, for GET /v1/sinks/{name}/dead.
struct dead_letter {
  std::string id;
  std::string event_id;
  std::string sink;
  std::string topic;
  std::optional<std::string> key;
  int attempts = 0;
  std::optional<int> last_status;
  std::optional<std::string> last_error;
  std::string died_at;    // RFC 3339: when it was given up
  std::string created_at; // RFC 3339: when the event was made
};

/// Dead deliveries of `sinks` with id > `after_id` ("" = from the start), by id.
result<std::vector<dead_letter>, pg_error> list_dead(connection& conn, const std::vector<std::string>& sinks,
                                                     const std::string& after_id, int limit);

/// Pending deliveries per sink, with the oldest one's age, by sink name.
result<std::vector<sink_backlog>, pg_error> pending_counts(connection& conn);

} // namespace txrelay::pg
