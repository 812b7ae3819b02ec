#include "actors/maintenance_actor.hpp"

#include "actors/persistence_support.hpp"
#include "logging/log.hpp"
#include "persistence/cluster.hpp"
#include "persistence/maintenance.hpp"

#include <chrono>
#include <optional>

namespace txrelay {

namespace {

constexpr const char* maintenance_lease = "maintenance";

using expire_atom = caf::atom_constant<caf::atom("expire")>;

struct maintenance_state {
  static inline const char* name = "maintenance";
  maintenance_options options;
  std::optional<pg::connection> conn;
  actor_metrics* self_metrics = nullptr;
  bool leader = false;
  bool draining = false;
  bool unavailable = false; // logged once per outage
  // The pass under way: the last event examined ("" at its start).
  std::optional<std::string> pass_cursor;
  pg::retention_cutoffs pass_cutoffs;
  long long pass_finished = 0, pass_rejected = 0;
  std::optional<time_point> last_pass_started;
  // Each window's message names its pass: one left over from a pass that
  // ended (a lease lost and taken back meanwhile) is dropped, so one pass
  // runs at a time, paced.
  std::uint64_t pass_number = 0;
};

using maintenance_self = caf::stateful_actor<maintenance_state>;

std::optional<time_point> cutoff(time_point now, millis keep) {
  if (keep.count() == 0)
    return std::nullopt;
  return now - keep;
}

pg::connection* connection_of(maintenance_self* self) {
  auto& st = self->state;
  return reachable_connection(st.conn, st.options.node, st.unavailable, "maintenance");
}

void set_leader(maintenance_self* self, bool leader) {
  auto& st = self->state;
  if (leader != st.leader)
    log::info(std::string{"maintenance: node "} + st.options.node.node_id +
              (leader ? " now runs maintenance (holds its lease)" : " no longer holds the maintenance lease"));
  st.leader = leader;
  st.options.node.metrics->maintenance_leader.store(leader ? 1 : 0, std::memory_order_relaxed);
  if (!leader)
    st.pass_cursor.reset();
}

/// Renews (or takes) the lease; the leader starts a pass when one is due.
void renew(maintenance_self* self) {
  auto& st = self->state;
  auto* conn = connection_of(self);
  if (!conn)
    return set_leader(self, false);
  auto held = pg::hold_lease(*conn, maintenance_lease, st.options.node.node_id, st.options.lease_ttl);
  if (!held) {
    log::warn("maintenance: cannot renew the lease: " + held.error().message);
    return set_leader(self, false);
  }
  set_leader(self, *held);
  auto now = st.options.node.clock->now();
  if (st.leader && !st.pass_cursor &&
      (!st.last_pass_started || now - *st.last_pass_started >= st.options.retention.interval)) {
    const auto& keep = st.options.retention;
    st.pass_cutoffs = {cutoff(now, keep.delivered), cutoff(now, keep.dead), cutoff(now, keep.rejected)};
    st.pass_cursor = std::string{};
    st.pass_finished = st.pass_rejected = 0;
    st.last_pass_started = now;
    self->send(self, expire_atom::value, ++st.pass_number);
  }
}

/// One window of the pass under way; the next one is a message away.
void expire_next(maintenance_self* self) {
  auto& st = self->state;
  if (!st.pass_cursor || !st.leader || st.draining)
    return;
  auto* conn = connection_of(self);
  if (!conn) {
    st.pass_cursor.reset(); // tried again at the next interval
    return;
  }
  const auto started = st.options.node.clock->now();
  auto window = pg::expire_window(*conn, st.pass_cutoffs, *st.pass_cursor, st.options.retention.batch);
  if (!window) {
    log::warn("maintenance: a retention window failed (the pass resumes at the next interval): " +
              window.error().message);
    st.pass_cursor.reset();
    return;
  }
  auto rel = std::memory_order_relaxed;
  st.options.node.metrics->expired_finished.fetch_add(static_cast<std::uint64_t>(window->finished), rel);
  st.options.node.metrics->expired_rejected.fetch_add(static_cast<std::uint64_t>(window->rejected), rel);
  st.pass_finished += window->finished;
  st.pass_rejected += window->rejected;
  if (window->examined >= st.options.retention.batch) {
    st.pass_cursor = window->last_id;
    // A window that deleted rests as long as it took: the pass takes at
    // most half of what the database gives it, and ingest keeps the rest
    // (back to back, a day of history pushed the live ack p99 up to 4x).
    auto took = std::chrono::ceil<millis>(st.options.node.clock->now() - started);
    if (window->finished + window->rejected > 0 && took.count() > 0)
      self->delayed_send(self, took, expire_atom::value, st.pass_number);
    else
      self->send(self, expire_atom::value, st.pass_number);
    return;
  }
  st.pass_cursor.reset();
  st.options.node.metrics->retention_passes.fetch_add(1, rel);
  (void)pg::forget_nodes(*conn, pg::forget_nodes_after);
  if (st.pass_finished + st.pass_rejected > 0)
    log::info("retention: deleted " + std::to_string(st.pass_finished) + " finished and " +
              std::to_string(st.pass_rejected) + " rejected events past their retention");
}

caf::behavior maintenance_behavior(maintenance_self* self, maintenance_options options) {
  auto& st = self->state;
  st.options = std::move(options);
  st.self_metrics = &st.options.node.metrics->actor("maintenance");
  const auto renew_every = std::min(st.options.renew_every, st.options.retention.interval);
  self->send(self, poll_atom::value);
  self->send(self, tick_atom::value);
  return {
    [=](poll_atom) {
      auto& st = self->state;
      if (st.draining)
        return;
      renew(self);
      self->delayed_send(self, renew_every, poll_atom::value);
    },
    [=](expire_atom, std::uint64_t pass) {
      if (pass == self->state.pass_number)
        expire_next(self);
    },
    [=](drain_atom) {
      // A stopping node gives the lease up: another takes over at its next
      // renewal instead of after the time to live.
      auto& st = self->state;
      st.draining = true;
      if (st.leader && st.conn)
        (void)pg::release_lease(*st.conn, maintenance_lease, st.options.node.node_id);
      set_leader(self, false);
      return true;
    },
    [=](tick_atom) { sample_mailbox(self, self->state.self_metrics->mailbox_size); },
  };
}

} // namespace

caf::actor spawn_maintenance_actor(caf::actor_system& sys, maintenance_options options) {
  return sys.spawn<caf::detached>(maintenance_behavior, std::move(options));
}

} // namespace txrelay
