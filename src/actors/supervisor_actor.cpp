#include "actors/supervisor_actor.hpp"

#include "logging/log.hpp"

#include <map>
#include <random>

namespace txrelay {

namespace {

struct child {
  sink_config sink;
  caf::actor actor;
  actor_metrics* metrics = nullptr;
};

struct supervisor_state {
  static inline const char* name = "supervisor";
  supervisor_options options;
  std::map<std::string, child> children; // by sink name
  bool stopping = false;
  std::mt19937_64 seeds{std::random_device{}()};
};

using supervisor_self = caf::stateful_actor<supervisor_state>;

void start_child(supervisor_self* self, child& c) {
  auto& st = self->state;
  sender_options opts;
  opts.sink = c.sink;
  opts.transport = st.options.make_transport(c.sink);
  opts.persistence = st.options.persistence;
  opts.clock = st.options.clock;
  opts.metrics = st.options.metrics;
  opts.window = st.options.window;
  opts.seed = st.seeds();
  c.actor = spawn_monitored_sender(self, std::move(opts));
}

caf::behavior supervisor_behavior(supervisor_self* self, supervisor_options options) {
  auto& st = self->state;
  st.options = std::move(options);
  for (const auto& sink : st.options.sinks) {
    auto& c = st.children[sink.name];
    c.sink = sink;
    c.metrics = &st.options.metrics->actor("sender:" + sink.name);
    start_child(self, c);
  }
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    for (auto& [name, c] : st.children) {
      if (c.actor.address() != msg.source)
        continue;
      c.actor = nullptr;
      if (st.stopping || msg.reason == caf::exit_reason::user_shutdown || msg.reason == caf::exit_reason::kill)
        return;
      c.metrics->restarts.fetch_add(1, std::memory_order_relaxed);
      log::warn("supervisor: sender for sink " + name + " stopped (" + to_string(msg.reason) +
                "); restarting it; its unfinished deliveries are still pending in PostgreSQL");
      start_child(self, c);
      return;
    }
  });
  self->set_exit_handler([self](caf::exit_msg& msg) {
    auto& st = self->state;
    st.stopping = true;
    for (auto& [_, c] : st.children)
      if (c.actor)
        self->send_exit(c.actor, msg.reason);
    self->quit(msg.reason);
  });
  return {
    [=](dispatch_atom, const std::string& sink, delivery_jobs& jobs) {
      auto& st = self->state;
      auto it = st.children.find(sink);
      // A sender being restarted misses these; it sweeps them in from PostgreSQL.
      if (it != st.children.end() && it->second.actor)
        self->send(it->second.actor, dispatch_atom::value, std::move(jobs));
    },
  };
}

} // namespace

caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_options options) {
  return sys.spawn(supervisor_behavior, std::move(options));
}

} // namespace txrelay
