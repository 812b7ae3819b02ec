#include "actors/cluster_actor.hpp"

#include "actors/persistence_support.hpp"
#include "logging/log.hpp"
#include "persistence/cluster.hpp"

#include <algorithm>
#include <optional>
#include <set>

namespace txrelay {

namespace {

using pg::sinks_channel;

using listen_atom = caf::atom_constant<caf::atom("listen")>;

/// FNV-1a, then a 64-bit finalizer: stable across builds and platforms
/// (std::hash is neither), so nodes of different builds agree on owners.
std::uint64_t stable_hash(std::string_view a, std::string_view b) {
  std::uint64_t h = 1469598103934665603ULL;
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
  };
  mix(a);
  mix(std::string_view{"\0", 1});
  mix(b);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

std::string lease_name(const std::string& sink) { return "sink:" + sink; }

struct cluster_state {
  static inline const char* name = "cluster";
  cluster_options options;
  std::optional<pg::connection> conn;
  bool listening = false;   // LISTEN is in force on conn
  bool unavailable = false; // logged once per outage
  bool first_beat = true;
  bool draining = false;
  bool controls_read = false; // the operators' commands were read once
  std::vector<std::string> live;  // as of the last beat
  std::set<std::string> held;     // sinks whose lease this node holds
  std::set<std::string> told;     // sinks the supervisor was last told it may send to
  std::set<std::string> handing_over; // held, another node's now; renewed until their senders stopped
  std::set<std::string> to_notify; // sinks with new rows another node owns
  actor_metrics* self_metrics = nullptr;
};

using cluster_self = caf::stateful_actor<cluster_state>;

pg::connection* connection_of(cluster_self* self) {
  auto& st = self->state;
  if (st.conn && !st.conn->healthy())
    st.listening = false;
  auto* conn = reachable_connection(st.conn, st.options.node, st.unavailable, "cluster",
                                   "; senders stop at their leases' end until it answers");
  if (!conn) {
    st.listening = false;
    return nullptr;
  }
  if (!st.listening) {
    if (auto listened = conn->exec(std::string{"LISTEN "} + sinks_channel); !listened)
      return nullptr;
    st.listening = true;
    // Notifications sent while nobody listened are lost: every local sender looks.
    self->send(st.options.supervisor, poll_atom::value);
  }
  return conn;
}

void release(cluster_self* self, const std::string& sink) {
  auto& st = self->state;
  if (auto* conn = connection_of(self))
    (void)pg::release_lease(*conn, lease_name(sink), st.options.node.node_id);
  st.held.erase(sink);
  st.handing_over.erase(sink);
  st.options.node.metrics->sink(sink).leased.store(0, std::memory_order_relaxed);
}

/// The operators' commands, to the supervisor (it applies what is newer).
bool send_controls(cluster_self* self, pg::connection& conn) {
  auto controls = pg::load_sink_controls(conn);
  if (!controls) {
    log::warn("cluster: cannot read the sinks' controls: " + controls.error().message);
    return false;
  }
  self->send(self->state.options.supervisor, controls_atom::value, std::move(*controls));
  self->state.controls_read = true;
  return true;
}

void beat(cluster_self* self) {
  auto& st = self->state;
  auto* conn = connection_of(self);
  if (!conn)
    return;
  auto live = pg::heartbeat(*conn, st.options.node.node_id, st.first_beat, st.options.node_ttl);
  if (!live) {
    log::warn("cluster: heartbeat failed: " + live.error().message);
    return;
  }
  st.first_beat = false;
  st.live = std::move(*live);
  st.options.node.metrics->cluster_nodes.store(static_cast<std::int64_t>(st.live.size()), std::memory_order_relaxed);

  std::set<std::string> mine;
  for (const auto& sink : st.options.sinks)
    if (sink_owner(st.live, sink) == st.options.node.node_id)
      mine.insert(sink);
  // Keep renewing what is being handed over until its sender has stopped.
  std::vector<std::string> wanted;
  for (const auto& sink : mine)
    wanted.push_back(lease_name(sink));
  for (const auto& sink : st.held)
    if (mine.count(sink) == 0)
      wanted.push_back(lease_name(sink));
  // The permission is measured from before the renewal was sent: the lease
  // the database grants runs at least that long.
  const auto sent_at = st.options.node.clock->now();
  auto got = pg::hold_leases(*conn, wanted, st.options.node.node_id, st.options.lease_ttl);
  if (!got) {
    log::warn("cluster: cannot renew leases: " + got.error().message);
    return;
  }
  // After the leases were taken, before the supervisor hears of them: a
  // sink's previous owner stores its faults and then releases the lease, so
  // a lease held now comes with what its last sender left (and a paused
  // sink's sender starts paused). Until the controls were read once, no
  // sender starts at all.
  if (!send_controls(self, *conn) && !st.controls_read)
    return;
  std::set<std::string> held;
  for (const auto& name : *got)
    held.insert(name.substr(5)); // "sink:"
  for (const auto& sink : st.held)
    if (held.count(sink) == 0)
      log::warn("cluster: node " + st.options.node.node_id + " lost the lease of sink " + sink);
  st.held = std::move(held);

  const auto until = (sent_at + st.options.lease_ttl - st.options.lease_margin).time_since_epoch().count();
  sink_leases permitted;
  std::set<std::string> told;
  std::vector<std::string> hand_over_now;
  for (const auto& sink : st.held) {
    if (mine.count(sink) != 0) {
      permitted.emplace_back(sink, until);
      told.insert(sink);
      st.handing_over.erase(sink); // given back before its sender stopped
    } else if (st.told.count(sink) != 0 || st.handing_over.count(sink) != 0) {
      // Its sender drains (attempts under way may take their whole
      // timeouts); the lease is renewed until the supervisor answers released.
      st.handing_over.insert(sink);
    } else {
      hand_over_now.push_back(sink); // no sender ever ran for it here
    }
  }
  for (const auto& sink : st.options.sinks)
    st.options.node.metrics->sink(sink).leased.store(told.count(sink) != 0 ? 1 : 0, std::memory_order_relaxed);
  st.told = std::move(told);
  self->send(st.options.supervisor, leases_atom::value, std::move(permitted));
  for (const auto& sink : hand_over_now)
    release(self, sink);
  if (st.live.size() > 1)
    self->send(st.options.supervisor, poll_atom::value); // in case a notification was lost
}

/// Sends what waits to be announced, then waits briefly for announcements.
void listen(cluster_self* self) {
  auto& st = self->state;
  auto* conn = connection_of(self);
  if (!conn)
    return;
  if (!st.to_notify.empty()) {
    std::vector<std::string> sinks{st.to_notify.begin(), st.to_notify.end()};
    if (pg::notify(*conn, sinks_channel, sinks))
      st.to_notify.clear();
  }
  auto heard = conn->take_notifications(st.options.listen_wait);
  if (!heard) {
    st.listening = false;
    return;
  }
  std::set<std::string> sweep;
  bool controls = false;
  for (auto& payload : *heard) {
    if (payload == pg::controls_changed)
      controls = true;
    else if (st.told.count(payload) != 0)
      sweep.insert(std::move(payload));
  }
  if (controls)
    send_controls(self, *conn);
  for (const auto& sink : sweep)
    self->send(st.options.supervisor, sweep_atom::value, sink);
}

caf::behavior cluster_behavior(cluster_self* self, cluster_options options) {
  auto& st = self->state;
  st.options = std::move(options);
  st.self_metrics = &st.options.node.metrics->actor("cluster");
  self->send(self, poll_atom::value);
  self->send(self, listen_atom::value);
  self->send(self, tick_atom::value);
  return {
    [=](poll_atom) {
      if (self->state.draining)
        return;
      beat(self);
      self->delayed_send(self, self->state.options.heartbeat, poll_atom::value);
    },
    [=](listen_atom) {
      auto& st = self->state;
      if (st.draining)
        return;
      listen(self);
      if (st.unavailable)
        self->delayed_send(self, std::chrono::milliseconds{500}, listen_atom::value);
      else
        self->send(self, listen_atom::value);
    },
    [=](notify_atom, std::string& sink) { self->state.to_notify.insert(std::move(sink)); },
    [=](released_atom, const std::string& sink) {
      // Its sender stopped: handed over, or removed by a reload. Unless it
      // was given back to this node meanwhile.
      auto& st = self->state;
      bool configured = std::find(st.options.sinks.begin(), st.options.sinks.end(), sink) != st.options.sinks.end();
      if (st.held.count(sink) != 0 && (st.told.count(sink) == 0 || !configured)) {
        st.told.erase(sink);
        st.handing_over.erase(sink);
        release(self, sink);
      }
    },
    [=](reconfigure_atom, std::vector<std::string>& sinks) { self->state.options.sinks = std::move(sinks); },
    [=](drain_atom) {
      // After the supervisor drained: every lease goes back now, so the
      // other nodes take the sinks over at their next beat.
      auto& st = self->state;
      st.draining = true;
      if (auto* conn = connection_of(self))
        (void)pg::leave(*conn, st.options.node.node_id);
      auto held = st.held;
      for (const auto& sink : held)
        release(self, sink);
      st.told.clear();
      return true;
    },
    [=](tick_atom) { sample_mailbox(self, self->state.self_metrics->mailbox_size); },
  };
}

} // namespace

std::string sink_owner(const std::vector<std::string>& live_nodes, const std::string& sink) {
  std::string owner;
  std::uint64_t best = 0;
  for (const auto& node : live_nodes) {
    auto h = stable_hash(node, sink);
    if (owner.empty() || h > best || (h == best && node < owner)) {
      owner = node;
      best = h;
    }
  }
  return owner;
}

caf::actor spawn_cluster_actor(caf::actor_system& sys, cluster_options options) {
  return sys.spawn<caf::detached>(cluster_behavior, std::move(options));
}

} // namespace txrelay
