#pragma once
// The whole protocol between txrelay's actors, in one place.
//
//   HTTP side --(get_event / counts / health, with a reply callback)--> http_actor
//   HTTP side --(ingest, [event_batch + reply])--> http_actor          (one message per I/O loop turn)
//   http_actor --request(ingest, [event_batch])--> persistence_actor    (answers each after COMMIT)
//   persistence_actor --request(commit, [event_batch])--> ingest_writer  (an idle one, the queued group)
//   ingest_writer --(dispatch, sink, jobs)--> supervisor --(dispatch, jobs)--> sender(sink)
//   http_actor --request(get_event / search / counts / health / replay)--> ledger
//   sender --request(load_pending, sink, after_id, limit)--> ledger     (recovery, paging)
//   sender --(outcome, [delivery_outcome])--> ledger                    (recorded in batches)
//   ledger --(dispatch, sink, jobs)--> supervisor                       (compensation events)
//   router --(poll)--> itself: routes events published from SQL --(dispatch, sink, jobs)--> supervisor
//   ingest_writer / ledger --(sweep)--> supervisor --(sweep)--> every sender (commit state unknown)
//   transport --(attempted, delivery id, attempt_result)--> sender          (from an I/O thread)
//   HTTP side --(sinkctl, sink, sink_command, reply)--> supervisor --request(sinkctl, sink, paused)--> ledger
//     (stored, NOTIFY) --> supervisor --(pause / resume)--> sender; other nodes: cluster --(controls)--> supervisor
//   sender / supervisor --(sinkfault, [update])--> ledger    (broken, failed, quiet: for the sink's next sender)
//   HTTP side --(replay, filter, reply)--> http_actor --request--> ledger --(sweep)--> senders
//
//   engine --(dispatch_to, supervisor)--> persistence_actor, ledger, router  (wiring, at start)
//   engine --(reconfigure, sinks)--> supervisor                          (a config reload)
//
// Senders have a typed interface (sender_actor.hpp): only the supervisor
// holds their handles. The others are dynamically typed because tests and
// the engine wire them by caf::actor; each handler below names its message.
//
// Every type here is local-only: txrelay runs in one process, so messages are
// never serialized and CAF_ALLOW_UNSAFE_MESSAGE_TYPE suffices.
#include "core/api_error.hpp"
#include "config/config.hpp"
#include "core/delivery.hpp"
#include "core/result.hpp"
#include "metrics/process_stats.hpp"
#include "persistence/cluster.hpp"
#include "persistence/event_search.hpp"
#include "persistence/outbox.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace txrelay {

// -- atoms (at most 10 characters) --------------------------------------------

using ingest_atom = caf::atom_constant<caf::atom("ingest")>;
using outcome_atom = caf::atom_constant<caf::atom("outcome")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using load_pending_atom = caf::atom_constant<caf::atom("loadpend")>;
using get_event_atom = caf::atom_constant<caf::atom("getevent")>;
using counts_atom = caf::atom_constant<caf::atom("counts")>;
using health_atom = caf::atom_constant<caf::atom("health")>;
// Deliveries to send: (dispatch, sink, jobs) to the supervisor, (dispatch, jobs) to a sender.
using dispatch_atom = caf::atom_constant<caf::atom("dispatch")>;
// Wiring at start: (dispatch_to, actor) names the actor that receives dispatches.
using dispatch_to_atom = caf::atom_constant<caf::atom("dispatchto")>;
using attempted_atom = caf::atom_constant<caf::atom("attempted")>;
using sweep_atom = caf::atom_constant<caf::atom("sweep")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using sink_control_atom = caf::atom_constant<caf::atom("sinkctl")>;
using pause_atom = caf::atom_constant<caf::atom("pause")>;
using resume_atom = caf::atom_constant<caf::atom("resume")>;
using replay_atom = caf::atom_constant<caf::atom("replay")>;
using dead_list_atom = caf::atom_constant<caf::atom("deadlist")>;
using search_atom = caf::atom_constant<caf::atom("evsearch")>;
using commit_atom = caf::atom_constant<caf::atom("commit")>;
using poll_atom = caf::atom_constant<caf::atom("poll")>;
// A graceful stop: finish what is under way, start nothing new, answer true when done.
using drain_atom = caf::atom_constant<caf::atom("drain")>;
// A reloaded config's sinks: start the new, retire the removed, restart the changed.
using reconfigure_atom = caf::atom_constant<caf::atom("reconfig")>;
// Cluster: the sinks this node holds leases for (to the supervisor), one
// sink's lease renewed (to its sender), a lease handed back after its sender
// stopped (to the cluster actor), a sink another node owns has new rows.
using leases_atom = caf::atom_constant<caf::atom("leases")>;
using lease_atom = caf::atom_constant<caf::atom("lease")>;
using released_atom = caf::atom_constant<caf::atom("released")>;
using notify_atom = caf::atom_constant<caf::atom("notify")>;
using nodes_atom = caf::atom_constant<caf::atom("nodes")>;
// Operators' commands as stored (to the supervisor, from the cluster actor).
using controls_atom = caf::atom_constant<caf::atom("controls")>;
// What a sink's sender learned that its next sender must know (to the ledger).
using sink_fault_atom = caf::atom_constant<caf::atom("sinkfault")>;

// -- message types --------------------------------------------------------------

/// The events of one request: committed all together or not at all.
using event_batch = std::vector<event_submission>;
using ingest_receipts = std::vector<pg::ingest_receipt>;
/// The answer to each request of an ingest message, in request order.
using ingest_results = std::vector<result<ingest_receipts, api_error>>;
using delivery_jobs = std::vector<delivery_job>;
using delivery_outcomes = std::vector<delivery_outcome>;

struct event_lookup {
  std::optional<pg::event_record> record; // empty: no such event
};

/// What POST /v1/events/{id}/replay or /v1/sinks/{name}/replay asks for.
using replay_request = pg::replay_filter;
/// The deliveries made pending again.
struct replay_report {
  std::vector<pg::delivery_ref> deliveries;
  bool more = false; // the limit was reached: more dead deliveries may match
};

/// GET /v1/sinks/{name}/dead: a page of dead deliveries by id.
struct dead_list_request {
  std::vector<std::string> sinks; // the sink's instances (a partitioned sink: each partition)
  std::string after_id;           // "": from the start
  int limit = 100;
};
struct dead_list {
  std::vector<pg::dead_letter> items;
};

/// The sinks a node may send to now, each with the end of its permission
/// (the lease, on the node's clock: time_point::rep).
using sink_leases = std::vector<std::pair<std::string, time_point::rep>>;

using sink_controls = std::vector<pg::sink_control>;
using sink_fault_updates = std::vector<pg::sink_fault_update>;

struct node_list {
  std::vector<pg::node_record> nodes;
};
using nodes_reply = std::function<void(result<node_list, api_error>)>;

/// What a scrape of /metrics or GET /v1/sinks needs that takes I/O: the
/// backlog from the database, and the process's figures from /proc (read by
/// the ledger, whose thread may block).
struct pending_counts {
  std::vector<sink_backlog> by_sink;
  std::optional<api_error> backlog_error; // the database did not answer: by_sink is empty
  std::optional<process_stats> process;   // read whether or not the database answered
};

// Replies from the actor world back to an HTTP connection. Called exactly once,
// from a CAF thread; implementations post to the connection's own executor.
using ingest_reply = std::function<void(result<ingest_receipts, api_error>)>;

/// One client request on its way in, with where its answer goes. Requests
/// that reach the HTTP side together travel as one message (ingest_coalescer).
struct ingest_request {
  event_batch events;
  ingest_reply reply;
};
using ingest_requests = std::vector<ingest_request>;
using event_reply = std::function<void(result<event_lookup, api_error>)>;
using counts_reply = std::function<void(result<pending_counts, api_error>)>;
using health_reply = std::function<void(result<bool, api_error>)>;
using replay_reply = std::function<void(result<replay_report, api_error>)>;
using dead_list_reply = std::function<void(result<dead_list, api_error>)>;
using search_reply = std::function<void(result<pg::event_page, api_error>)>;

/// What an operator can tell a sink (POST /v1/sinks/{name}/pause|resume).
/// pause: nothing is sent until resumed; deliveries stay pending.
/// resume: lifts a pause, clears a broken state, closes the circuit, and
/// restarts a sender its supervisor had given up on.
enum class sink_command { pause, resume };
using control_reply = std::function<void(result<sink_command, api_error>)>; // the command, as applied

// -- errors -----------------------------------------------------------------------

/// Failures of the persistence actor, as caf::error (category "txrdb").
enum class persistence_errc : std::uint8_t {
  unavailable = 1, // no connection to PostgreSQL
  rejected = 2,    // the statement failed for this input
  projection_failed = 3, // an in_transaction sql sink's statement failed: the event is refused
  idempotency_reused = 4, // an Idempotency-Key repeated with a different request
  // The connection was lost while the COMMIT (or the one autocommit
  // statement) was under way: the events may or may not be stored.
  commit_unknown = 5,
};

/// The answer to an ingest whose outcome nobody knows: it may have been
/// committed (its COMMIT's answer was lost, or it timed out queued or
/// committing). Retrying with the same Idempotency-Key is then safe.
api_error commit_unknown_error();

caf::error make_persistence_error(persistence_errc code, std::string message);

/// The HTTP reply for an error that crossed an actor boundary.
api_error to_api_error(const caf::error& err);

/// Every actor answers `tick` by publishing its mailbox size and asking for
/// the next tick a second later (a mailbox can only be measured from inside).
template <class Self>
void sample_mailbox(Self* self, std::atomic<std::int64_t>& gauge) {
  gauge.store(static_cast<std::int64_t>(self->mailbox().size()), std::memory_order_relaxed);
  self->delayed_send(self, std::chrono::seconds{1}, tick_atom::value);
}

} // namespace txrelay

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::event_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<txrelay::event_batch>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::ingest_results)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::ingest_requests)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::delivery_jobs)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<txrelay::sink_config>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::sink_leases)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::node_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::sink_controls)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::pg::sink_control)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::sink_fault_updates)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::nodes_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::delivery_outcomes)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::attempt_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::ingest_receipts)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::event_lookup)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::pending_counts)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::replay_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::replay_report)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::replay_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::dead_list_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::dead_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::dead_list_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::pg::event_query)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::pg::event_page)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::search_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::ingest_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::event_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::counts_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::health_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::sink_command)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(txrelay::control_reply)
