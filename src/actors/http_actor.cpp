#include "actors/http_actor.hpp"

namespace txrelay {

namespace {

struct http_state {
  static inline const char* name = "http";
  http_actor_options options;
  actor_metrics* self_metrics = nullptr;
};

using http_self = caf::stateful_actor<http_state>;

/// Asks the ledger and passes the typed answer or the error on.
template <class T, class Reply, class... Ts>
void ask_within(http_self* self, caf::duration timeout, Reply reply, Ts&&... xs) {
  auto& st = self->state;
  st.self_metrics->messages.fetch_add(1, std::memory_order_relaxed);
  self->request(st.options.ledger, timeout, std::forward<Ts>(xs)...)
    .then([reply](T& value) { reply(std::move(value)); },
          [reply](caf::error& err) { reply(unexpected{to_api_error(err)}); });
}

template <class T, class Reply, class... Ts>
void ask(http_self* self, Reply reply, Ts&&... xs) {
  ask_within<T>(self, caf::duration{self->state.options.timeout}, std::move(reply), std::forward<Ts>(xs)...);
}

caf::behavior http_behavior(http_self* self, http_actor_options options) {
  self->state.options = std::move(options);
  self->state.self_metrics = &self->state.options.metrics->actor("http");
  self->send(self, tick_atom::value);
  return {
    [=](ingest_atom, ingest_requests& requests) {
      auto& st = self->state;
      st.self_metrics->messages.fetch_add(1, std::memory_order_relaxed);
      std::vector<event_batch> batches;
      std::vector<ingest_reply> replies;
      batches.reserve(requests.size());
      replies.reserve(requests.size());
      for (auto& r : requests) {
        batches.push_back(std::move(r.events));
        replies.push_back(std::move(r.reply));
      }
      self->request(st.options.persistence, st.options.timeout, ingest_atom::value, std::move(batches))
        .then(
          [replies](ingest_results& results) {
            for (std::size_t i = 0; i < replies.size(); ++i) {
              if (i < results.size())
                replies[i](std::move(results[i]));
              else // a bug, not an input: answer rather than leave a client hanging
                replies[i](unexpected{api_error{500, "internal_error", "no answer for this request"}});
            }
          },
          [replies](caf::error& err) {
            // No answer in time, or the persistence actor died: the events
            // may be queued or committing still. Only an answer says
            // "nothing was stored".
            auto e = err == caf::sec::request_timeout || err == caf::sec::request_receiver_down
                       ? commit_unknown_error()
                       : to_api_error(err);
            for (const auto& reply : replies)
              reply(unexpected{e});
          });
    },
    [=](get_event_atom, const std::string& id, event_reply& reply) {
      ask<event_lookup>(self, std::move(reply), get_event_atom::value, id);
    },
    [=](counts_atom, counts_reply& reply) { ask<pending_counts>(self, std::move(reply), counts_atom::value); },
    [=](nodes_atom, nodes_reply& reply) { ask<node_list>(self, std::move(reply), nodes_atom::value); },
    [=](search_atom, pg::event_query& query, search_reply& reply) {
      ask<pg::event_page>(self, std::move(reply), search_atom::value, std::move(query));
    },
    [=](dead_list_atom, dead_list_request& req, dead_list_reply& reply) {
      ask<dead_list>(self, std::move(reply), dead_list_atom::value, std::move(req));
    },
    [=](replay_atom, replay_request& filter, replay_reply& reply) {
      ask<replay_report>(self, std::move(reply), replay_atom::value, std::move(filter));
    },
    [=](health_atom, health_reply& reply) {
      // A health check answers quickly or says the database does not: the
      // ledger waiting on an unreachable server must not make /healthz hang.
      ask_within<bool>(self, caf::duration{self->state.options.health_timeout}, std::move(reply), health_atom::value);
    },
    [=](tick_atom) { sample_mailbox(self, self->state.self_metrics->mailbox_size); },
  };
}

} // namespace

caf::actor spawn_http_actor(caf::actor_system& sys, http_actor_options options) {
  return sys.spawn(http_behavior, std::move(options));
}

} // namespace txrelay
