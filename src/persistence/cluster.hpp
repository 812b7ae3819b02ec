#pragma once
// What the nodes sharing one database know of each other: a row per node,
// renewed by its heartbeat, and leases (one holder at a time for a piece of
// work: a sink's deliveries, the maintenance), all on the database's clock,
// the one clock every node shares.
#include "core/clock.hpp"
#include "persistence/pg_connection.hpp"

#include <optional>
#include <string>
#include <vector>

namespace txrelay::pg {

/// A node is live while its last heartbeat is younger than this.
constexpr millis node_ttl{10'000};
/// A node silent this long is forgotten (its row deleted, not listed).
constexpr millis forget_nodes_after{3'600'000};
/// Where nodes tell each other of new rows for a sink (payload: the sink's
/// name) and of a changed sink control (payload: controls_changed).
inline constexpr const char* sinks_channel = "txrelay_sinks";
inline constexpr const char* controls_changed = ":controls"; // no sink name has a colon
/// The advisory lock (transaction-scoped) a routing round of events
/// published from SQL holds: one node routes at a time.
inline constexpr const char* router_lock_key = "7402887271309115137";

/// Records that `node` is alive now (its row is created on the first beat,
/// `starting` resets its start time); returns the ids of every node whose
/// last beat is younger than `node_ttl`, this one included, sorted.
result<std::vector<std::string>, pg_error> heartbeat(connection& conn, const std::string& node, bool starting,
                                                     millis node_ttl);

/// Takes the lease `name` for `holder`, or renews it, until `ttl` from now on
/// the database's clock. True if `holder` holds it now; false if another
/// holder's lease has not expired.
result<bool, pg_error> hold_lease(connection& conn, const std::string& name, const std::string& holder, millis ttl);

/// The same for many leases in one statement; returns the names held now.
result<std::vector<std::string>, pg_error> hold_leases(connection& conn, const std::vector<std::string>& names,
                                                       const std::string& holder, millis ttl);

/// Gives the lease up if `holder` holds it (another node takes it over at
/// once instead of after its expiry).
result<bool, pg_error> release_lease(connection& conn, const std::string& name, const std::string& holder);

struct node_record {
  std::string id;
  std::string started_at;
  std::string heartbeat_at;
  bool live = false;
  std::vector<std::string> leases; // held now, by name
};

/// Nodes that beat within `forget_after`, live or not, by id.
result<std::vector<node_record>, pg_error> list_nodes(connection& conn, millis node_ttl, millis forget_after);

/// A graceful stop: `node` is not live from now on (the others reassign
/// its sinks at their next beat instead of after node_ttl).
result<bool, pg_error> leave(connection& conn, const std::string& node);

/// Deletes the rows of nodes silent for longer than `forget_after`.
result<long long, pg_error> forget_nodes(connection& conn, millis forget_after);

/// What the node that sent to a sink learned about it, kept for the node
/// that sends to it next (after a lease moved, or a restart).
struct sink_fault {
  std::string broken;   // why the sink said it is gone; empty: it did not
  std::string failed;   // why the supervisor gave up on its sender; empty: it did not
  millis quiet_for{0};  // from the reading: no request before then (Retry-After, rate window, open circuit)
};

/// An operator's standing command to a sink, as every node applies it, and
/// the sink's faults as its last sender left them.
struct sink_control {
  std::string sink;
  bool paused = false;
  std::string resumed_at; // the last resume (text, comparable as is); empty: never
  std::string updated_at; // the last command: a node applies a row newer than the last it applied; empty: none
  sink_fault fault;
};

/// Records a pause (paused) or a resume (not paused, resumed_at now) of
/// `sink`; a resume also clears its broken and failed faults (the operator
/// says it is fixed). Returns the command as stored (its fault left empty).
result<sink_control, pg_error> set_sink_control(connection& conn, const std::string& sink, bool paused);

/// Every sink with a standing command or a fault.
result<std::vector<sink_control>, pg_error> load_sink_controls(connection& conn);

/// What a sink's sender (or its supervisor) learned: each field that is set
/// replaces the stored one; the others stay. Cleared by a resume, or by a
/// reload that changed the sink (`clear`).
struct sink_fault_update {
  std::string sink;
  std::optional<std::string> broken{};
  std::optional<std::string> failed{};
  std::optional<millis> quiet_for{}; // from now on the database's clock
  bool clear = false; // first forget broken and failed: a reload gave the sink new settings
};
result<bool, pg_error> record_sink_faults(connection& conn, const std::vector<sink_fault_update>& updates);

/// Sends each name on `channel` (NOTIFY), in one statement.
result<bool, pg_error> notify(connection& conn, const std::string& channel, const std::vector<std::string>& payloads);

} // namespace txrelay::pg
