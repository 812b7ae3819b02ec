#include "actors/persistence_actor.hpp"

#include "actors/ingest_writer.hpp"

#include "logging/log.hpp"

#include <algorithm>
#include <deque>

namespace txrelay {

namespace {

/// The answer to one ingest message: one slot per request it carried,
/// delivered when the last of them is settled.
struct ingest_answer {
  caf::typed_response_promise<ingest_results> promise;
  std::vector<std::optional<result<ingest_receipts, api_error>>> slots;
  std::size_t unsettled = 0;
};

/// One request waiting for a writer: its events are committed together or
/// not at all.
struct queued_ingest {
  event_batch events;
  std::shared_ptr<ingest_answer> answer;
  std::size_t slot = 0;

  void settle(result<ingest_receipts, api_error> r) {
    answer->slots[slot].emplace(std::move(r));
    if (--answer->unsettled > 0)
      return;
    ingest_results all;
    all.reserve(answer->slots.size());
    for (auto& s : answer->slots)
      all.push_back(std::move(*s));
    answer->promise.deliver(std::move(all));
  }
};

struct persistence_state {
  static inline const char* name = "persistence";

  persistence_options options;
  std::deque<queued_ingest> queue;
  std::size_t queued_events = 0;
  std::chrono::steady_clock::time_point queued_since; // when the queue last became non-empty
  bool patience_timer = false;
  std::vector<caf::actor> idle_writers;
  std::vector<caf::actor> writers;
  bool flush_scheduled = false;
  caf::actor dispatcher; // handed to writers, also to a replacement
  actor_metrics* self_metrics = nullptr;
  // A graceful stop waits until every queued request is answered.
  std::vector<caf::typed_response_promise<bool>> drain_waiters;
};

/// Answers a graceful stop once nothing is queued and no writer commits.
void answer_drain_if_idle(persistence_state& st) {
  if (st.drain_waiters.empty() || !st.queue.empty() || st.idle_writers.size() < st.writers.size())
    return;
  for (auto& waiter : st.drain_waiters)
    waiter.deliver(true);
  st.drain_waiters.clear();
}

using persistence_self = caf::stateful_actor<persistence_state>;

/// The next group from the queue: requests in arrival order until the group
/// holds max_batch events or max_batch_bytes of payload.
std::vector<queued_ingest> next_group(persistence_state& st) {
  auto payload_bytes = [](const queued_ingest& r) {
    std::size_t n = 0;
    for (const auto& ev : r.events)
      n += ev.payload_json.size();
    return n;
  };
  std::vector<queued_ingest> group;
  std::size_t events = 0;
  std::size_t bytes = 0;
  while (!st.queue.empty()) {
    const auto& next = st.queue.front();
    auto next_bytes = payload_bytes(next);
    if (!group.empty() &&
        (events + next.events.size() > st.options.max_batch || bytes + next_bytes > st.options.max_batch_bytes))
      break;
    events += next.events.size();
    bytes += next_bytes;
    st.queued_events -= next.events.size();
    st.options.metrics->ingest_queue.queued_events.store(static_cast<std::int64_t>(st.queued_events),
                                                          std::memory_order_relaxed);
    group.push_back(std::move(st.queue.front()));
    st.queue.pop_front();
  }
  return group;
}

/// Answers a group the writer committed (or failed: `results` is then
/// empty and `failure` says why), and takes the writer back.
void finish_group(persistence_self* self, const caf::actor& writer, std::vector<queued_ingest>& group,
                  ingest_results results, const std::optional<api_error>& failure) {
  for (std::size_t i = 0; i < group.size(); ++i) {
    if (i < results.size())
      group[i].settle(std::move(results[i]));
    else if (failure)
      group[i].settle(unexpected{*failure});
    else // a bug, not an input: answer rather than leave a client hanging
      group[i].settle(unexpected{api_error{500, "internal_error", "no answer for this request"}});
  }
  auto& writers = self->state.writers;
  if (std::find(writers.begin(), writers.end(), writer) != writers.end()) // not replaced after a crash
    self->state.idle_writers.push_back(writer);
  // Requests already in the mailbox join the queue before the next group is
  // cut: the flush message queues behind them, so groups stay large.
  schedule_flush(self);
  answer_drain_if_idle(self->state);
}

/// Hands queued requests to idle writers, one group each.
void assign(persistence_self* self) {
  auto& st = self->state;
  while (!st.queue.empty() && !st.idle_writers.empty()) {
    bool one_busy = st.idle_writers.size() < st.writers.size();
    auto waited = std::chrono::steady_clock::now() - st.queued_since;
    if (one_busy && st.queued_events < st.options.parallel_group_events && waited < st.options.writer_patience) {
      // Wait for the busy writer: the group grows meanwhile. Unless it takes
      // too long: then the idle writer takes the queue.
      if (!st.patience_timer) {
        st.patience_timer = true;
        self->delayed_send(self, st.options.writer_patience, flush_atom::value);
      }
      return;
    }
    auto writer = std::move(st.idle_writers.back());
    st.idle_writers.pop_back();
    auto group = std::make_shared<std::vector<queued_ingest>>(next_group(st));
    std::vector<event_batch> batches;
    batches.reserve(group->size());
    for (auto& request : *group)
      batches.push_back(std::move(request.events));
    self->request(writer, caf::infinite, commit_atom::value, std::move(batches))
      .then(
        [self, writer, group](ingest_results& results) {
          finish_group(self, writer, *group, std::move(results), std::nullopt);
        },
        [self, writer, group](caf::error& err) {
          finish_group(self, writer, *group, {}, to_api_error(err));
        });
  }
}

caf::behavior persistence_behavior(persistence_self* self, persistence_options options) {
  auto& st = self->state;
  st.options = std::move(options);
  st.self_metrics = &st.options.metrics->actor("persistence");
  for (std::size_t i = 0; i < std::max<std::size_t>(1, st.options.ingest_writers); ++i)
    st.writers.push_back(spawn_ingest_writer(self, st.options, "ingest_writer." + std::to_string(i + 1)));
  st.idle_writers = st.writers;
  // A writer that dies (a bug, not an input) is replaced; its group was
  // already answered with an error by CAF (the request's receiver is down).
  // Any other exit (the engine stopping) ends this actor and, by the links,
  // its writers.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    auto& st = self->state;
    auto dead = std::find_if(st.writers.begin(), st.writers.end(),
                             [&](const caf::actor& w) { return w.address() == msg.source; });
    if (dead == st.writers.end() || msg.reason == caf::exit_reason::user_shutdown) {
      self->quit(msg.reason);
      return;
    }
    log::error("an ingest writer stopped (" + to_string(msg.reason) + "); starting another");
    auto name = "ingest_writer." + std::to_string(dead - st.writers.begin() + 1);
    st.idle_writers.erase(std::remove(st.idle_writers.begin(), st.idle_writers.end(), *dead), st.idle_writers.end());
    *dead = spawn_ingest_writer(self, st.options, name);
    if (st.dispatcher)
      self->send(*dead, dispatch_to_atom::value, st.dispatcher);
    st.idle_writers.push_back(*dead);
    schedule_flush(self);
    answer_drain_if_idle(st);
  });
  self->send(self, tick_atom::value);
  return {
    [=](ingest_atom, std::vector<event_batch>& batches) -> caf::result<ingest_results> {
      auto& st = self->state;
      st.self_metrics->messages.fetch_add(1, std::memory_order_relaxed);
      if (batches.empty())
        return ingest_results{};
      if (st.queue.empty())
        st.queued_since = std::chrono::steady_clock::now();
      // A bounded queue: beyond max_queued_events a request is answered
      // 503 at once (the client retries after Retry-After) instead of
      // waiting behind a backlog the database cannot take. An empty queue
      // always takes a request, however large.
      auto& gauge = st.options.metrics->ingest_queue;
      std::vector<bool> refused(batches.size(), false);
      std::size_t accepted = 0;
      for (std::size_t i = 0; i < batches.size(); ++i) {
        if (st.queued_events > 0 && st.queued_events + batches[i].size() > st.options.max_queued_events) {
          refused[i] = true;
          gauge.refused_requests.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        st.queued_events += batches[i].size();
        ++accepted;
      }
      auto overloaded = [&] {
        return api_error{503, "overloaded", std::to_string(st.queued_events) +
                                              " events are waiting for the database; retry shortly"};
      };
      if (accepted == 0) {
        ingest_results all;
        for (std::size_t i = 0; i < batches.size(); ++i)
          all.push_back(unexpected{overloaded()});
        return all;
      }
      auto answer = std::make_shared<ingest_answer>();
      answer->promise = self->make_response_promise<ingest_results>();
      answer->slots.resize(batches.size());
      answer->unsettled = batches.size();
      for (std::size_t i = 0; i < batches.size(); ++i) {
        if (refused[i]) {
          answer->slots[i].emplace(unexpected{overloaded()});
          --answer->unsettled; // never the last: at least one request was accepted
          continue;
        }
        st.queue.push_back({std::move(batches[i]), answer, i});
      }
      gauge.queued_events.store(static_cast<std::int64_t>(st.queued_events), std::memory_order_relaxed);
      schedule_flush(self);
      return answer->promise;
    },
    [=](flush_atom) {
      // The same message serves the mailbox-order flush and the patience
      // timer; clearing both flags at worst schedules one spare flush.
      self->state.flush_scheduled = false;
      self->state.patience_timer = false;
      assign(self);
    },
    [=](drain_atom) -> caf::result<bool> {
      auto& st = self->state;
      auto promise = self->make_response_promise<bool>();
      st.drain_waiters.push_back(promise);
      answer_drain_if_idle(st);
      return promise;
    },
    [=](dispatch_to_atom, const caf::actor& dispatcher) {
      self->state.dispatcher = dispatcher;
      for (const auto& writer : self->state.writers)
        self->send(writer, dispatch_to_atom::value, dispatcher);
    },
    [=](tick_atom) { sample_mailbox(self, self->state.self_metrics->mailbox_size); },
  };
}

} // namespace

caf::actor spawn_persistence_actor(caf::actor_system& sys, persistence_options options) {
  return sys.spawn(persistence_behavior, std::move(options));
}

} // namespace txrelay
