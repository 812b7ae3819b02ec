#include "actors/sender_actor.hpp"

#include "core/delivery_scheduler.hpp"
#include "logging/log.hpp"
#include "routing/compensation.hpp"

#include <optional>

namespace txrelay {

namespace {

// The sender is a shell around its sink's delivery_scheduler (core): it
// turns messages into the scheduler's inputs and carries out the actions the
// scheduler decides (attempts, outcomes, page loads, the one timer). Every
// scheduling rule lives there, where it is tested without actors or time.
struct sender_state {
  static inline const char* name = "sender";

  sender_options options;
  std::optional<delivery_scheduler> scheduler;
  sink_metrics* metrics = nullptr;
  actor_metrics* self_metrics = nullptr;

  // The one timer: the time the pending wake message is for (none: no
  // message under way). A wake for an earlier time replaces it; a wake that
  // arrives for a time no longer wanted is harmless (timer() is idempotent).
  std::optional<time_point> wake_scheduled_for;
  std::optional<started_attempt> attempting; // being handed to the transport (crash attribution)

  delivery_outcomes unsent_outcomes;
  bool outcome_flush_scheduled = false;
  // A graceful stop waits for the attempts under way: answered once none is.
  std::vector<caf::typed_response_promise<bool>> drain_waiters;
  bool drain_recording = false; // the sink's quiet time is on its way to the ledger
  std::string recorded_broken;  // the broken state the ledger has (for the next sender)
};

using sender_pointer = sender_actor::stateful_pointer<sender_state>;

/// A page load that has not answered after this long fails, and the
/// scheduler retries it, instead of the sink waiting on it forever.
constexpr auto page_load_timeout = std::chrono::seconds{60};

scheduler_policy policy_for(const sender_options& o) {
  scheduler_policy p;
  p.sink = o.sink.name;
  p.retry = o.sink.retry;
  p.circuit = o.sink.circuit;
  p.rate = o.sink.rate;
  p.per_key_order = o.sink.ordering == delivery_ordering::per_key;
  p.max_in_flight = o.sink.max_in_flight;
  p.window = o.window;
  p.safety_sweep = o.sink.safety_sweep;
  // The transport answers every attempt within its own timeouts; this is the
  // backstop for one that never does.
  p.attempt_deadline = o.sink.connect_timeout + o.sink.request_timeout + millis{30'000};
  return p;
}

void update_gauges(sender_pointer self) {
  auto& st = self->state;
  const auto& s = *st.scheduler;
  auto rel = std::memory_order_relaxed;
  st.metrics->in_flight.store(static_cast<std::int64_t>(s.in_flight()), rel);
  st.metrics->in_memory.store(static_cast<std::int64_t>(s.held()), rel);
  st.metrics->paused.store(s.paused() ? 1 : 0, rel);
  st.metrics->broken.store(s.broken().empty() ? 0 : 1, rel);
  st.metrics->circuit.store(static_cast<std::int64_t>(s.breaker().state()), rel);
  st.metrics->circuit_opened.store(s.breaker().times_opened(), rel);
  auto until = s.rate_paused_until();
  st.metrics->wait_until_ms.store(std::chrono::duration_cast<millis>(until.time_since_epoch()).count(), rel);
}

void send_outcomes(sender_pointer self) {
  auto& st = self->state;
  st.outcome_flush_scheduled = false;
  if (st.unsent_outcomes.empty())
    return;
  caf::anon_send(st.options.ledger, outcome_atom::value, std::move(st.unsent_outcomes)); // a typed actor may not send() to an untyped one
  st.unsent_outcomes.clear();
}

/// Outcomes of one burst of completions travel in one message: the flush
/// message queues behind the completions already in the mailbox.
void queue_outcomes(sender_pointer self, scheduler_actions& actions) {
  auto& st = self->state;
  for (auto& outcome : actions.outcomes) {
    const auto& on_dead = st.options.sink.on_dead;
    if (outcome.status == delivery_status::dead && on_dead) {
      for (const auto& job : actions.dead_jobs)
        if (job.id == outcome.delivery_id)
          outcome.compensation = render_compensation(on_dead->topic, on_dead->key, on_dead->payload, job, outcome.error);
    }
    st.unsent_outcomes.push_back(std::move(outcome));
  }
  if (!st.unsent_outcomes.empty() && !st.outcome_flush_scheduled) {
    st.outcome_flush_scheduled = true;
    self->send(self, outcome_flush_atom::value);
  }
}

void log_notices(const std::vector<scheduler_notice>& notices) {
  for (const auto& n : notices) {
    switch (n.severity) {
      case scheduler_notice::level::info: log::info(n.text); break;
      case scheduler_notice::level::warn: log::warn(n.text); break;
      case scheduler_notice::level::error: log::error(n.text); break;
    }
  }
}

void count(sender_pointer self, const scheduler_actions& a) {
  auto& m = *self->state.metrics;
  auto rel = std::memory_order_relaxed;
  m.delivered.fetch_add(a.delivered, rel);
  m.failed_attempts.fetch_add(a.failed_attempts, rel);
  m.dead.fetch_add(a.dead, rel);
  m.sweep_unknown.fetch_add(a.unknown_found, rel);
  m.safety_sweeps.fetch_add(a.safety_passes, rel);
  for (double seconds : a.commit_to_attempt_seconds)
    m.commit_to_attempt.observe(seconds);
  for (double seconds : a.attempt_seconds)
    m.attempt_duration.observe(seconds);
  for (std::size_t i = 0; i < a.failures.size(); ++i)
    if (a.failures[i] != 0)
      m.failures[i].fetch_add(a.failures[i], rel);
  auto now_ms = std::chrono::duration_cast<millis>(self->state.options.clock->now().time_since_epoch()).count();
  if (a.delivered > 0)
    m.last_success_ms.store(now_ms, rel);
  if (!a.last_error.empty())
    m.set_last_error(a.last_error, now_ms);
}

void carry_out(sender_pointer self);

void load_page(sender_pointer self, const sweep_request& req) {
  auto& st = self->state;
  // Outcomes this sender reported must reach the ledger before the query,
  // so finished deliveries are not loaded again.
  send_outcomes(self);
  self->request(st.options.ledger, page_load_timeout, load_pending_atom::value, st.options.sink.name, req.after_id,
                req.limit)
    .then(
      [self](delivery_jobs& page) {
        self->state.scheduler->sweep_loaded(std::move(page), self->state.options.clock->now());
        carry_out(self);
      },
      [self](caf::error& err) {
        self->state.scheduler->sweep_failed(to_api_error(err).message, self->state.options.clock->now());
        carry_out(self);
      });
}

void start_attempt(sender_pointer self, const started_attempt& attempt) {
  auto& st = self->state;
  st.attempting = attempt;
  // A weak handle: an attempt still under way must not keep a stopped
  // sender alive; its late result is simply dropped (the row stays pending).
  auto weak = caf::actor_cast<caf::weak_actor_ptr>(self);
  st.options.transport->attempt(st.scheduler->job(attempt.id), [weak = std::move(weak), attempt](attempt_result r) {
    if (auto strong = weak.lock())
      caf::anon_send(caf::actor_cast<sender_actor>(strong), attempted_atom::value, attempt.id, attempt.number,
                     std::move(r));
  });
  st.attempting.reset();
}

/// A sink that said it is gone stays broken for whichever sender is next
/// (another node's, or this one's after a restart) until an operator resumes it.
void record_broken(sender_pointer self) {
  auto& st = self->state;
  const auto& broken = st.scheduler->broken();
  if (broken == st.recorded_broken)
    return;
  st.recorded_broken = broken;
  if (!broken.empty())
    caf::anon_send(st.options.ledger, sink_fault_atom::value,
                   sink_fault_updates{{.sink = st.options.sink.name, .broken = broken}});
}

/// No attempt is under way: the outcomes go to the ledger, and so does how
/// long the sink wants no request (its Retry-After, an open circuit) and
/// whether it is broken, so the next sender (another node's, after a
/// hand-over) keeps to it. The drain is
/// answered once that is stored, before the lease can be given up.
void finish_drain(sender_pointer self) {
  auto& st = self->state;
  send_outcomes(self); // before the answer: the ledger then has them before it is told to finish
  auto answer = [self] {
    for (auto& waiter : self->state.drain_waiters)
      waiter.deliver(true);
    self->state.drain_waiters.clear();
  };
  auto quiet = st.scheduler->quiet_for(st.options.clock->now());
  const auto& broken = st.scheduler->broken();
  if (quiet.count() == 0 && broken.empty())
    return answer();
  if (st.drain_recording)
    return;
  st.drain_recording = true;
  // The broken state again, awaited this time (record_broken does not wait).
  pg::sink_fault_update update{.sink = st.options.sink.name};
  if (!broken.empty())
    update.broken = broken;
  if (quiet.count() > 0)
    update.quiet_for = quiet;
  self->request(st.options.ledger, std::chrono::seconds{10}, sink_fault_atom::value, sink_fault_updates{update})
    .then([self, answer](bool) { self->state.drain_recording = false; answer(); },
          [self, answer](caf::error&) { self->state.drain_recording = false; answer(); });
}

/// Carries out what the scheduler decided, then keeps its one timer.
void carry_out(sender_pointer self) {
  auto& st = self->state;
  auto actions = st.scheduler->take_actions();
  log_notices(actions.notices);
  count(self, actions);
  queue_outcomes(self, actions);
  for (const auto& attempt : actions.attempts)
    start_attempt(self, attempt);
  if (actions.sweep)
    load_page(self, *actions.sweep);
  if (auto at = st.scheduler->wake_at(); at && (!st.wake_scheduled_for || *at < *st.wake_scheduled_for)) {
    st.wake_scheduled_for = *at;
    auto delay = std::chrono::ceil<millis>(*at - st.options.clock->now());
    self->delayed_send(self, std::max(delay, millis{1}), wake_atom::value, at->time_since_epoch().count());
  }
  update_gauges(self);
  record_broken(self);
  if (!st.drain_waiters.empty() && st.scheduler->in_flight() == 0)
    finish_drain(self);
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

sender_actor::behavior_type sender_behavior(sender_pointer self, sender_options options) {
  auto& st = self->state;
  st.options = std::move(options);
  st.metrics = &st.options.metrics->sink(st.options.sink.name);
  st.self_metrics = &st.options.metrics->actor("sender:" + st.options.sink.name);
  st.scheduler.emplace(policy_for(st.options), st.options.clock->now(), st.options.seed, st.options.start_paused);
  if (st.options.permit_until)
    st.scheduler->permit_until(st.options.permit_until, st.options.clock->now());
  st.recorded_broken = st.options.start_broken;
  if (!st.options.start_broken.empty() || st.options.start_quiet_until > st.options.clock->now())
    st.scheduler->restore(st.options.start_broken, st.options.start_quiet_until, st.options.clock->now());
  // A throwing transport is a bug in txrelay, not in the sink. The delivery
  // being attempted counts a failed attempt with the crash as its error and
  // its normal backoff (dead only once its attempts run out, like any other
  // failure), so a bug that is fixed loses nothing. Then the actor dies and
  // its supervisor starts a fresh one, which sweeps everything back in. A
  // sender that keeps crashing hits the supervisor's restart intensity: the
  // sink is marked failed and its deliveries wait, pending, for an operator.
  self->set_exception_handler([](caf::scheduled_actor* base, std::exception_ptr& eptr) -> caf::error {
    auto* self = static_cast<sender_pointer>(base);
    auto& st = self->state;
    auto what = describe(eptr);
    log::error("sender for sink " + st.options.sink.name + " crashed" +
               (st.attempting ? " on delivery " + st.attempting->id : std::string{}) + ": " + what);
    if (st.attempting) {
      attempt_result crash;
      crash.error = "sender crashed: " + what;
      st.scheduler->attempted(*st.attempting, crash, st.options.clock->now());
      auto actions = st.scheduler->take_actions(); // only its outcomes: this actor attempts nothing more
      log_notices(actions.notices);
      count(self, actions);
      queue_outcomes(self, actions);
    }
    send_outcomes(self);
    return caf::exit_reason::unhandled_exception;
  });
  self->send(self, tick_atom::value);
  carry_out(self); // the recovery sweep
  auto now = [self] { return self->state.options.clock->now(); };
  return {
    [=](dispatch_atom, delivery_jobs& jobs) {
      self->state.self_metrics->messages.fetch_add(1, std::memory_order_relaxed);
      self->state.scheduler->dispatched(std::move(jobs), now());
      carry_out(self);
    },
    [=](attempted_atom, const std::string& id, std::uint64_t number, attempt_result& r) {
      self->state.self_metrics->messages.fetch_add(1, std::memory_order_relaxed);
      self->state.scheduler->attempted({id, number}, r, now());
      carry_out(self);
    },
    [=](wake_atom, time_point::rep for_time) {
      auto& st = self->state;
      if (st.wake_scheduled_for && st.wake_scheduled_for->time_since_epoch().count() == for_time)
        st.wake_scheduled_for.reset();
      st.scheduler->timer(now());
      carry_out(self);
    },
    [=](pause_atom) {
      self->state.scheduler->pause(now());
      carry_out(self);
    },
    [=](resume_atom) {
      self->state.scheduler->resume(now());
      carry_out(self);
    },
    [=](lease_atom, time_point::rep until) {
      self->state.scheduler->permit_until(time_point{time_point::duration{until}}, now());
      carry_out(self);
    },
    [=](sweep_atom) {
      // From the supervisor: rows may be pending that this sender does not hold.
      self->state.scheduler->sweep_requested(now());
      carry_out(self);
    },
    [=](drain_atom) -> caf::result<bool> {
      auto& st = self->state;
      st.scheduler->drain(now());
      auto promise = self->make_response_promise<bool>();
      st.drain_waiters.push_back(promise);
      carry_out(self); // answers at once when nothing is in flight
      return promise;
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

sender_actor spawn_monitored_sender(caf::event_based_actor* supervisor, sender_options options) {
  // Linked too: a supervisor that dies, however it dies, takes its senders
  // with it instead of leaving them running unsupervised.
  return supervisor->spawn<caf::monitored + caf::linked>(sender_behavior, std::move(options));
}

} // namespace txrelay
