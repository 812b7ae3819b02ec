#include "actors/sender_actor.hpp"

#include "logging/log.hpp"

#include <algorithm>
#include <deque>
#include <optional>
#include <unordered_map>
#include <unordered_set>

namespace txrelay {

namespace {

struct sender_state {
  static inline const char* name = "sender";

  sender_options options;
  jitter_source rng;
  sink_metrics* metrics = nullptr;
  actor_metrics* self_metrics = nullptr;

  std::optional<token_bucket> budget;                  // the sink's rate limit and pauses
  bool wake_scheduled = false;                          // a pump is due when the budget allows
  std::unordered_map<std::string, delivery_job> window; // every delivery this sender holds
  std::deque<std::string> ready;                        // due now, in order
  std::size_t in_flight = 0;
  std::string attempting; // the delivery being handed to the transport (crash attribution)

  // Sweeping pages pending deliveries in from PostgreSQL by id: at start
  // (recovery) and whenever pushes were dropped because the window was full.
  bool sweep_needed = true;
  bool sweeping = false;
  bool overflow_during_sweep = false;
  std::string sweep_cursor;
  std::unordered_set<std::string> finished_during_sweep;

  delivery_outcomes unsent_outcomes;
  bool outcome_flush_scheduled = false;
};

using sender_actor = caf::stateful_actor<sender_state>;
using pump_atom = caf::atom_constant<caf::atom("pump")>;

using outcome_flush_atom = caf::atom_constant<caf::atom("outflush")>;

void update_gauges(sender_actor* self) {
  auto& st = self->state;
  st.metrics->in_flight.store(static_cast<std::int64_t>(st.in_flight), std::memory_order_relaxed);
  st.metrics->in_memory.store(static_cast<std::int64_t>(st.window.size()), std::memory_order_relaxed);
}

void send_outcomes(sender_actor* self) {
  auto& st = self->state;
  st.outcome_flush_scheduled = false;
  if (st.unsent_outcomes.empty())
    return;
  self->send(st.options.persistence, outcome_atom::value, std::move(st.unsent_outcomes));
  st.unsent_outcomes.clear();
}

/// Outcomes of one burst of completions travel in one message: the flush
/// message queues behind the completions already in the mailbox.
void queue_outcome(sender_actor* self, delivery_outcome outcome) {
  auto& st = self->state;
  st.unsent_outcomes.push_back(std::move(outcome));
  if (!st.outcome_flush_scheduled) {
    st.outcome_flush_scheduled = true;
    self->send(self, outcome_flush_atom::value);
  }
}

void schedule(sender_actor* self, const delivery_job& job) {
  auto& st = self->state;
  auto now = st.options.clock->now();
  if (job.next_attempt_at <= now) {
    st.ready.push_back(job.id);
  } else {
    auto wait = std::chrono::duration_cast<millis>(job.next_attempt_at - now) + millis{1};
    self->delayed_send(self, wait, retry_atom::value, job.id);
  }
}

void forget(sender_actor* self, const std::string& id) {
  auto& st = self->state;
  st.window.erase(id);
  if (st.sweeping)
    st.finished_during_sweep.insert(id);
}

/// Records a failed attempt: schedules the next one, or gives up.
delivery_outcome fail_attempt(sender_actor* self, delivery_job& job, const attempt_result& r) {
  auto& st = self->state;
  const auto& policy = st.options.sink.retry;
  delivery_outcome out{job.id, job.event_id, job.sink, delivery_status::pending, job.attempts, {}, r.http_status,
                       r.error};
  st.metrics->failed_attempts.fetch_add(1, std::memory_order_relaxed);
  if (r.outcome == attempt_result::verdict::permanent || attempts_exhausted(policy, job.attempts)) {
    out.status = delivery_status::dead;
    st.metrics->dead.fetch_add(1, std::memory_order_relaxed);
    log::warn("sink " + job.sink + ": delivery " + job.id + " is dead after " + std::to_string(job.attempts) +
              " attempt(s): " + r.error);
    forget(self, job.id);
    return out;
  }
  auto delay = backoff_delay(policy, job.attempts, st.rng, r.retry_after);
  job.next_attempt_at = st.options.clock->now() + delay;
  out.next_attempt_at = job.next_attempt_at;
  self->delayed_send(self, delay, retry_atom::value, job.id);
  return out;
}

void maybe_sweep(sender_actor* self);

void pump(sender_actor* self) {
  auto& st = self->state;
  while (st.in_flight < static_cast<std::size_t>(st.options.sink.max_in_flight) && !st.ready.empty()) {
    auto now = st.options.clock->now();
    if (!st.budget->try_take(now)) {
      // Out of budget, or the sink said to wait: nothing goes to this sink
      // until then; one wake-up resumes the pump.
      if (!st.wake_scheduled) {
        st.wake_scheduled = true;
        self->delayed_send(self, std::max(st.budget->wait(now), millis{1}), pump_atom::value);
      }
      break;
    }
    auto id = std::move(st.ready.front());
    st.ready.pop_front();
    auto it = st.window.find(id);
    if (it == st.window.end())
      continue;
    ++st.in_flight;
    st.attempting = id;
    // A weak handle: an attempt still under way must not keep a stopped
    // sender alive; its late result is simply dropped (the row stays pending).
    auto weak = caf::actor_cast<caf::weak_actor_ptr>(self);
    st.options.transport->attempt(it->second, [weak = std::move(weak), id](attempt_result r) {
      if (auto strong = weak.lock())
        caf::anon_send(caf::actor_cast<caf::actor>(strong), attempted_atom::value, id, std::move(r));
    });
    st.attempting.clear();
  }
  update_gauges(self);
  maybe_sweep(self);
}

void add_job(sender_actor* self, delivery_job job) {
  auto& st = self->state;
  if (st.window.count(job.id) != 0)
    return;
  auto id = job.id;
  auto [it, _] = st.window.emplace(std::move(id), std::move(job));
  schedule(self, it->second);
}

void maybe_sweep(sender_actor* self) {
  auto& st = self->state;
  if (st.sweeping || !st.sweep_needed)
    return;
  auto capacity = st.options.window;
  if (st.window.size() > capacity / 2)
    return; // wait until half the window drained: pages stay large
  auto room = static_cast<int>(capacity - st.window.size());
  // Outcomes this sender reported must reach the persistence actor before
  // the query, so finished deliveries are not loaded again.
  send_outcomes(self);
  st.sweeping = true;
  st.overflow_during_sweep = false;
  st.finished_during_sweep.clear();
  self->request(st.options.persistence, caf::infinite, load_pending_atom::value, st.options.sink.name,
                st.sweep_cursor, room)
    .then(
      [self, room](delivery_jobs& jobs) {
        auto& st = self->state;
        st.sweeping = false;
        bool page_was_full = static_cast<int>(jobs.size()) >= room;
        if (!jobs.empty())
          st.sweep_cursor = jobs.back().id;
        for (auto& job : jobs)
          if (st.finished_during_sweep.count(job.id) == 0)
            add_job(self, std::move(job));
        st.finished_during_sweep.clear();
        if (!page_was_full) {
          st.sweep_cursor.clear();
          st.sweep_needed = st.overflow_during_sweep;
        }
        pump(self);
      },
      [self](caf::error& err) {
        auto& st = self->state;
        st.sweeping = false;
        log::error("sink " + st.options.sink.name + ": cannot load pending deliveries (" +
                   to_api_error(err).message + "); trying again in 1 s");
        self->delayed_send(self, std::chrono::seconds{1}, sweep_atom::value);
      });
}

std::string describe(const std::exception_ptr& eptr) {
  try {
    std::rethrow_exception(eptr);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

caf::behavior sender_behavior(sender_actor* self, sender_options options) {
  auto& st = self->state;
  st.options = std::move(options);
  st.rng.seed(st.options.seed);
  st.budget.emplace(st.options.sink.rate, st.options.clock->now());
  st.metrics = &st.options.metrics->sink(st.options.sink.name);
  st.self_metrics = &st.options.metrics->actor("sender:" + st.options.sink.name);
  // A throwing transport is a bug in txrelay, not in the sink, and retrying
  // the same input would only crash again: the delivery being attempted is
  // dead-lettered at once (a poison pill), visible with the crash as its
  // error. Then the actor dies and its supervisor starts a fresh one, which
  // sweeps everything else back in. A sender that keeps crashing anyway hits
  // the supervisor's restart intensity.
  self->set_exception_handler([](caf::scheduled_actor* base, std::exception_ptr& eptr) -> caf::error {
    auto* self = static_cast<sender_actor*>(base);
    auto& st = self->state;
    auto what = describe(eptr);
    log::error("sender for sink " + st.options.sink.name + " crashed" +
               (st.attempting.empty() ? std::string{} : " on delivery " + st.attempting) + ": " + what);
    if (auto it = st.window.find(st.attempting); it != st.window.end()) {
      auto& job = it->second;
      job.attempts += 1;
      st.metrics->failed_attempts.fetch_add(1, std::memory_order_relaxed);
      st.metrics->dead.fetch_add(1, std::memory_order_relaxed);
      st.unsent_outcomes.push_back({job.id, job.event_id, job.sink, delivery_status::dead, job.attempts, {}, 0,
                                    "sender crashed: " + what});
    }
    send_outcomes(self);
    return caf::exit_reason::unhandled_exception;
  });
  self->send(self, tick_atom::value);
  self->send(self, sweep_atom::value);
  return {
    [=](dispatch_atom, delivery_jobs& jobs) {
      auto& st = self->state;
      st.self_metrics->messages.fetch_add(1, std::memory_order_relaxed);
      for (auto& job : jobs) {
        if (st.window.size() >= st.options.window) {
          // Dropped from memory only: the row is pending in PostgreSQL and a
          // sweep pages it in once the window drains.
          st.sweep_needed = true;
          if (st.sweeping)
            st.overflow_during_sweep = true;
          continue;
        }
        add_job(self, std::move(job));
      }
      pump(self);
    },
    [=](attempted_atom, const std::string& id, attempt_result& r) {
      auto& st = self->state;
      st.self_metrics->messages.fetch_add(1, std::memory_order_relaxed);
      if (st.in_flight > 0)
        --st.in_flight;
      auto it = st.window.find(id);
      if (it == st.window.end()) {
        pump(self);
        return;
      }
      auto& job = it->second;
      job.attempts += 1;
      // A wait the sink asked for (429 retry_after, Retry-After) holds back
      // every request to it, not just this delivery's next attempt.
      if (r.retry_after)
        st.budget->pause_until(st.options.clock->now() + *r.retry_after);
      switch (r.outcome) {
        case attempt_result::verdict::delivered: {
          st.metrics->delivered.fetch_add(1, std::memory_order_relaxed);
          queue_outcome(self, {job.id, job.event_id, job.sink, delivery_status::delivered, job.attempts, {}, r.http_status,
                              {}});
          forget(self, id);
          break;
        }
        case attempt_result::verdict::retry:
        case attempt_result::verdict::permanent:
          queue_outcome(self, fail_attempt(self, job, r));
          break;
      }
      pump(self);
    },
    [=](retry_atom, const std::string& id) {
      auto& st = self->state;
      if (st.window.count(id) != 0) {
        st.ready.push_back(id);
        pump(self);
      }
    },
    [=](pump_atom) {
      self->state.wake_scheduled = false;
      pump(self);
    },
    [=](sweep_atom) {
      // From itself (a failed sweep, retried) or the supervisor (rows may be
      // pending that this sender does not hold).
      auto& st = self->state;
      st.sweep_needed = true;
      if (st.sweeping)
        st.overflow_during_sweep = true;
      maybe_sweep(self);
    },
    [=](outcome_flush_atom) { send_outcomes(self); },
    [=](tick_atom) {
      auto& st = self->state;
      update_gauges(self);
      sample_mailbox(self, st.self_metrics->mailbox_size);
    },
  };
}

} // namespace

caf::actor spawn_monitored_sender(caf::event_based_actor* supervisor, sender_options options) {
  return supervisor->spawn<caf::monitored>(sender_behavior, std::move(options));
}

} // namespace txrelay
