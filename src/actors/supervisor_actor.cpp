#include "actors/supervisor_actor.hpp"

#include "logging/log.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <random>
#include <set>

namespace txrelay {

namespace {

using restart_atom = caf::atom_constant<caf::atom("restart")>;

struct child {
  sink_config sink;
  sender_actor actor; // none while restarting, failed or retired
  actor_metrics* metrics = nullptr;
  sink_metrics* sink_state = nullptr;
  std::deque<time_point> recent_restarts; // within the sink's restart_window
  bool failed = false;
  bool paused = false; // by an operator; survives restarts
  // A reload removed or changed the sink: its sender finishes its attempts
  // and stops; then the successor (a changed sink's new settings) starts,
  // or the child is forgotten.
  bool retiring = false;
  std::optional<sink_config> successor;
  // Cluster: this node may send to the sink until lease_until (a sender
  // runs only then); a sink handed to another node is released once its
  // sender stopped.
  bool leased = true;
  std::optional<time_point> lease_until;
  bool releasing = false;
  // The last stored operator command applied (pg::sink_control).
  std::string control_at;
  std::string resumed_at;
  // The sink's faults as its last sender recorded them (pg::sink_fault),
  // for the next sender started here.
  std::string broken;
  time_point quiet_until{};
};

/// The first restart in a window is immediate; each further one waits twice
/// as long as the one before (100 ms, 200 ms, ... at most 10 s), so a sender
/// that crashes on start cannot spin.
millis restart_delay(std::size_t earlier_restarts) {
  if (earlier_restarts == 0)
    return millis{0};
  auto shift = std::min<std::size_t>(earlier_restarts - 1, 7);
  return std::min(millis{100} * (1 << shift), millis{10'000});
}

struct supervisor_state {
  static inline const char* name = "supervisor";
  supervisor_options options;
  std::map<std::string, child> children; // by sink name
  bool stopping = false;
  std::mt19937_64 seeds;
  caf::actor cluster; // who sends the leases; told of released sinks and of rows for sinks owned elsewhere
  bool controls_read = false; // the operators' commands were read once since the start
  // Every sender spawned whose exit message (by the link) has not come yet.
  // CAF monitors and links a child only after spawning it: a sender that
  // dies at once can have its down message arrive before its exit message,
  // after the down handler forgot it. Its exit must still not be taken for
  // this supervisor's end.
  std::set<caf::actor_addr> linked_senders;
};

using supervisor_self = caf::stateful_actor<supervisor_state>;

void start_child(supervisor_self* self, child& c) {
  auto& st = self->state;
  if (!c.leased || c.failed || st.stopping)
    return; // another node sends to it, or nobody should
  sender_options opts;
  opts.sink = c.sink;
  opts.transport = st.options.make_transport(c.sink);
  opts.ledger = st.options.ledger;
  opts.clock = st.options.clock;
  opts.metrics = st.options.metrics;
  opts.window = st.options.window;
  opts.seed = st.seeds();
  opts.start_paused = c.paused;
  opts.permit_until = c.lease_until;
  opts.start_broken = c.broken;
  opts.start_quiet_until = c.quiet_until;
  c.actor = spawn_monitored_sender(self, std::move(opts));
  st.linked_senders.insert(c.actor.address());
}

/// Carries out a pause or a resume here: the sender (if this node runs
/// one) and what the supervisor keeps. Resuming a failed sink is how an
/// operator says "fixed": its restart intensity starts over.
void apply_command(supervisor_self* self, const std::string& sink, child& c, sink_command cmd) {
  auto& st = self->state;
  switch (cmd) {
    case sink_command::pause:
      c.paused = true;
      c.sink_state->paused.store(1, std::memory_order_relaxed);
      if (c.actor)
        self->send(c.actor, pause_atom::value);
      break;
    case sink_command::resume:
      c.paused = false;
      c.broken.clear();
      c.sink_state->paused.store(0, std::memory_order_relaxed);
      if (!c.actor)
        c.sink_state->broken.store(0, std::memory_order_relaxed);
      if (c.failed) {
        c.failed = false;
        c.recent_restarts.clear();
        c.sink_state->failed.store(0, std::memory_order_relaxed);
        log::info("supervisor: sink " + sink + " resumed by an operator; starting its sender again");
        if (!st.stopping && !c.actor)
          start_child(self, c);
      } else if (c.actor) {
        self->send(c.actor, resume_atom::value);
      }
      break;
  }
}

/// Where a stored command comes from: this node's own request (applied even
/// if a reading of the table saw it first and took it for history), or a
/// reading of the table (the first after the start only sets the pause: a
/// resume from before this process started is history).
enum class control_source { requested_here, first_reading, reading };

/// A stored operator command, applied if it is newer than the last one seen.
void apply_control(supervisor_self* self, const pg::sink_control& row, control_source source) {
  auto it = self->state.children.find(row.sink);
  if (it == self->state.children.end())
    return;
  auto& c = it->second;
  bool requested_here = source == control_source::requested_here;
  // Equal to the last seen: the same command. Applying it twice does no harm.
  if (!c.control_at.empty() && (requested_here ? row.updated_at < c.control_at : row.updated_at <= c.control_at))
    return;
  c.control_at = row.updated_at;
  if (row.paused && (requested_here || !c.paused))
    apply_command(self, row.sink, c, sink_command::pause);
  else if (!row.paused && (requested_here || (source == control_source::reading && row.resumed_at != c.resumed_at)))
    apply_command(self, row.sink, c, sink_command::resume);
  c.resumed_at = row.resumed_at;
}

/// The sink's faults as stored: what the next sender started here begins
/// with, and what this node shows while another node sends to the sink.
void apply_fault(supervisor_self* self, const pg::sink_control& row) {
  auto it = self->state.children.find(row.sink);
  if (it == self->state.children.end())
    return;
  auto& c = it->second;
  if (row.updated_at < c.control_at)
    return; // read before the last command applied here (a resume clears faults in the same statement)
  c.broken = row.fault.broken;
  c.quiet_until = self->state.options.clock->now() + row.fault.quiet_for;
  if (c.actor)
    return; // its sender knows better, and so does the supervisor of a sender that runs
  c.sink_state->broken.store(c.broken.empty() ? 0 : 1, std::memory_order_relaxed);
  if (!row.fault.failed.empty() && !c.failed) {
    c.failed = true; // the node that ran it gave up: so does this one, until a resume
    c.sink_state->failed.store(1, std::memory_order_relaxed);
  }
}

/// POST /v1/sinks/{name}/pause|resume: stored first, so that every node
/// applies it (the sink's owner may be another) and it survives restarts.
/// A partitioned sink's name stands for all of its partitions.
void control(supervisor_self* self, const std::string& sink, sink_command cmd, const control_reply& reply) {
  auto& st = self->state;
  std::vector<std::string> targets;
  for (const auto& [name, c] : st.children)
    if (name == sink || c.sink.partition_of == sink)
      targets.push_back(name);
  if (targets.empty())
    return reply(unexpected{api_error{404, "not_found", "no sink named \"" + sink + "\""}});
  struct progress {
    std::size_t waiting;
    std::optional<api_error> error;
  };
  auto done = std::make_shared<progress>(progress{targets.size(), std::nullopt});
  auto finish = [cmd, reply, done] {
    if (--done->waiting == 0)
      reply(done->error ? result<sink_command, api_error>{unexpected{*done->error}} : cmd);
  };
  for (const auto& target : targets)
    self->request(st.options.ledger, std::chrono::seconds{30}, sink_control_atom::value, target,
                  cmd == sink_command::pause)
      .then(
        [self, finish](pg::sink_control& row) {
          apply_control(self, row, control_source::requested_here);
          finish();
        },
        [done, finish](caf::error& err) {
          done->error = to_api_error(err);
          finish();
        });
}

/// A sender that is retired or handed over: it finishes its attempts under
/// way (bounded: one that dies meanwhile never answers), then stops; its
/// down message says what comes next.
void drain_then_stop(supervisor_self* self, sender_actor actor) {
  self->request(actor, std::chrono::seconds{60}, drain_atom::value)
    .then([self, actor](bool) { self->send_exit(actor, caf::exit_reason::user_shutdown); },
          [self, actor](caf::error&) {
            // A killed actor's exit message kills whatever is linked to it:
            // unlinked first, so that only the sender goes (its down message
            // still comes). Its address stays in linked_senders: if it died
            // by itself, its exit message may be on its way still.
            self->unlink_from(actor);
            self->send_exit(actor, caf::exit_reason::kill);
          });
}

void adopt(supervisor_self* self, const sink_config& sink) {
  auto& st = self->state;
  auto& c = st.children[sink.name];
  c.sink = sink;
  c.leased = !st.options.leased; // a cluster node waits for its lease
  c.metrics = &st.options.metrics->actor("sender:" + sink.name);
  c.sink_state = &st.options.metrics->sink(sink.name);
  start_child(self, c);
}

/// After a retiring sender stopped (or when there was none): its successor
/// starts, or the sink is gone. Returns whether the child was erased.
bool finish_retirement(supervisor_self* self, std::string name) { // a copy: the key it names may be erased here
  auto& st = self->state;
  auto& c = st.children.at(name);
  c.retiring = false;
  if (c.successor) {
    c.sink = std::move(*c.successor);
    c.successor.reset();
    // New settings (a new url, say) are how an operator fixes a broken or
    // failed sink too: the stored faults go, here and for every node.
    c.failed = false;
    c.broken.clear();
    c.recent_restarts.clear();
    c.sink_state->failed.store(0, std::memory_order_relaxed);
    c.sink_state->broken.store(0, std::memory_order_relaxed);
    caf::anon_send(st.options.ledger, sink_fault_atom::value, sink_fault_updates{{.sink = name, .clear = true}});
    log::info("supervisor: sink " + name + " restarted with its reloaded settings");
    if (!st.stopping)
      start_child(self, c);
    if (!c.leased && st.cluster)
      self->send(st.cluster, released_atom::value, name); // handed over meanwhile: its old sender is gone
    return false;
  }
  log::info("supervisor: sink " + name + " removed by a reload; its pending deliveries stay in PostgreSQL");
  st.children.erase(name);
  if (st.cluster)
    self->send(st.cluster, released_atom::value, name);
  return true;
}

void retire(supervisor_self* self, const std::string& name, std::optional<sink_config> successor) {
  auto& c = self->state.children.at(name);
  c.successor = std::move(successor);
  c.releasing = false; // the retirement's end answers released if the lease went meanwhile
  if (c.retiring)
    return; // already on its way out; the newest successor wins
  c.retiring = true;
  if (!c.actor) {
    finish_retirement(self, name);
    return;
  }
  drain_then_stop(self, c.actor);
}

caf::behavior supervisor_behavior(supervisor_self* self, supervisor_options options) {
  auto& st = self->state;
  st.options = std::move(options);
  st.seeds.seed(st.options.seed.value_or(std::random_device{}()));
  for (const auto& sink : st.options.sinks)
    adopt(self, sink);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    for (auto& [name, c] : st.children) {
      if (c.actor.address() != msg.source)
        continue;
      c.actor = nullptr;
      if (c.retiring) {
        finish_retirement(self, name); // may erase c: nothing after this touches it
        return;
      }
      if (c.releasing) {
        c.releasing = false;
        if (c.leased)
          start_child(self, c); // the lease came back while it drained
        else if (st.cluster)
          self->send(st.cluster, released_atom::value, name);
        return;
      }
      if (st.stopping || msg.reason == caf::exit_reason::user_shutdown || msg.reason == caf::exit_reason::kill)
        return;
      const auto& policy = c.sink.supervision;
      auto now = st.options.clock->now();
      while (!c.recent_restarts.empty() && now - c.recent_restarts.front() > policy.restart_window)
        c.recent_restarts.pop_front();
      if (static_cast<int>(c.recent_restarts.size()) >= policy.max_restarts) {
        // Restart intensity exceeded: stop trying. Its deliveries stay pending
        // in PostgreSQL; the failed gauge is what an alert should watch.
        c.failed = true;
        c.sink_state->failed.store(1, std::memory_order_relaxed);
        caf::anon_send(st.options.ledger, sink_fault_atom::value, // failed on whichever node sends next, too
                       sink_fault_updates{{.sink = name,
                                           .failed = "its sender crashed " + std::to_string(c.recent_restarts.size() + 1) +
                                                     " times: " + to_string(msg.reason)}});
        log::error("supervisor: sender for sink " + name + " crashed " + std::to_string(c.recent_restarts.size() + 1) +
                   " times within " + std::to_string(policy.restart_window.count()) + " ms (" + to_string(msg.reason) +
                   "); the sink is marked failed and its deliveries stay pending");
        return;
      }
      auto delay = restart_delay(c.recent_restarts.size());
      c.recent_restarts.push_back(now);
      c.metrics->restarts.fetch_add(1, std::memory_order_relaxed);
      log::warn("supervisor: sender for sink " + name + " stopped (" + to_string(msg.reason) + "); restarting it" +
                (delay.count() > 0 ? " in " + std::to_string(delay.count()) + " ms" : std::string{}) +
                "; its unfinished deliveries are still pending in PostgreSQL");
      if (delay.count() == 0)
        start_child(self, c);
      else
        self->delayed_send(self, delay, restart_atom::value, name);
      return;
    }
  });
  self->set_exit_handler([self](caf::exit_msg& msg) {
    auto& st = self->state;
    // A sender's own exit reaches here through its link: its down message
    // decides about a restart. Anything else is this supervisor's end.
    if (st.linked_senders.erase(msg.source) > 0)
      return;
    st.stopping = true;
    for (auto& [_, c] : st.children)
      if (c.actor)
        self->send_exit(c.actor, msg.reason);
    self->quit(msg.reason);
  });
  return {
    [=](restart_atom, const std::string& sink) {
      auto& st = self->state;
      auto it = st.children.find(sink);
      if (!st.stopping && it != st.children.end() && !it->second.actor && !it->second.failed)
        start_child(self, it->second);
    },
    [=](sink_control_atom, const std::string& sink, sink_command cmd, control_reply& reply) {
      control(self, sink, cmd, reply);
    },
    [=](drain_atom) -> caf::result<bool> {
      // Every sender finishes its attempts under way and starts no more; a
      // sender that stops meanwhile is not restarted.
      auto& st = self->state;
      st.stopping = true;
      auto promise = self->make_response_promise<bool>();
      auto waiting = std::make_shared<std::size_t>(0);
      auto all_done = std::make_shared<bool>(true);
      for (auto& [_, c] : st.children)
        if (c.actor)
          ++*waiting;
      if (*waiting == 0) {
        promise.deliver(true);
        return promise;
      }
      for (auto& [_, c] : st.children) {
        if (!c.actor)
          continue;
        // Bounded: a sender that dies after taking the request never answers it.
        self->request(c.actor, std::chrono::seconds{60}, drain_atom::value)
          .then(
            [=](bool done) mutable {
              *all_done = *all_done && done;
              if (--*waiting == 0)
                promise.deliver(*all_done);
            },
            [=](caf::error&) mutable {
              *all_done = false;
              if (--*waiting == 0)
                promise.deliver(false);
            });
      }
      return promise;
    },
    [=](reconfigure_atom, std::vector<sink_config>& sinks) {
      auto& st = self->state;
      if (st.stopping)
        return; // a stop drains what runs; the next start reads the file anew
      std::map<std::string, sink_config*> next;
      for (auto& s : sinks)
        next[s.name] = &s;
      std::vector<std::string> gone;
      for (const auto& [name, _] : st.children)
        if (next.count(name) == 0)
          gone.push_back(name);
      for (const auto& name : gone)
        retire(self, name, std::nullopt);
      for (auto& [name, s] : next) {
        auto it = st.children.find(name);
        if (it == st.children.end()) {
          log::info("supervisor: sink " + name + " added by a reload");
          adopt(self, *s);
        } else if (it->second.sink.fingerprint != s->fingerprint || it->second.retiring) {
          retire(self, name, std::move(*s));
        }
      }
    },
    [=](sweep_atom) {
      // Rows may be pending that no sender holds: every sender looks again,
      // and the nodes that own the other sinks are told.
      auto& st = self->state;
      for (auto& [name, c] : st.children) {
        if (c.actor)
          self->send(c.actor, sweep_atom::value);
        else if (!c.leased && st.cluster)
          self->send(st.cluster, notify_atom::value, name);
      }
    },
    [=](sweep_atom, const std::string& sink) {
      // Another node committed rows for this sink.
      auto it = self->state.children.find(sink);
      if (it != self->state.children.end() && it->second.actor)
        self->send(it->second.actor, sweep_atom::value);
    },
    [=](poll_atom) {
      for (auto& [_, c] : self->state.children)
        if (c.actor)
          self->send(c.actor, sweep_atom::value);
    },
    [=](controls_atom, const sink_controls& rows) {
      auto& st = self->state;
      for (const auto& row : rows) {
        apply_control(self, row, st.controls_read ? control_source::reading : control_source::first_reading);
        apply_fault(self, row);
      }
      st.controls_read = true;
    },
    [=](leases_atom, const sink_leases& leases) {
      auto& st = self->state;
      st.cluster = caf::actor_cast<caf::actor>(self->current_sender());
      std::map<std::string, time_point> until;
      for (const auto& [sink, rep] : leases)
        until.emplace(sink, time_point{time_point::duration{rep}});
      for (auto& [name, c] : st.children) {
        auto it = until.find(name);
        if (it != until.end()) {
          bool was_leased = c.leased;
          c.leased = true;
          c.lease_until = it->second;
          if (c.actor)
            self->send(c.actor, lease_atom::value, it->second.time_since_epoch().count());
          else if (!c.retiring && !was_leased)
            start_child(self, c);
        } else if (c.leased) {
          // Handed to another node: the sender finishes its attempts, then
          // the lease goes back (released_atom).
          c.leased = false;
          c.lease_until.reset();
          if (!c.actor) {
            self->send(st.cluster, released_atom::value, name);
          } else if (!c.retiring) {
            c.releasing = true;
            drain_then_stop(self, c.actor);
          }
        }
      }
    },
    [=](dispatch_atom, const std::string& sink, delivery_jobs& jobs) {
      auto& st = self->state;
      auto it = st.children.find(sink);
      // A sender being restarted misses these; it sweeps them in from PostgreSQL.
      if (it == st.children.end())
        return;
      if (!it->second.leased) {
        // Its owner is another node (its sender here, if any, is draining).
        if (st.cluster)
          self->send(st.cluster, notify_atom::value, sink);
        return;
      }
      if (it->second.actor && st.options.leased && it->second.sink.ordering == delivery_ordering::per_key)
        // Another node may have committed an earlier row of the same key
        // that this one has not heard of yet (its notification trails, and
        // a node that just joined is not even counted yet): the rows come
        // from a sweep, in id order, never ahead of an earlier one.
        self->send(it->second.actor, sweep_atom::value);
      else if (it->second.actor)
        self->send(it->second.actor, dispatch_atom::value, std::move(jobs));
    },
  };
}

} // namespace

caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_options options) {
  return sys.spawn(supervisor_behavior, std::move(options));
}

} // namespace txrelay
