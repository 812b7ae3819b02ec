// The sender actor under CAF's deterministic scheduler: no threads, no
// sleeps. Delayed messages (retries) fire when the test says so, and the
// clock is a manual one.
#include "actors/sender_actor.hpp"
#include "actors/supervisor_actor.hpp"

#include <caf/all.hpp>

#include <gtest/gtest.h>

#include <deque>
#include <memory>

using namespace txrelay;

namespace {

/// A transport whose attempts complete only when the test completes them.
class scripted_transport final : public sink_transport {
public:
  struct pending {
    delivery_job job;
    attempt_callback done;
  };
  void attempt(const delivery_job& job, attempt_callback done) override {
    if (job.key == std::optional<std::string>{"poison"})
      throw std::runtime_error("poisoned");
    attempts.push_back({job, std::move(done)});
  }
  std::deque<pending> attempts;
};

/// What the persistence actor saw, and what it answers to sweeps.
struct fake_store {
  delivery_outcomes outcomes;
  std::vector<delivery_job> pending; // answered to load_pending, by id order
  int sweeps = 0;
};

caf::behavior fake_persistence(caf::event_based_actor*, std::shared_ptr<fake_store> store) {
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
    [store](load_pending_atom, const std::string&, const std::string& after, int limit) {
      ++store->sweeps;
      delivery_jobs page;
      for (const auto& j : store->pending)
        if (j.id > after && static_cast<int>(page.size()) < limit)
          page.push_back(j);
      return page;
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
    persistence = sys->spawn(fake_persistence, store);
  }

  ~sender_actor_test() override {
    for (auto& a : {supervisor, persistence})
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
    sink.retry = {max_attempts, millis{100}, millis{1000}};
    sink.max_in_flight = max_in_flight;
    supervisor_options opts;
    opts.sinks = {sink};
    opts.make_transport = [this](const sink_config&) {
      transport = std::make_shared<scripted_transport>();
      ++transports_built;
      return transport;
    };
    opts.persistence = persistence;
    opts.clock = clock;
    opts.metrics = metrics;
    opts.window = window;
    supervisor = spawn_supervisor(*sys, std::move(opts));
    sched->run();
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
  caf::actor persistence;
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
  sched->trigger_timeouts();
  sched->run();
  ASSERT_EQ(transport->attempts.size(), 1u);
  EXPECT_EQ(transport->attempts[0].job.attempts, 1);
  complete_next(verdict(attempt_result::verdict::retry, 503));
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

TEST_F(sender_actor_test, a_crashing_sender_is_restarted_and_the_poisoned_delivery_is_dead) {
  start(/*max_attempts=*/2);
  store->pending = {job("p", "poison"), job("q")};
  dispatch({job("p", "poison")});
  // The crash: counted as a failed attempt, the sender restarted with a fresh transport.
  EXPECT_EQ(transports_built, 2);
  EXPECT_EQ(metrics->actor("sender:hook").restarts.load(), 1u);
  ASSERT_GE(store->outcomes.size(), 1u);
  EXPECT_EQ(store->outcomes[0].delivery_id, "p");
  EXPECT_EQ(store->outcomes[0].attempts, 1);
  EXPECT_EQ(store->outcomes[0].status, delivery_status::dead);
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
  ASSERT_EQ(store->pending.size(), 1u);
  EXPECT_EQ(store->pending[0].id, "q");
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

} // namespace
