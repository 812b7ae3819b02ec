// The sender actor under CAF's deterministic scheduler: no threads, no
// sleeps. Delayed messages (retries) fire when the test says so, and the
// clock is a manual one.
#include "actors/sender_actor.hpp"
#include "actors/supervisor_actor.hpp"
#include "core/ids.hpp"

#include <caf/all.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <set>
#include <memory>

using namespace txrelay;

namespace {

std::string poison_key; // a further key that crashes the transport, while set

/// A transport whose attempts complete only when the test completes them.
class scripted_transport final : public sink_transport {
public:
  struct pending {
    delivery_job job;
    attempt_callback done;
  };
  void attempt(const delivery_job& job, attempt_callback done) override {
    if (job.key == std::optional<std::string>{"poison"} || (!poison_key.empty() && job.key == poison_key))
      throw std::runtime_error("poisoned");
    attempts.push_back({job, std::move(done)});
  }
  std::deque<pending> attempts;
};

/// What the ledger saw, and what it answers to sweeps.
struct fake_store {
  delivery_outcomes outcomes;
  std::vector<delivery_job> pending; // answered to load_pending, by id order
  int sweeps = 0;
  int controls = 0; // pause and resume commands stored
  // Set: the next page is computed now and answered when the test sends the
  // ledger (flush), so messages can reach the sender while it waits.
  bool hold_next_page = false;
  std::optional<caf::typed_response_promise<delivery_jobs>> held;
  delivery_jobs held_page;
};

caf::behavior fake_ledger(caf::event_based_actor* self, std::shared_ptr<fake_store> store) {
  return {
    [store](outcome_atom, delivery_outcomes& outcomes) {
      for (auto& o : outcomes) {
        store->outcomes.push_back(o);
        // Apply it, as the real store does: finished rows stop being pending.
        for (auto it = store->pending.begin(); it != store->pending.end(); ++it) {
          if (it->id != o.delivery_id)
            continue;
          if (o.status != delivery_status::pending) {
            store->pending.erase(it);
          } else {
            it->attempts = o.attempts;
            it->next_attempt_at = o.next_attempt_at;
          }
          break;
        }
      }
    },
    [store](sink_control_atom, const std::string& sink, bool paused) {
      // As stored: each command newer than the last.
      auto stamp = std::to_string(1'000'000 + ++store->controls);
      return pg::sink_control{sink, paused, paused ? std::string{} : stamp, stamp, {}};
    },
    [self, store](load_pending_atom, const std::string&, const std::string& after,
                  int limit) -> caf::result<delivery_jobs> {
      ++store->sweeps;
      delivery_jobs page;
      for (const auto& j : store->pending)
        if (j.id > after && static_cast<int>(page.size()) < limit)
          page.push_back(j);
      if (store->hold_next_page) {
        store->hold_next_page = false;
        store->held = self->make_response_promise<delivery_jobs>();
        store->held_page = std::move(page);
        return *store->held;
      }
      return page;
    },
    [store](flush_atom) {
      if (store->held) {
        store->held->deliver(std::move(store->held_page));
        store->held.reset();
      }
    },
  };
}

delivery_job job(const std::string& id, std::optional<std::string> key = std::nullopt) {
  delivery_job j;
  j.id = id;
  j.event_id = "e-" + id;
  j.sink = "hook";
  j.topic = "feedback";
  j.key = std::move(key);
  j.payload_json = "{}";
  return j;
}

attempt_result verdict(attempt_result::verdict v, int status = 0) {
  attempt_result r;
  r.outcome = v;
  r.http_status = status;
  r.error = status ? "HTTP " + std::to_string(status) : "";
  return r;
}

class sender_actor_test : public ::testing::Test {
protected:
  sender_actor_test() {
    cfg.set("scheduler.policy", caf::atom("testing"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    ledger = sys->spawn(fake_ledger, store);
  }

  ~sender_actor_test() override {
    for (auto& a : {supervisor, ledger})
      if (a)
        caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    sched->run();
  }

  void start(int max_attempts = 3, std::size_t window = 1000, int max_in_flight = 4, int max_restarts = 5,
             rate_limit rate = {}) {
    sink_config sink;
    sink.rate = rate;
    sink.supervision.max_restarts = max_restarts;
    sink.name = "hook";
    sink.kind = sink_kind::webhook;
    sink.retry = {max_attempts, millis{100}, millis{1000}, {}};
    sink.max_in_flight = max_in_flight;
    start_sink(sink, window);
  }

  void start_sink(sink_config sink, std::size_t window = 1000) {
    supervisor_options opts;
    opts.sinks = {sink};
    opts.make_transport = [this](const sink_config&) {
      transport = std::make_shared<scripted_transport>();
      ++transports_built;
      return transport;
    };
    opts.ledger = ledger;
    opts.clock = clock;
    opts.metrics = metrics;
    opts.window = window;
    // Fixed jitter: a crashed delivery's backoff is never drawn as 0 here, so
    // it is not retried (and re-crashed) before a test advances time.
    opts.seed = 42;
    supervisor = spawn_supervisor(*sys, std::move(opts));
    sched->run();
  }

  /// Advances the manual clock and fires every timer that is due by then
  /// (the deterministic scheduler fires all delayed messages at once; the
  /// actors themselves check the clock).
  void advance(millis d) {
    clock->advance(d);
    for (int i = 0; i < 3; ++i) {
      sched->trigger_timeouts();
      sched->run();
    }
  }

  void control(sink_command cmd) {
    std::optional<result<sink_command, api_error>> answer;
    control_reply reply = [&answer](result<sink_command, api_error> r) { answer = std::move(r); };
    caf::anon_send(supervisor, sink_control_atom::value, std::string{"hook"}, cmd, std::move(reply));
    sched->run();
    ASSERT_TRUE(answer && *answer);
  }

  std::vector<std::string> attempted_ids() const {
    std::vector<std::string> ids;
    for (const auto& a : transport->attempts)
      ids.push_back(a.job.id);
    return ids;
  }

  void dispatch(delivery_jobs jobs) {
    caf::anon_send(supervisor, dispatch_atom::value, std::string{"hook"}, std::move(jobs));
    sched->run();
  }

  void complete_next(attempt_result r) {
    ASSERT_FALSE(transport->attempts.empty());
    auto p = std::move(transport->attempts.front());
    transport->attempts.pop_front();
    p.done(std::move(r));
    sched->run();
  }

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  std::shared_ptr<fake_store> store = std::make_shared<fake_store>();
  std::shared_ptr<manual_clock> clock = std::make_shared<manual_clock>();
  std::shared_ptr<metrics_registry> metrics = std::make_shared<metrics_registry>();
  std::shared_ptr<scripted_transport> transport;
  int transports_built = 0;
  caf::actor ledger;
  caf::actor supervisor;
};

TEST_F(sender_actor_test, sweeps_pending_rows_at_start) {
  store->pending = {job("a"), job("b")};
  start();
  EXPECT_EQ(store->sweeps, 1);
  ASSERT_EQ(transport->attempts.size(), 2u);
  EXPECT_EQ(transport->attempts[0].job.id, "a");
  complete_next(verdict(attempt_result::verdict::delivered, 204));
  ASSERT_EQ(store->outcomes.size(), 1u);
  EXPECT_EQ(store->outcomes[0].delivery_id, "a");
  EXPECT_EQ(store->outcomes[0].status, delivery_status::delivered);
  EXPECT_EQ(store->outcomes[0].attempts, 1);
}

TEST_F(sender_actor_test, a_dispatch_that_trails_a_sweep_does_not_send_a_finished_delivery_again) {
  // The ledger's sweep saw a row an ingest writer had just committed, before
  // that writer's dispatch of it arrived.
  store->pending = {job("a")};
  start();
  ASSERT_EQ(attempted_ids(), std::vector<std::string>{"a"});
  complete_next(verdict(attempt_result::verdict::delivered, 204));
  dispatch({job("a"), job("b")});
  EXPECT_EQ(attempted_ids(), std::vector<std::string>{"b"}); // "a" was not attempted again
  ASSERT_EQ(store->outcomes.size(), 1u);
}

TEST_F(sender_actor_test, commit_to_first_attempt_is_measured_for_dispatched_deliveries_only) {
  store->pending = {job("swept")};
  start();
  auto dispatched = job("b");
  dispatched.committed_at = clock->now() - millis{4};
  dispatch({dispatched});
  ASSERT_EQ(attempted_ids(), (std::vector<std::string>{"swept", "b"}));
  auto counts = metrics->sink("hook").commit_to_attempt.cumulative();
  EXPECT_EQ(counts.back(), 1u); // the swept delivery has no commit time to measure from
  EXPECT_EQ(counts[4], 1u);     // le 0.005
  EXPECT_EQ(counts[3], 0u);     // le 0.003
  // A retry is not a first attempt.
  complete_next(verdict(attempt_result::verdict::delivered, 204));
  complete_next(verdict(attempt_result::verdict::retry, 503));
  advance(millis{2000});
  ASSERT_EQ(transport->attempts.size(), 1u);
  EXPECT_EQ(metrics->sink("hook").commit_to_attempt.cumulative().back(), 1u);
}

TEST_F(sender_actor_test, a_failed_attempt_is_retried_after_backoff_then_goes_dead) {
  start(/*max_attempts=*/3);
  dispatch({job("a")});
  ASSERT_EQ(transport->attempts.size(), 1u);
  complete_next(verdict(attempt_result::verdict::retry, 500));
  ASSERT_EQ(store->outcomes.size(), 1u);
  const auto& first = store->outcomes[0];
  EXPECT_EQ(first.status, delivery_status::pending);
  EXPECT_EQ(first.attempts, 1);
  EXPECT_EQ(first.http_status, 500);
  // Full jitter: the next attempt is within [now, now + base * 2^0].
  EXPECT_GE(first.next_attempt_at, clock->now());
  EXPECT_LE(first.next_attempt_at, clock->now() + millis{100});
  EXPECT_TRUE(transport->attempts.empty()); // nothing before the backoff elapses
  clock->set(first.next_attempt_at);
  sched->trigger_timeouts();
  sched->run();
  ASSERT_EQ(transport->attempts.size(), 1u);
  EXPECT_EQ(transport->attempts[0].job.attempts, 1);
  complete_next(verdict(attempt_result::verdict::retry, 503));
  clock->set(store->outcomes[1].next_attempt_at);
  sched->trigger_timeouts();
  sched->run();
  complete_next(verdict(attempt_result::verdict::retry, 503));
  ASSERT_EQ(store->outcomes.size(), 3u);
  EXPECT_EQ(store->outcomes[2].status, delivery_status::dead);
  EXPECT_EQ(store->outcomes[2].attempts, 3);
  sched->trigger_timeouts();
  sched->run();
  EXPECT_TRUE(transport->attempts.empty());
  EXPECT_EQ(metrics->sink("hook").dead.load(), 1u);
  EXPECT_EQ(metrics->sink("hook").failed_attempts.load(), 3u);
}

TEST_F(sender_actor_test, a_permanent_failure_is_dead_at_once) {
  start();
  dispatch({job("a")});
  complete_next(verdict(attempt_result::verdict::permanent, 410));
  ASSERT_EQ(store->outcomes.size(), 1u);
  EXPECT_EQ(store->outcomes[0].status, delivery_status::dead);
  EXPECT_EQ(store->outcomes[0].attempts, 1);
}

TEST_F(sender_actor_test, retry_after_is_a_floor_for_the_next_attempt) {
  start();
  dispatch({job("a")});
  auto r = verdict(attempt_result::verdict::retry, 429);
  r.retry_after = millis{60'000};
  complete_next(r);
  ASSERT_EQ(store->outcomes.size(), 1u);
  EXPECT_EQ(store->outcomes[0].next_attempt_at, clock->now() + millis{60'000});
}

TEST_F(sender_actor_test, in_flight_attempts_never_exceed_max_in_flight) {
  start(3, 1000, /*max_in_flight=*/2);
  dispatch({job("a"), job("b"), job("c"), job("d")});
  EXPECT_EQ(transport->attempts.size(), 2u);
  complete_next(verdict(attempt_result::verdict::delivered, 204));
  EXPECT_EQ(transport->attempts.size(), 2u);
  EXPECT_EQ(transport->attempts[1].job.id, "c");
}

TEST_F(sender_actor_test, a_full_window_leaves_rows_in_the_database_and_sweeps_them_later) {
  start(3, /*window=*/4, /*max_in_flight=*/8);
  int sweeps_at_start = store->sweeps;
  // Six committed deliveries; the window holds four, two stay in "PostgreSQL".
  store->pending = {job("a"), job("b"), job("c"), job("d"), job("e"), job("f")};
  dispatch({job("a"), job("b"), job("c"), job("d"), job("e"), job("f")});
  ASSERT_EQ(transport->attempts.size(), 4u);
  for (int i = 0; i < 4; ++i)
    complete_next(verdict(attempt_result::verdict::delivered, 204));
  EXPECT_GT(store->sweeps, sweeps_at_start);
  ASSERT_EQ(transport->attempts.size(), 2u);
  EXPECT_EQ(transport->attempts[0].job.id, "e");
  EXPECT_EQ(transport->attempts[1].job.id, "f");
}

TEST_F(sender_actor_test, a_crash_counts_as_a_failed_attempt_and_the_sender_is_restarted) {
  start(/*max_attempts=*/2);
  store->pending = {job("p", "poison"), job("q")};
  dispatch({job("p", "poison")});
  // The crash: counted as a failed attempt, the sender restarted with a fresh transport.
  EXPECT_EQ(transports_built, 2);
  EXPECT_EQ(metrics->actor("sender:hook").restarts.load(), 1u);
  ASSERT_GE(store->outcomes.size(), 1u);
  EXPECT_EQ(store->outcomes[0].delivery_id, "p");
  EXPECT_EQ(store->outcomes[0].attempts, 1);
  EXPECT_EQ(store->outcomes[0].status, delivery_status::pending); // retried after its backoff
  EXPECT_GE(store->outcomes[0].next_attempt_at, clock->now());
  EXPECT_NE(store->outcomes[0].error.find("sender crashed"), std::string::npos);
  // The restarted sender swept "q" back in and attempts it.
  bool q_attempted = false;
  for (const auto& a : transport->attempts)
    q_attempted |= a.job.id == "q";
  EXPECT_TRUE(q_attempted);
}

TEST_F(sender_actor_test, a_sender_that_keeps_crashing_is_stopped_and_its_sink_marked_failed) {
  start(/*max_attempts=*/50, 1000, /*max_in_flight=*/1, /*max_restarts=*/2);
  // Three poisoned deliveries: each crashes the sender once.
  store->pending = {job("p1", "poison"), job("p2", "poison"), job("p3", "poison"), job("q")};
  dispatch({job("p1", "poison")});
  // Crash 1: restarted at once. Crash 2: restarted after a back-off. Crash 3:
  // more than max_restarts within the window, so the supervisor gives up.
  for (int i = 0; i < 10 && metrics->sink("hook").failed.load() == 0; ++i) {
    sched->trigger_timeouts();
    sched->run();
  }
  EXPECT_EQ(metrics->sink("hook").failed.load(), 1);
  EXPECT_EQ(metrics->actor("sender:hook").restarts.load(), 2u);
  EXPECT_EQ(transports_built, 3);
  // Nothing restarts it any more, however long we wait; "q" stays pending.
  for (int i = 0; i < 5; ++i) {
    sched->trigger_timeouts();
    sched->run();
  }
  EXPECT_EQ(transports_built, 3);
  // Everything stays pending for an operator: the crashed ones with an attempt each.
  ASSERT_EQ(store->pending.size(), 4u);
  int crashed_attempts = 0;
  for (const auto& j : store->pending)
    crashed_attempts += j.attempts;
  EXPECT_EQ(crashed_attempts, 3);
}

TEST_F(sender_actor_test, a_sweep_request_makes_every_sender_look_for_rows_it_does_not_hold) {
  start();
  EXPECT_TRUE(transport->attempts.empty());
  // A row committed but never dispatched (the commit's outcome was unknown).
  store->pending = {job("orphan")};
  caf::anon_send(supervisor, sweep_atom::value);
  sched->run();
  ASSERT_EQ(transport->attempts.size(), 1u);
  EXPECT_EQ(transport->attempts[0].job.id, "orphan");
}

TEST_F(sender_actor_test, a_wait_the_sink_asked_for_holds_back_every_request_to_it) {
  start();
  dispatch({job("a")});
  auto r = verdict(attempt_result::verdict::retry, 429);
  r.retry_after = millis{2000};
  complete_next(r);
  // Another delivery arrives: nothing may reach the sink before 2 s have passed.
  dispatch({job("b")});
  for (int i = 0; i < 3; ++i) {
    sched->trigger_timeouts();
    sched->run();
  }
  EXPECT_TRUE(transport->attempts.empty());
  clock->advance(millis{2000});
  for (int i = 0; i < 3 && transport->attempts.size() < 2; ++i) {
    sched->trigger_timeouts();
    sched->run();
  }
  ASSERT_EQ(transport->attempts.size(), 2u); // both, once the wait is over
}

TEST_F(sender_actor_test, the_rate_limit_spaces_requests) {
  start(3, 1000, /*max_in_flight=*/8, 5, rate_limit{1.0, 2.0}); // 1 per second, bursts of 2
  dispatch({job("a"), job("b"), job("c"), job("d")});
  EXPECT_EQ(transport->attempts.size(), 2u); // the burst
  sched->trigger_timeouts();
  sched->run();
  EXPECT_EQ(transport->attempts.size(), 2u); // no time has passed on the clock
  clock->advance(millis{1000});
  sched->trigger_timeouts();
  sched->run();
  EXPECT_EQ(transport->attempts.size(), 3u);
  clock->advance(millis{1000});
  sched->trigger_timeouts();
  sched->run();
  EXPECT_EQ(transport->attempts.size(), 4u);
}

// -- circuit breaker -------------------------------------------------------------

sink_config breaker_sink(int threshold, millis probe_interval) {
  sink_config sink;
  sink.name = "hook";
  sink.kind = sink_kind::webhook;
  sink.retry = {50, millis{10}, millis{10}, {}};
  sink.max_in_flight = 1;
  sink.circuit = {threshold, probe_interval};
  return sink;
}

TEST_F(sender_actor_test, the_circuit_opens_after_consecutive_failures_and_probes_once_per_interval) {
  start_sink(breaker_sink(3, millis{30'000}));
  dispatch({job("a"), job("b"), job("c")});
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(transport->attempts.size(), 1u) << i;
    complete_next(verdict(attempt_result::verdict::retry, 503));
    advance(millis{10}); // past every backoff
  }
  auto& m = metrics->sink("hook");
  EXPECT_EQ(m.circuit.load(), static_cast<std::int64_t>(circuit_state::open));
  EXPECT_EQ(m.circuit_opened.load(), 1u);
  EXPECT_EQ(m.state(0), "open");
  // Open: the held deliveries wait without spending attempts.
  advance(millis{29'000});
  EXPECT_TRUE(transport->attempts.empty());
  // One probe after the interval, and only one while it is under way.
  advance(millis{1'000});
  ASSERT_EQ(transport->attempts.size(), 1u);
  EXPECT_EQ(m.circuit.load(), static_cast<std::int64_t>(circuit_state::half_open));
  advance(millis{40'000}); // (within the attempt's deadline: timeouts plus 30 s)
  EXPECT_EQ(transport->attempts.size(), 1u);
  // The probe fails: open for another interval.
  complete_next(verdict(attempt_result::verdict::retry, 0));
  EXPECT_EQ(m.circuit.load(), static_cast<std::int64_t>(circuit_state::open));
  advance(millis{29'000});
  EXPECT_TRUE(transport->attempts.empty());
  advance(millis{1'000});
  ASSERT_EQ(transport->attempts.size(), 1u);
  // The probe succeeds: closed, and the rest flow again.
  complete_next(verdict(attempt_result::verdict::delivered, 204));
  EXPECT_EQ(m.circuit.load(), static_cast<std::int64_t>(circuit_state::closed));
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(transport->attempts.size(), 1u) << i;
    complete_next(verdict(attempt_result::verdict::delivered, 204));
  }
  int delivered = 0;
  for (const auto& o : store->outcomes)
    delivered += o.status == delivery_status::delivered;
  EXPECT_EQ(delivered, 3);
  EXPECT_EQ(m.state(0), "ok");
}

TEST_F(sender_actor_test, a_429_on_the_half_open_probe_probes_again_after_the_wait_the_sink_asked_for) {
  start_sink(breaker_sink(1, millis{30'000}));
  dispatch({job("a"), job("b")});
  complete_next(verdict(attempt_result::verdict::retry, 503)); // opens the circuit
  auto& m = metrics->sink("hook");
  ASSERT_EQ(m.circuit.load(), static_cast<std::int64_t>(circuit_state::open));
  advance(millis{30'000});
  ASSERT_EQ(transport->attempts.size(), 1u); // the probe
  auto r = verdict(attempt_result::verdict::retry, 429);
  r.retry_after = millis{5'000};
  complete_next(r); // what Discord, Slack and Notion answer right after an outage
  EXPECT_EQ(m.circuit.load(), static_cast<std::int64_t>(circuit_state::half_open));
  advance(millis{4'000});
  EXPECT_TRUE(transport->attempts.empty()); // not before the wait
  advance(millis{1'000});
  ASSERT_EQ(transport->attempts.size(), 1u) << "half-open after a 429 must probe again, not wait for an operator";
  complete_next(verdict(attempt_result::verdict::delivered, 204));
  EXPECT_EQ(m.circuit.load(), static_cast<std::int64_t>(circuit_state::closed));
  ASSERT_EQ(transport->attempts.size(), 1u);
  complete_next(verdict(attempt_result::verdict::delivered, 204));
  int delivered = 0;
  for (const auto& o : store->outcomes)
    delivered += o.status == delivery_status::delivered;
  EXPECT_EQ(delivered, 2);
}

TEST_F(sender_actor_test, a_lost_dispatch_is_delivered_by_the_safety_sweep_and_counted) {
  sink_config sink = breaker_sink(10, millis{30'000});
  sink.safety_sweep = millis{30'000};
  // Committed before the sender started: created (its UUIDv7) a minute ago.
  std::mt19937_64 rng{1};
  auto lost = job(new_uuid_v7(clock->now() - std::chrono::minutes{1}, rng));
  start_sink(sink);
  EXPECT_EQ(store->sweeps, 1); // the recovery pass, before the row was there
  store->pending.push_back(lost); // committed; its dispatch never arrives
  advance(millis{29'000});
  EXPECT_TRUE(transport->attempts.empty());
  advance(millis{1'000});
  ASSERT_EQ(transport->attempts.size(), 1u);
  EXPECT_EQ(transport->attempts[0].job.id, lost.id);
  auto& m = metrics->sink("hook");
  EXPECT_EQ(m.safety_sweeps.load(), 1u);
  EXPECT_EQ(m.sweep_unknown.load(), 1u);
  complete_next(verdict(attempt_result::verdict::delivered, 204));
  EXPECT_TRUE(store->pending.empty());
}

TEST_F(sender_actor_test, rate_limiting_and_client_errors_do_not_open_the_circuit) {
  start_sink(breaker_sink(2, millis{30'000}));
  dispatch({job("a")});
  auto r = verdict(attempt_result::verdict::retry, 429);
  r.retry_after = millis{5};
  complete_next(r);
  advance(millis{10});
  complete_next(r);
  advance(millis{10});
  complete_next(verdict(attempt_result::verdict::retry, 404));
  advance(millis{10});
  EXPECT_EQ(metrics->sink("hook").circuit.load(), static_cast<std::int64_t>(circuit_state::closed));
  EXPECT_EQ(transport->attempts.size(), 1u);
}

// -- broken sinks, pause, resume -----------------------------------------------

TEST_F(sender_actor_test, a_broken_sink_dead_letters_what_it_holds_without_attempting_it) {
  start(/*max_attempts=*/5, 1000, /*max_in_flight=*/1);
  dispatch({job("a"), job("b"), job("c")});
  auto r = verdict(attempt_result::verdict::permanent, 404);
  r.error = "HTTP 404: Unknown Webhook (10015)";
  r.sink_broken = true;
  complete_next(r);
  EXPECT_TRUE(transport->attempts.empty());
  ASSERT_EQ(store->outcomes.size(), 3u);
  for (const auto& o : store->outcomes)
    EXPECT_EQ(o.status, delivery_status::dead) << o.delivery_id;
  EXPECT_EQ(store->outcomes[0].attempts, 1);
  EXPECT_EQ(store->outcomes[1].attempts, 0); // b and c were never sent
  EXPECT_NE(store->outcomes[1].error.find("broken"), std::string::npos);
  EXPECT_NE(store->outcomes[1].error.find("10015"), std::string::npos);
  auto& m = metrics->sink("hook");
  EXPECT_EQ(m.state(0), "broken");
  EXPECT_EQ(m.last_error(), "HTTP 404: Unknown Webhook (10015)");
  // Later deliveries too, until an operator resumes the sink.
  dispatch({job("d")});
  EXPECT_TRUE(transport->attempts.empty());
  EXPECT_EQ(store->outcomes.back().delivery_id, "d");
  control(sink_command::resume);
  EXPECT_EQ(m.state(0), "ok");
  dispatch({job("e")});
  EXPECT_EQ(attempted_ids(), std::vector<std::string>{"e"});
}

TEST_F(sender_actor_test, a_paused_sink_sends_nothing_until_resumed) {
  start(/*max_attempts=*/2);
  control(sink_command::pause);
  EXPECT_EQ(metrics->sink("hook").state(0), "paused");
  store->pending = {job("a"), job("b")};
  dispatch({job("a"), job("b")});
  advance(millis{1000});
  EXPECT_TRUE(transport->attempts.empty());
  control(sink_command::resume);
  EXPECT_EQ(attempted_ids(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(metrics->sink("hook").state(0), "ok");
}

TEST_F(sender_actor_test, resuming_a_failed_sink_starts_its_sender_again_and_nothing_is_lost) {
  start(/*max_attempts=*/50, 1000, /*max_in_flight=*/1, /*max_restarts=*/1);
  poison_key = "bad";
  store->pending = {job("a", "bad"), job("b", "bad"), job("c")};
  dispatch({job("a", "bad")});
  for (int i = 0; i < 10 && metrics->sink("hook").failed.load() == 0; ++i)
    advance(millis{100});
  ASSERT_EQ(metrics->sink("hook").failed.load(), 1);
  EXPECT_EQ(metrics->sink("hook").state(0), "failed");
  // The bug is fixed; the operator resumes the sink.
  poison_key.clear();
  control(sink_command::resume);
  EXPECT_EQ(metrics->sink("hook").failed.load(), 0);
  for (int i = 0; i < 10 && !transport->attempts.empty(); ++i)
    complete_next(verdict(attempt_result::verdict::delivered, 204));
  // a and b crashed the sender (each a failed attempt, still pending); once
  // fixed, all three are delivered: nothing lost.
  for (int i = 0; i < 10 && !store->pending.empty(); ++i) {
    advance(millis{1000}); // past the crashed ones' backoff
    while (!transport->attempts.empty())
      complete_next(verdict(attempt_result::verdict::delivered, 204));
  }
  EXPECT_TRUE(store->pending.empty());
  std::set<std::string> delivered;
  for (const auto& o : store->outcomes)
    if (o.status == delivery_status::delivered)
      delivered.insert(o.delivery_id);
  EXPECT_EQ(delivered, (std::set<std::string>{"a", "b", "c"}));
  int dead = 0;
  for (const auto& o : store->outcomes)
    dead += o.status == delivery_status::dead;
  EXPECT_EQ(dead, 0);
}

// -- ordering: per_key -----------------------------------------------------------------

TEST_F(sender_actor_test, per_key_ordering_holds_a_key_behind_its_failing_delivery_and_no_other) {
  sink_config sink = breaker_sink(0, millis{1000});
  sink.max_in_flight = 8;
  sink.ordering = delivery_ordering::per_key;
  start_sink(sink);
  dispatch({job("01", "k1"), job("02", "k2"), job("03", "k1"), job("04", "k2"), job("05")});
  // Only the oldest of each key, and the keyless one.
  EXPECT_EQ(attempted_ids(), (std::vector<std::string>{"01", "02", "05"}));
  complete_next(verdict(attempt_result::verdict::retry, 500));      // 01 fails: k1 waits
  complete_next(verdict(attempt_result::verdict::delivered, 204)); // 02: k2 moves on
  complete_next(verdict(attempt_result::verdict::delivered, 204)); // 05
  EXPECT_EQ(attempted_ids(), (std::vector<std::string>{"04"}));
  complete_next(verdict(attempt_result::verdict::delivered, 204));
  EXPECT_TRUE(transport->attempts.empty()); // 03 still waits for 01
  advance(millis{10});
  EXPECT_EQ(attempted_ids(), (std::vector<std::string>{"01"}));
  complete_next(verdict(attempt_result::verdict::delivered, 204));
  EXPECT_EQ(attempted_ids(), (std::vector<std::string>{"03"}));
}

TEST_F(sender_actor_test, per_key_ordering_moves_on_when_the_head_goes_dead) {
  sink_config sink = breaker_sink(0, millis{1000});
  sink.ordering = delivery_ordering::per_key;
  sink.max_in_flight = 8;
  start_sink(sink);
  dispatch({job("01", "k"), job("02", "k")});
  complete_next(verdict(attempt_result::verdict::permanent, 400));
  EXPECT_EQ(attempted_ids(), (std::vector<std::string>{"02"}));
}

TEST_F(sender_actor_test, a_row_committed_late_below_a_full_pages_cursor_is_found_by_a_pass_from_the_start) {
  // Two ingest writers: "a" got its id before "b".."g" but its group
  // committed after the page query, and its dispatch arrived while the page
  // was on its way. The page is full and moves the cursor past "a".
  sink_config sink = breaker_sink(0, millis{1000});
  sink.ordering = delivery_ordering::per_key;
  sink.max_in_flight = 8;
  store->pending = {job("b", "kb"), job("c", "kc"), job("d", "kd"), job("e", "ke"), job("f", "kf"), job("g", "kg")};
  store->hold_next_page = true;
  start_sink(sink, 4);
  ASSERT_TRUE(store->held.has_value());
  store->pending.insert(store->pending.begin(), job("a", "ka"));
  dispatch({job("a", "ka")});
  caf::anon_send(ledger, flush_atom::value);
  sched->run();
  ASSERT_EQ(attempted_ids(), (std::vector<std::string>{"b", "c", "d", "e"}));
  for (int i = 0; i < 4; ++i)
    complete_next(verdict(attempt_result::verdict::delivered, 204));
  // The pass goes on from "e" (f, g), then starts over and finds "a".
  for (int i = 0; i < 2 && !transport->attempts.empty(); ++i)
    complete_next(verdict(attempt_result::verdict::delivered, 204));
  sched->run();
  auto ids = attempted_ids();
  EXPECT_NE(std::find(ids.begin(), ids.end(), "a"), ids.end()) << "a stayed pending in the database";
}

TEST_F(sender_actor_test, per_key_ordering_never_holds_a_newer_delivery_while_an_older_one_waits_in_the_database) {
  sink_config sink = breaker_sink(0, millis{1000});
  sink.ordering = delivery_ordering::per_key;
  sink.max_in_flight = 8;
  start_sink(sink);
  // The window is full when 02 is dispatched, so it stays in the database;
  // 03 (same key) arrives once there is room again: it must not overtake 02.
  store->pending = {job("01", "x"), job("02", "k"), job("03", "k")};
  (void)sink;
  dispatch({job("01", "x")});
  EXPECT_EQ(attempted_ids(), (std::vector<std::string>{"01"}));
  caf::anon_send(supervisor, sweep_atom::value); // a sweep is needed (as after an overflow)
  dispatch({job("03", "k")});
  sched->run();
  auto ids = attempted_ids();
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(ids[1], "02"); // 02 first; 03 waits for it
  EXPECT_EQ(std::count(ids.begin(), ids.end(), "03"), 0);
  complete_next(verdict(attempt_result::verdict::delivered, 204)); // 01
  complete_next(verdict(attempt_result::verdict::delivered, 204)); // 02
  EXPECT_EQ(attempted_ids(), (std::vector<std::string>{"03"}));
}

// -- retry.max_age -----------------------------------------------------------------------

TEST_F(sender_actor_test, a_delivery_older_than_max_age_is_not_retried) {
  sink_config sink = breaker_sink(0, millis{1000});
  sink.retry = {50, millis{60'000}, millis{60'000}, millis{120'000}};
  sink.max_in_flight = 2;
  start_sink(sink);
  // Delivery ids are UUIDv7: the id says when the delivery was made.
  uuid_v7_generator ids{1};
  auto old = ids.next(clock->now() - millis{100'000});
  auto young = ids.next(clock->now());
  dispatch({job(old), job(young)});
  // The sink asks for 30 s: the old one's next attempt would be 130 s after
  // it was made, past max_age; the young one's is well within it.
  auto r = verdict(attempt_result::verdict::retry, 503);
  r.retry_after = millis{30'000};
  complete_next(r);
  complete_next(r);
  ASSERT_EQ(store->outcomes.size(), 2u);
  for (const auto& o : store->outcomes) {
    if (o.delivery_id == old) {
      EXPECT_EQ(o.status, delivery_status::dead);
      EXPECT_NE(o.error.find("max_age"), std::string::npos);
    } else {
      EXPECT_EQ(o.status, delivery_status::pending);
    }
  }
}

} // namespace

// A replayed row keeps its old id, so it sorts behind the cursor of a pass
// that is paging a backlog: the pass cannot reach it, and the sender must
// start another pass from the beginning once this one ends.
TEST_F(sender_actor_test, a_row_behind_the_cursor_of_a_paging_sweep_is_found_by_the_next_pass) {
  store->pending = {job("a"), job("b"), job("c"), job("d"), job("e"), job("f"), job("g"), job("h")};
  start(3, /*window=*/4, /*max_in_flight=*/8);
  ASSERT_EQ(transport->attempts.size(), 4u); // a..d: the first page filled the window

  store->pending.insert(store->pending.begin(), job("0")); // replayed: pending again, old id
  caf::anon_send(supervisor, sweep_atom::value);
  sched->run();

  std::vector<std::string> attempted;
  for (int round = 0; round < 4 && !transport->attempts.empty(); ++round) {
    while (!transport->attempts.empty()) {
      attempted.push_back(transport->attempts.front().job.id);
      complete_next(verdict(attempt_result::verdict::delivered, 204));
    }
  }
  EXPECT_NE(std::find(attempted.begin(), attempted.end(), "0"), attempted.end());
  EXPECT_TRUE(store->pending.empty());
}

// A replay gives a delivery that died of age a fresh max_age: counted from
// the replay, although the id still carries the creation time.
TEST_F(sender_actor_test, max_age_counts_from_a_replay) {
  sink_config sink = breaker_sink(0, millis{1000});
  sink.retry = {50, millis{60'000}, millis{60'000}, millis{120'000}};
  start_sink(sink);
  uuid_v7_generator ids{1};
  auto replayed = job(ids.next(clock->now() - millis{500'000}));
  replayed.replayed_at = clock->now();
  auto stale = job(ids.next(clock->now() - millis{500'000}));
  dispatch({replayed, stale});
  ASSERT_EQ(transport->attempts.size(), 1u); // the stale one is dead without an attempt
  EXPECT_EQ(transport->attempts[0].job.id, replayed.id);
  complete_next(verdict(attempt_result::verdict::delivered, 204));
  for (const auto& o : store->outcomes)
    EXPECT_EQ(o.status, o.delivery_id == replayed.id ? delivery_status::delivered : delivery_status::dead);
}

namespace {

TEST_F(sender_actor_test, a_reload_starts_added_sinks_restarts_changed_ones_and_retires_removed_ones) {
  sink_config hook = breaker_sink(10, millis{30'000});
  hook.fingerprint = "hook v1";
  start_sink(hook);
  ASSERT_EQ(transports_built, 1);
  dispatch({job("a")});
  ASSERT_EQ(transport->attempts.size(), 1u); // under way when the reload comes

  auto changed = hook;
  changed.fingerprint = "hook v2";
  changed.max_in_flight = 4;
  caf::anon_send(supervisor, reconfigure_atom::value, std::vector<sink_config>{changed});
  sched->run();
  EXPECT_EQ(transports_built, 1) << "the old sender finishes its attempt before the new one starts";
  auto old_transport = transport;
  auto finishing = std::move(old_transport->attempts.front());
  old_transport->attempts.pop_front();
  finishing.done(verdict(attempt_result::verdict::delivered, 204));
  sched->run();
  EXPECT_EQ(transports_built, 2);
  ASSERT_EQ(store->outcomes.size(), 1u);
  EXPECT_EQ(store->outcomes[0].status, delivery_status::delivered);

  // Removed: no sender for it any more; what is routed to it waits in PostgreSQL.
  caf::anon_send(supervisor, reconfigure_atom::value, std::vector<sink_config>{});
  sched->run();
  dispatch({job("b")});
  EXPECT_TRUE(transport->attempts.empty());
  EXPECT_EQ(transports_built, 2);
}

} // namespace
