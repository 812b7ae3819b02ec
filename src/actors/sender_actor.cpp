#include "actors/sender_actor.hpp"

#include "core/circuit_breaker.hpp"
#include "core/ids.hpp"
#include "logging/log.hpp"
#include "routing/compensation.hpp"

#include <algorithm>
#include <deque>
#include <optional>
#include <set>
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
  std::optional<circuit_breaker> breaker;               // stops sending to a sink that keeps failing
  bool wake_scheduled = false;                          // a pump is due when the budget or breaker allows
  bool paused = false;                                  // by an operator, until resumed
  std::string broken;                                   // why the sink is gone for good; empty: it is not
  std::unordered_map<std::string, delivery_job> window; // every delivery this sender holds
  std::deque<std::string> ready;                        // due now, in order
  std::unordered_set<std::string> flying;               // handed to the transport, no result yet
  std::string attempting; // the delivery being handed to the transport (crash attribution)

  // ordering: per_key. Each key's held deliveries in id (= commit) order;
  // only the active one (the oldest) is ever scheduled, so a failing delivery
  // holds back its own key and no other.
  std::unordered_map<std::string, std::set<std::string>> by_key;
  std::unordered_map<std::string, std::string> active_for_key;
  delivery_jobs dispatched_during_sweep; // per_key: merged in order when the sweep ends

  // Sweeping pages pending deliveries in from PostgreSQL by id: at start
  // (recovery) and whenever pushes were dropped because the window was full.
  bool sweep_needed = true;
  bool sweeping = false;
  bool overflow_during_sweep = false;
  std::string sweep_cursor;
  bool restart_after_pass = false; // a row behind the cursor needs a pass from the start
  // The lowest id this pass left to the database (dropped from a full window,
  // or set aside during a page that came back full). Ingest writers commit
  // side by side, so such a row can commit after rows with higher ids: once a
  // page moves the cursor past it, only a pass from the start finds it.
  std::string lowest_left_behind;
  std::unordered_set<std::string> finished_during_sweep;

  delivery_outcomes unsent_outcomes;
  bool outcome_flush_scheduled = false;

  // The deliveries finished last, oldest first. A sweep (at the ledger) can
  // see rows an ingest writer just committed before that writer's dispatch
  // of them arrives here; once finished, such a dispatch must not send them
  // again. Bounded: a dispatch trails its commit by far less than this many
  // completions.
  std::unordered_set<std::string> recently_finished;
  std::deque<std::string> finished_order;
};

using sender_actor = caf::stateful_actor<sender_state>;
using pump_atom = caf::atom_constant<caf::atom("pump")>;

using outcome_flush_atom = caf::atom_constant<caf::atom("outflush")>;

bool per_key(const sender_state& st) { return st.options.sink.ordering == delivery_ordering::per_key; }

void update_gauges(sender_actor* self) {
  auto& st = self->state;
  auto rel = std::memory_order_relaxed;
  st.metrics->in_flight.store(static_cast<std::int64_t>(st.flying.size()), rel);
  st.metrics->in_memory.store(static_cast<std::int64_t>(st.window.size()), rel);
  st.metrics->paused.store(st.paused ? 1 : 0, rel);
  st.metrics->broken.store(st.broken.empty() ? 0 : 1, rel);
  st.metrics->circuit.store(static_cast<std::int64_t>(st.breaker->state()), rel);
  st.metrics->circuit_opened.store(st.breaker->times_opened(), rel);
  auto until = st.budget->paused_until();
  st.metrics->wait_until_ms.store(std::chrono::duration_cast<millis>(until.time_since_epoch()).count(), rel);
}

/// One pump is scheduled at a time, for when the budget or breaker next allows.
void wake_in(sender_actor* self, millis delay) {
  auto& st = self->state;
  if (st.wake_scheduled)
    return;
  st.wake_scheduled = true;
  self->delayed_send(self, std::max(delay, millis{1}), pump_atom::value);
}

void send_outcomes(sender_actor* self) {
  auto& st = self->state;
  st.outcome_flush_scheduled = false;
  if (st.unsent_outcomes.empty())
    return;
  self->send(st.options.ledger, outcome_atom::value, std::move(st.unsent_outcomes));
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

/// Per key: makes the oldest held delivery of `key` the active one, if none is.
void activate_next(sender_actor* self, const std::string& key) {
  auto& st = self->state;
  auto q = st.by_key.find(key);
  if (q == st.by_key.end() || q->second.empty()) {
    st.by_key.erase(key);
    st.active_for_key.erase(key);
    return;
  }
  auto& active = st.active_for_key[key];
  if (!active.empty())
    return;
  active = *q->second.begin();
  schedule(self, st.window.at(active));
}

// By value: callers pass the id of the window entry this erases.
void forget(sender_actor* self, std::string id) {
  auto& st = self->state;
  auto it = st.window.find(id);
  if (it == st.window.end())
    return;
  std::optional<std::string> key;
  if (per_key(st) && it->second.key)
    key = *it->second.key;
  st.window.erase(it);
  if (st.sweeping)
    st.finished_during_sweep.insert(id);
  if (st.recently_finished.insert(id).second) {
    st.finished_order.push_back(id);
    if (st.finished_order.size() > 2 * st.options.window + 64) {
      st.recently_finished.erase(st.finished_order.front());
      st.finished_order.pop_front();
    }
  }
  if (key) {
    st.by_key[*key].erase(id);
    auto active = st.active_for_key.find(*key);
    if (active != st.active_for_key.end() && active->second == id)
      active->second.clear();
    activate_next(self, *key);
  }
}

void note_error(sender_actor* self, const std::string& error) {
  if (!error.empty())
    self->state.metrics->set_last_error(error);
}

/// Gives up on a delivery without another attempt.
delivery_outcome dead_letter(sender_actor* self, const delivery_job& job, std::string why, int http_status = 0) {
  auto& st = self->state;
  st.metrics->dead.fetch_add(1, std::memory_order_relaxed);
  log::warn("sink " + job.sink + ": delivery " + job.id + " is dead after " + std::to_string(job.attempts) +
            " attempt(s): " + why);
  delivery_outcome out{job.id, job.event_id, job.sink, delivery_status::dead, job.attempts, {}, http_status, why, {}};
  if (const auto& on_dead = st.options.sink.on_dead)
    out.compensation = render_compensation(on_dead->topic, on_dead->key, on_dead->payload, job, why);
  return out;
}

/// Where retry.max_age counts from: the creation time (delivery ids are
/// UUIDv7 made at ingest, so the id carries it), or a later replay.
time_point age_origin(const delivery_job& job) {
  auto created = uuid_v7_time(job.id).value_or(time_point{});
  return job.replayed_at ? std::max(created, *job.replayed_at) : created;
}

/// Records a failed attempt: schedules the next one, or gives up.
delivery_outcome fail_attempt(sender_actor* self, delivery_job& job, const attempt_result& r) {
  auto& st = self->state;
  const auto& policy = st.options.sink.retry;
  st.metrics->failed_attempts.fetch_add(1, std::memory_order_relaxed);
  note_error(self, r.error);
  if (r.outcome == attempt_result::verdict::permanent || attempts_exhausted(policy, job.attempts)) {
    auto out = dead_letter(self, job, r.error, r.http_status);
    forget(self, job.id);
    return out;
  }
  auto now = st.options.clock->now();
  auto delay = backoff_delay(policy, job.attempts, st.rng, r.retry_after);
  if (past_max_age(policy, age_origin(job), now + delay)) {
    auto out = dead_letter(self, job, r.error + " (no further attempt: older than retry.max_age)", r.http_status);
    forget(self, job.id);
    return out;
  }
  delivery_outcome out{job.id, job.event_id, job.sink, delivery_status::pending, job.attempts, {}, r.http_status,
                       r.error, {}};
  job.next_attempt_at = now + delay;
  out.next_attempt_at = job.next_attempt_at;
  self->delayed_send(self, delay, retry_atom::value, job.id);
  return out;
}

void maybe_sweep(sender_actor* self);

/// Once the pass's cursor is at or past a row it left to the database, only
/// a pass from the start finds that row.
void restart_if_cursor_passed(sender_state& st) {
  if (!st.lowest_left_behind.empty() && !st.sweep_cursor.empty() && st.lowest_left_behind <= st.sweep_cursor)
    st.restart_after_pass = true;
}

void leave_behind(sender_state& st, const std::string& id) {
  if (st.lowest_left_behind.empty() || id < st.lowest_left_behind)
    st.lowest_left_behind = id;
  restart_if_cursor_passed(st);
}

void pump(sender_actor* self) {
  auto& st = self->state;
  const auto max_in_flight = static_cast<std::size_t>(st.options.sink.max_in_flight);
  while (!st.ready.empty() && (!st.broken.empty() || st.flying.size() < max_in_flight)) {
    auto now = st.options.clock->now();
    if (st.broken.empty()) {
      if (st.paused)
        break; // resume pumps again
      if (!st.breaker->permits(now)) {
        // Open: one wake-up for the probe. Half-open: the probe's result pumps.
        if (st.breaker->state() == circuit_state::open)
          wake_in(self, st.breaker->wait(now));
        break;
      }
      if (!st.budget->try_take(now)) {
        // Out of budget, or the sink said to wait: nothing goes to this sink
        // until then; one wake-up resumes the pump.
        wake_in(self, st.budget->wait(now));
        break;
      }
    }
    auto id = std::move(st.ready.front());
    st.ready.pop_front();
    auto it = st.window.find(id);
    if (it == st.window.end() || st.flying.count(id) != 0)
      continue;
    auto& job = it->second;
    if (!st.broken.empty()) {
      // The sink said it is gone; attempting would only be refused again.
      queue_outcome(self, dead_letter(self, job, "not attempted: the sink is broken (" + st.broken + ")"));
      forget(self, id);
      continue;
    }
    if (past_max_age(st.options.sink.retry, age_origin(job), now)) {
      // Held back (an open circuit, a pause) until it is too late to matter.
      queue_outcome(self, dead_letter(self, job, "not attempted again: older than retry.max_age"));
      forget(self, id);
      continue;
    }
    if (job.committed_at) {
      st.metrics->commit_to_attempt.observe(std::chrono::duration<double>(now - *job.committed_at).count());
      job.committed_at.reset(); // the first attempt only
    }
    st.breaker->on_request(now);
    st.flying.insert(id);
    st.attempting = id;
    // A weak handle: an attempt still under way must not keep a stopped
    // sender alive; its late result is simply dropped (the row stays pending).
    auto weak = caf::actor_cast<caf::weak_actor_ptr>(self);
    st.options.transport->attempt(job, [weak = std::move(weak), id](attempt_result r) {
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
  auto [it, _] = st.window.emplace(id, std::move(job));
  if (per_key(st) && it->second.key) {
    const auto& key = *it->second.key;
    st.by_key[key].insert(id);
    activate_next(self, key);
    return;
  }
  schedule(self, it->second);
}

/// Dead-letters what the sender holds once the sink is broken, except what
/// is in flight (its result decides).
void dead_letter_all(sender_actor* self) {
  auto& st = self->state;
  std::vector<std::string> ids;
  for (const auto& [id, _] : st.window)
    if (st.flying.count(id) == 0)
      ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (const auto& id : ids)
    st.ready.push_back(id); // pump dead-letters, keeping per-key order
}

void maybe_sweep(sender_actor* self) {
  auto& st = self->state;
  if (st.sweeping || !st.sweep_needed)
    return;
  auto capacity = st.options.window;
  if (st.window.size() > capacity / 2)
    return; // wait until half the window drained: pages stay large
  auto room = static_cast<int>(capacity - st.window.size());
  // Outcomes this sender reported must reach the ledger before
  // the query, so finished deliveries are not loaded again.
  send_outcomes(self);
  st.sweeping = true;
  st.overflow_during_sweep = false;
  st.finished_during_sweep.clear();
  self->request(st.options.ledger, caf::infinite, load_pending_atom::value, st.options.sink.name,
                st.sweep_cursor, room)
    .then(
      [self, room](delivery_jobs& jobs) {
        auto& st = self->state;
        st.sweeping = false;
        bool page_was_full = static_cast<int>(jobs.size()) >= room;
        if (!jobs.empty())
          st.sweep_cursor = jobs.back().id;
        restart_if_cursor_passed(st);
        for (auto& job : jobs)
          if (st.finished_during_sweep.count(job.id) == 0)
            add_job(self, std::move(job));
        if (!page_was_full) {
          // Everything committed before the query is now held; what was
          // dispatched meanwhile committed later, so it goes after, in order.
          for (auto& job : st.dispatched_during_sweep)
            if (st.finished_during_sweep.count(job.id) == 0)
              add_job(self, std::move(job));
          st.sweep_cursor.clear();
          st.sweep_needed = st.overflow_during_sweep || st.restart_after_pass;
          st.restart_after_pass = false;
          st.lowest_left_behind.clear(); // a new pass, if any, starts from the beginning
        } else {
          // The next page brings what was set aside, in order, unless the
          // cursor already passed it.
          for (const auto& job : st.dispatched_during_sweep)
            leave_behind(st, job.id);
          st.sweep_needed = true;
        }
        st.dispatched_during_sweep.clear();
        st.finished_during_sweep.clear();
        pump(self);
      },
      [self](caf::error& err) {
        auto& st = self->state;
        st.sweeping = false;
        for (const auto& job : st.dispatched_during_sweep)
          leave_behind(st, job.id); // the retried sweep loads them, unless behind its cursor
        st.dispatched_during_sweep.clear();
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
  st.breaker.emplace(st.options.sink.circuit);
  st.paused = st.options.start_paused;
  st.metrics = &st.options.metrics->sink(st.options.sink.name);
  st.self_metrics = &st.options.metrics->actor("sender:" + st.options.sink.name);
  // A throwing transport is a bug in txrelay, not in the sink. The delivery
  // being attempted counts a failed attempt with the crash as its error and
  // its normal backoff (dead only once its attempts run out, like any other
  // failure), so a bug that is fixed loses nothing. Then the actor dies and
  // its supervisor starts a fresh one, which sweeps everything back in. A
  // sender that keeps crashing hits the supervisor's restart intensity: the
  // sink is marked failed and its deliveries wait, pending, for an operator.
  self->set_exception_handler([](caf::scheduled_actor* base, std::exception_ptr& eptr) -> caf::error {
    auto* self = static_cast<sender_actor*>(base);
    auto& st = self->state;
    auto what = describe(eptr);
    log::error("sender for sink " + st.options.sink.name + " crashed" +
               (st.attempting.empty() ? std::string{} : " on delivery " + st.attempting) + ": " + what);
    if (auto it = st.window.find(st.attempting); it != st.window.end()) {
      auto& job = it->second;
      job.attempts += 1;
      auto error = "sender crashed: " + what;
      st.metrics->failed_attempts.fetch_add(1, std::memory_order_relaxed);
      note_error(self, error);
      const auto& policy = st.options.sink.retry;
      auto now = st.options.clock->now();
      auto delay = backoff_delay(policy, job.attempts, st.rng);
      if (attempts_exhausted(policy, job.attempts) || past_max_age(policy, age_origin(job), now + delay))
        st.unsent_outcomes.push_back(dead_letter(self, job, std::move(error)));
      else
        st.unsent_outcomes.push_back({job.id, job.event_id, job.sink, delivery_status::pending, job.attempts,
                                      now + delay, 0, std::move(error), {}});
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
        if (st.recently_finished.count(job.id) != 0)
          continue; // a sweep found it first, and it is done
        auto held = st.window.size() + st.dispatched_during_sweep.size();
        if (held < st.options.window && per_key(st) && st.sweeping) {
          // Per-key order: rows the sweep is loading may be older than this one.
          st.dispatched_during_sweep.push_back(std::move(job));
          continue;
        }
        if (held >= st.options.window || (per_key(st) && st.sweep_needed)) {
          // Dropped from memory only: the row is pending in PostgreSQL and a
          // sweep pages it in once the window drains. Per key, nothing newer
          // may be held while an older row waits in the database.
          st.sweep_needed = true;
          if (st.sweeping)
            st.overflow_during_sweep = true;
          // Behind the cursor of a pass in progress (a replayed row keeps its
          // old id; another writer's group committed late): the pass will not
          // reach it, so the next one starts over.
          leave_behind(st, job.id);
          continue;
        }
        add_job(self, std::move(job));
      }
      pump(self);
    },
    [=](attempted_atom, const std::string& id, attempt_result& r) {
      auto& st = self->state;
      st.self_metrics->messages.fetch_add(1, std::memory_order_relaxed);
      st.flying.erase(id);
      auto now = st.options.clock->now();
      // A wait the sink asked for (429 retry_after, Retry-After, an exhausted
      // X-RateLimit-Remaining) holds back every request to it, not just this
      // delivery's next attempt.
      if (r.retry_after)
        st.budget->pause_until(now + *r.retry_after);
      // The breaker counts what says whether the sink is up: an answer that
      // is not a server error. A 429 is the sink working as designed.
      bool sink_down = r.outcome == attempt_result::verdict::retry && r.http_status != 429 &&
                       (r.http_status == 0 || r.http_status >= 500);
      if (sink_down) {
        auto before = st.breaker->state();
        st.breaker->on_failure(now);
        if (before != circuit_state::open && st.breaker->state() == circuit_state::open)
          log::warn("sink " + st.options.sink.name + ": circuit open after " +
                    std::to_string(st.breaker->consecutive_failures()) + " consecutive failures (" + r.error +
                    "); probing every " + std::to_string(st.options.sink.circuit.probe_interval.count()) + " ms");
      } else if (r.http_status != 429) {
        if (st.breaker->state() != circuit_state::closed)
          log::info("sink " + st.options.sink.name + ": circuit closed, the sink answers again");
        st.breaker->on_success();
      }
      if (r.sink_broken && st.broken.empty()) {
        st.broken = r.error.empty() ? std::string{"the sink is gone"} : r.error;
        log::error("sink " + st.options.sink.name + " is broken: " + st.broken +
                   "; its deliveries are dead-lettered until an operator resumes it");
        dead_letter_all(self);
      }
      auto it = st.window.find(id);
      if (it == st.window.end()) {
        pump(self);
        return;
      }
      auto& job = it->second;
      job.attempts += 1;
      switch (r.outcome) {
        case attempt_result::verdict::delivered: {
          st.metrics->delivered.fetch_add(1, std::memory_order_relaxed);
          queue_outcome(self, {job.id, job.event_id, job.sink, delivery_status::delivered, job.attempts, {}, r.http_status,
                              {}, {}});
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
    [=](pause_atom) {
      auto& st = self->state;
      st.paused = true;
      log::info("sink " + st.options.sink.name + ": paused by an operator; deliveries stay pending");
      update_gauges(self);
    },
    [=](resume_atom) {
      // An operator says the sink is fixed: every hold is lifted at once.
      auto& st = self->state;
      st.paused = false;
      st.broken.clear();
      st.breaker.emplace(st.options.sink.circuit);
      log::info("sink " + st.options.sink.name + ": resumed by an operator");
      pump(self);
    },
    [=](sweep_atom) {
      // From itself (a failed sweep, retried) or the supervisor (rows may be
      // pending that this sender does not hold).
      auto& st = self->state;
      st.sweep_needed = true;
      if (st.sweeping)
        st.overflow_during_sweep = true;
      // Rows may be behind the cursor of a pass that is paging: start over after it.
      if (!st.sweep_cursor.empty())
        st.restart_after_pass = true;
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
