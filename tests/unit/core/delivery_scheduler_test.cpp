#include "core/delivery_scheduler.hpp"

#include "core/ids.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>

using namespace txrelay;
using namespace std::chrono_literals;

namespace {

const time_point t0 = time_point{std::chrono::seconds{1'800'000'000}};

/// The sink's rows as PostgreSQL keeps them: what the ledger records and
/// what a sweep pages in.
struct fake_database {
  struct row {
    delivery_job job;
    delivery_status status = delivery_status::pending;
  };
  std::map<std::string, row> rows; // by id, as the pending index orders them

  std::vector<delivery_outcome> reported; // every outcome, in order

  void record(const std::vector<delivery_outcome>& outcomes) {
    reported.insert(reported.end(), outcomes.begin(), outcomes.end());
    for (const auto& o : outcomes) {
      auto& r = rows.at(o.delivery_id);
      r.status = o.status;
      r.job.attempts = o.attempts;
      r.job.next_attempt_at = o.next_attempt_at;
    }
  }
  std::vector<delivery_job> page(const sweep_request& req) const {
    std::vector<delivery_job> out;
    for (auto it = rows.upper_bound(req.after_id); it != rows.end() && static_cast<int>(out.size()) < req.limit; ++it)
      if (it->second.status == delivery_status::pending)
        out.push_back(it->second.job);
    return out;
  }
  std::size_t pending() const {
    std::size_t n = 0;
    for (const auto& [_, r] : rows)
      n += r.status == delivery_status::pending;
    return n;
  }
};

/// Carries out a scheduler's actions the way the sender actor does, with a
/// fake transport (attempts wait here until the test answers them).
struct harness {
  scheduler_policy policy;
  time_point now = t0;
  std::mt19937_64 rng{7};
  fake_database db;
  std::optional<delivery_scheduler> s;
  std::vector<started_attempt> flying;        // attempts started, not answered
  std::vector<std::string> attempted_order;   // every attempt started, in order
  std::optional<sweep_request> sweep;         // a page asked for, not served
  scheduler_actions totals;

  explicit harness(scheduler_policy p) : policy(std::move(p)) { restart(); }

  void restart() { // a new sender: what the old one held is gone
    flying.clear();
    sweep.reset();
    s.emplace(policy, now, rng(), false);
    drain();
  }
  void drain() {
    auto a = s->take_actions();
    db.record(a.outcomes);
    for (auto& attempt : a.attempts) {
      attempted_order.push_back(attempt.id);
      flying.push_back(std::move(attempt));
    }
    if (a.sweep)
      sweep = a.sweep;
    totals.delivered += a.delivered;
    totals.failed_attempts += a.failed_attempts;
    totals.dead += a.dead;
    totals.unknown_found += a.unknown_found;
    totals.safety_passes += a.safety_passes;
    for (std::size_t i = 0; i < a.failures.size(); ++i)
      totals.failures[i] += a.failures[i];
    totals.attempt_seconds.insert(totals.attempt_seconds.end(), a.attempt_seconds.begin(), a.attempt_seconds.end());
    auto problems = s->check(now);
    for (const auto& p : problems)
      ADD_FAILURE() << "invariant: " << p;
  }
  delivery_job new_row(std::optional<std::string> key = std::nullopt) {
    delivery_job job;
    job.id = new_uuid_v7(now, rng);
    job.event_id = new_uuid_v7(now, rng);
    job.sink = policy.sink;
    job.topic = "t";
    job.key = std::move(key);
    job.payload_json = "{}";
    job.next_attempt_at = now;
    db.rows[job.id] = {job, delivery_status::pending};
    return job;
  }
  void dispatch(std::vector<delivery_job> jobs) {
    s->dispatched(std::move(jobs), now);
    drain();
  }
  /// `n` new rows (of `key`, if given), dispatched together.
  void dispatch_new(int n, std::optional<std::string> key = std::nullopt) {
    std::vector<delivery_job> jobs;
    for (int i = 0; i < n; ++i)
      jobs.push_back(new_row(key));
    dispatch(std::move(jobs));
  }
  void serve_sweep(bool fail = false) {
    if (!sweep)
      return;
    auto req = *sweep;
    sweep.reset();
    if (fail)
      s->sweep_failed("connection lost", now);
    else
      s->sweep_loaded(db.page(req), now);
    drain();
  }
  void answer(std::size_t i, attempt_result r) {
    auto attempt = flying.at(i);
    flying.erase(flying.begin() + static_cast<std::ptrdiff_t>(i));
    s->attempted(attempt, r, now);
    drain();
  }
  void answer_all(attempt_result r) {
    while (!flying.empty())
      answer(0, r);
  }
  /// A healthy sink from now on: serves pages, answers every attempt
  /// delivered and fires timers until nothing is pending, within a bound.
  void deliver_everything() {
    const attempt_result ok{attempt_result::verdict::delivered, 200, {}, {}, false, {}};
    for (int i = 0; i < 20'000 && db.pending() != 0 && !::testing::Test::HasFailure(); ++i) {
      if (sweep)
        serve_sweep();
      else if (!flying.empty())
        answer(0, ok);
      else if (!advance_to_timer())
        ADD_FAILURE() << db.pending() << " pending with no timer and nothing under way";
    }
  }
  /// Moves the clock to the scheduler's next timer and fires it.
  bool advance_to_timer() {
    auto at = s->wake_at();
    if (!at)
      return false;
    now = std::max(now, *at);
    s->timer(now);
    drain();
    return true;
  }
};

attempt_result delivered() { return {attempt_result::verdict::delivered, 200, {}, {}, false, {}}; }
attempt_result server_error() { return {attempt_result::verdict::retry, 500, "HTTP 500", {}, false, {}}; }
attempt_result too_many(millis wait) { return {attempt_result::verdict::retry, 429, "HTTP 429", wait, false, {}}; }

scheduler_policy base_policy() {
  scheduler_policy p;
  p.sink = "s";
  p.retry = {20, 100ms, 5s, std::nullopt};
  p.circuit = {1000, 10s};
  p.max_in_flight = 4;
  p.window = 16;
  return p;
}

TEST(delivery_scheduler, failed_attempts_and_the_last_of_a_failed_delivery_are_reported_for_the_history) {
  harness h{base_policy()};
  h.serve_sweep();
  h.dispatch_new(2);
  ASSERT_EQ(h.flying.size(), 2u);
  h.answer(0, delivered()); // the first at its first attempt: no history
  ASSERT_EQ(h.db.reported.size(), 1u);
  EXPECT_FALSE(h.db.reported[0].attempt) << "a first attempt's success writes no history";
  h.now += 40ms;
  auto failure = server_error();
  failure.reason = failure_reason::status;
  failure.response_excerpt = "busy";
  h.answer(0, failure);
  ASSERT_EQ(h.db.reported.size(), 2u);
  const auto& failed = h.db.reported[1];
  ASSERT_TRUE(failed.attempt);
  EXPECT_EQ(failed.attempt->started, t0);
  EXPECT_EQ(failed.attempt->duration, 40ms);
  EXPECT_EQ(failed.attempt->failure, failure_reason::status);
  EXPECT_EQ(failed.attempt->response_excerpt, "busy");
  h.now += 5s; // past its backoff
  h.s->timer(h.now);
  h.drain();
  ASSERT_EQ(h.flying.size(), 1u);
  h.now += 10ms;
  h.answer(0, delivered());
  ASSERT_EQ(h.db.reported.size(), 3u);
  const auto& last = h.db.reported[2];
  EXPECT_EQ(last.status, delivery_status::delivered);
  EXPECT_EQ(last.attempts, 2);
  ASSERT_TRUE(last.attempt) << "the last attempt of a delivery that failed before closes its history";
  EXPECT_EQ(last.attempt->duration, 10ms);
  EXPECT_FALSE(last.attempt->failure);
}

TEST(delivery_scheduler, past_its_lease_a_node_starts_no_attempt_until_the_lease_is_renewed) {
  harness h{base_policy()};
  h.serve_sweep();
  h.s->permit_until(h.now + 1s, h.now);
  h.drain();
  h.dispatch({h.new_row()});
  ASSERT_EQ(h.flying.size(), 1u); // within the lease
  h.answer(0, server_error());    // retried after its backoff...
  h.now += 5s;                    // ...which ends after the lease did (the node was stopped, say)
  h.s->timer(h.now);
  h.drain();
  EXPECT_EQ(h.flying.size(), 0u) << "attempted without a lease: another node may own the sink";
  h.s->permit_until(h.now + 1s, h.now); // renewed
  h.drain();
  EXPECT_EQ(h.flying.size(), 1u);
}

TEST(delivery_scheduler, a_failure_that_comes_back_after_the_lease_ran_out_records_nothing) {
  auto p = base_policy();
  p.retry.max_attempts = 1; // a failure would make it dead at once
  harness h{p};
  h.serve_sweep();
  h.s->permit_until(h.now + 1s, h.now);
  h.drain();
  h.dispatch({h.new_row(), h.new_row()});
  ASSERT_EQ(h.flying.size(), 2u);
  h.now += 5s; // the node stalled; another may own the sink now
  h.answer(0, server_error());
  EXPECT_EQ(h.totals.dead, 0u) << "dead-lettered without a lease: the new owner may be delivering it";
  EXPECT_EQ(h.db.pending(), 2u);
  h.answer(0, delivered()); // a success is a fact, recorded either way
  EXPECT_EQ(h.totals.delivered, 1u);
  EXPECT_EQ(h.db.pending(), 1u);
}

TEST(delivery_scheduler, no_more_requests_start_than_the_sink_says_remain_less_those_under_way) {
  auto p = base_policy();
  p.max_in_flight = 2;
  harness h{p};
  h.serve_sweep();
  h.dispatch_new(6);
  ASSERT_EQ(h.flying.size(), 2u);
  // Two remain; the other request under way may take one: one more may start.
  auto ok = delivered();
  ok.bucket = rate_window{2, 400ms};
  h.answer(0, ok);
  EXPECT_EQ(h.flying.size(), 2u);
  h.answer(0, delivered());
  EXPECT_EQ(h.flying.size(), 1u) << "started beyond what the sink said remains";
  h.answer(0, delivered());
  EXPECT_EQ(h.flying.size(), 0u);
  EXPECT_EQ(h.db.pending(), 3u); // held until the sink's window resets
  h.now += 400ms; // the reset
  h.s->timer(h.now);
  h.drain();
  EXPECT_EQ(h.flying.size(), 2u); // a fresh window: the config's budget again
}

TEST(delivery_scheduler, recovers_pending_rows_at_start_and_delivers_them) {
  harness h{base_policy()};
  for (int i = 0; i < 3; ++i)
    h.new_row();
  h.restart();
  ASSERT_TRUE(h.sweep);
  h.serve_sweep();
  EXPECT_EQ(h.flying.size(), 3u);
  h.answer_all(delivered());
  EXPECT_EQ(h.db.pending(), 0u);
  EXPECT_EQ(h.totals.delivered, 3u);
}

TEST(delivery_scheduler, a_429_on_the_half_open_probe_probes_again_after_the_wait) {
  auto p = base_policy();
  p.circuit = {1, 10s};
  p.max_in_flight = 1;
  harness h{p};
  h.serve_sweep();
  h.dispatch({h.new_row(), h.new_row()});
  h.answer(0, server_error()); // opens the circuit
  ASSERT_EQ(h.s->breaker().state(), circuit_state::open);
  EXPECT_TRUE(h.flying.empty());
  ASSERT_TRUE(h.advance_to_timer()); // the first retry is due, but the circuit holds it
  while (h.flying.empty())
    ASSERT_TRUE(h.advance_to_timer());
  EXPECT_EQ(h.now, t0 + 10s);        // the probe, after the interval
  EXPECT_EQ(h.s->breaker().state(), circuit_state::half_open);
  h.answer(0, too_many(3s));         // what Discord answers right after an outage
  EXPECT_EQ(h.s->breaker().state(), circuit_state::half_open);
  ASSERT_TRUE(h.s->wake_at());
  while (h.flying.empty())
    ASSERT_TRUE(h.advance_to_timer());
  EXPECT_GE(h.now, t0 + 13s);        // no earlier than the sink asked
  EXPECT_LT(h.now, t0 + 20s);        // and not a whole probe interval later
  h.answer(0, delivered());
  EXPECT_EQ(h.s->breaker().state(), circuit_state::closed);
  h.deliver_everything();
  EXPECT_EQ(h.db.pending(), 0u);
}

TEST(delivery_scheduler, a_late_429_of_a_request_from_before_the_circuit_opened_does_not_start_a_second_probe) {
  auto p = base_policy();
  p.circuit = {1, 10s};
  p.max_in_flight = 4;
  harness h{p};
  h.serve_sweep();
  h.dispatch({h.new_row(), h.new_row(), h.new_row()});
  ASSERT_EQ(h.flying.size(), 3u);
  h.answer(0, server_error()); // opens the circuit; two requests still under way
  h.now += 10s;
  h.s->timer(h.now);
  h.drain();
  ASSERT_EQ(h.flying.size(), 3u); // the probe joined them
  ASSERT_TRUE(h.s->breaker().probe_in_flight());
  h.answer(0, too_many(1s)); // an old request's 429, not the probe's
  h.now += 2s;
  h.s->timer(h.now);
  h.drain();
  EXPECT_EQ(h.flying.size(), 2u) << "a second probe went out while the first was under way";
  EXPECT_TRUE(h.s->breaker().probe_in_flight());
}

TEST(delivery_scheduler, a_dispatch_lost_between_actors_is_found_by_the_safety_sweep_and_counted) {
  auto p = base_policy();
  p.safety_sweep = 30s;
  harness h{p};
  h.serve_sweep();
  h.new_row(); // committed, but its dispatch never arrives
  h.dispatch({h.new_row()});
  h.answer_all(delivered());
  EXPECT_EQ(h.db.pending(), 1u);
  ASSERT_TRUE(h.advance_to_timer());
  EXPECT_EQ(h.now, t0 + 30s);
  EXPECT_EQ(h.totals.safety_passes, 1u);
  h.serve_sweep();
  EXPECT_EQ(h.totals.unknown_found, 1u);
  h.answer_all(delivered());
  EXPECT_EQ(h.db.pending(), 0u);
}

TEST(delivery_scheduler, a_safety_sweep_that_finds_only_held_rows_counts_nothing) {
  auto p = base_policy();
  p.safety_sweep = 30s;
  harness h{p};
  h.serve_sweep();
  h.dispatch({h.new_row(), h.new_row()}); // attempts under way across the pass
  h.now += 30s;
  h.s->timer(h.now);
  h.drain();
  h.serve_sweep();
  EXPECT_EQ(h.totals.unknown_found, 0u);
}

TEST(delivery_scheduler, each_attempt_s_duration_and_each_failure_s_reason_are_counted) {
  auto p = base_policy();
  p.attempt_deadline = 60s;
  p.safety_sweep = 0ms;
  p.retry.base = 1s;
  harness h{p};
  h.serve_sweep();
  h.dispatch_new(3);
  ASSERT_EQ(h.flying.size(), 3u);
  h.now += 250ms;
  attempt_result refused{attempt_result::verdict::retry, 0, "connect: Connection refused", {}, false, {}};
  refused.reason = failure_reason::connect;
  h.answer(0, refused);
  h.now += 250ms;
  attempt_result limited{attempt_result::verdict::retry, 429, "HTTP 429", 2s, false, {}};
  limited.reason = failure_reason::rate_limited;
  h.answer(0, limited);
  h.answer(0, delivered());
  ASSERT_EQ(h.totals.attempt_seconds.size(), 3u);
  EXPECT_DOUBLE_EQ(h.totals.attempt_seconds[0], 0.25);
  EXPECT_DOUBLE_EQ(h.totals.attempt_seconds[1], 0.5);
  EXPECT_DOUBLE_EQ(h.totals.attempt_seconds[2], 0.5);
  EXPECT_EQ(h.totals.failures[static_cast<std::size_t>(failure_reason::connect)], 1u);
  EXPECT_EQ(h.totals.failures[static_cast<std::size_t>(failure_reason::rate_limited)], 1u);
  EXPECT_EQ(h.totals.failed_attempts, 2u);
  // An attempt that never answers fails at its deadline, as a timeout.
  while (h.flying.empty())
    ASSERT_TRUE(h.advance_to_timer());
  const auto dropped = h.flying.size(); // the transport lost them all
  h.flying.clear();
  const auto failed_before = h.totals.failed_attempts;
  while (h.totals.failed_attempts == failed_before)
    ASSERT_TRUE(h.advance_to_timer());
  EXPECT_EQ(h.totals.failures[static_cast<std::size_t>(failure_reason::timeout)], dropped);
  EXPECT_EQ(h.totals.failed_attempts, failed_before + dropped);
}

TEST(delivery_scheduler, an_attempt_that_never_answers_fails_at_its_deadline_and_is_retried) {
  auto p = base_policy();
  p.attempt_deadline = 60s;
  p.safety_sweep = 0ms;
  p.retry.base = 10s; // a backoff long enough to answer during it
  harness h{p};
  h.serve_sweep();
  h.dispatch({h.new_row()});
  ASSERT_EQ(h.flying.size(), 1u);
  auto lost = h.flying.front();
  h.flying.clear(); // the transport dropped it
  ASSERT_TRUE(h.advance_to_timer());
  EXPECT_EQ(h.now, t0 + 60s);
  EXPECT_EQ(h.totals.failed_attempts, 1u);
  EXPECT_EQ(h.db.rows.at(lost.id).job.attempts, 1);
  ASSERT_TRUE(h.flying.empty()); // backing off
  h.s->attempted(lost, delivered(), h.now); // the late result: counted as failed already, ignored
  h.drain();
  EXPECT_EQ(h.db.pending(), 1u);
  while (h.flying.empty())
    ASSERT_TRUE(h.advance_to_timer());
  // The retry is under way when the first attempt's result finally comes:
  // it is not the retry's, and changes nothing.
  h.s->attempted(lost, {attempt_result::verdict::permanent, 400, "HTTP 400", {}, false, {}}, h.now);
  h.drain();
  EXPECT_EQ(h.s->in_flight(), 1u);
  EXPECT_EQ(h.db.pending(), 1u);
  h.answer(0, delivered());
  EXPECT_EQ(h.db.pending(), 0u);
}

TEST(delivery_scheduler, a_rate_limit_spaces_attempts_with_one_timer) {
  auto p = base_policy();
  p.rate = {1.0, 1.0};
  harness h{p};
  h.serve_sweep();
  h.dispatch({h.new_row(), h.new_row(), h.new_row()});
  EXPECT_EQ(h.flying.size(), 1u);
  ASSERT_TRUE(h.s->wake_at());
  EXPECT_EQ(*h.s->wake_at(), t0 + 1s);
  h.answer_all(delivered());
  ASSERT_TRUE(h.advance_to_timer());
  EXPECT_EQ(h.flying.size(), 1u);
}

TEST(delivery_scheduler, per_key_deliveries_go_in_commit_order_one_at_a_time) {
  auto p = base_policy();
  p.per_key_order = true;
  p.max_in_flight = 8;
  harness h{p};
  h.serve_sweep();
  std::vector<delivery_job> jobs;
  for (int i = 0; i < 3; ++i) {
    jobs.push_back(h.new_row("a"));
    jobs.push_back(h.new_row("b"));
    h.now += 1ms;
  }
  h.dispatch(jobs);
  EXPECT_EQ(h.flying.size(), 2u); // one per key
  h.answer(0, server_error());    // a's first fails: b goes on, a waits
  EXPECT_EQ(h.flying.size(), 1u);
  h.deliver_everything();
  EXPECT_EQ(h.db.pending(), 0u);
  std::vector<std::string> a_order, b_order;
  for (const auto& id : h.attempted_order)
    (h.db.rows.at(id).job.key == "a" ? a_order : b_order).push_back(id);
  EXPECT_TRUE(std::is_sorted(b_order.begin(), b_order.end()));
  // a: its first twice (failed, then delivered), then the rest in order.
  ASSERT_EQ(a_order.size(), 4u);
  EXPECT_EQ(a_order[0], a_order[1]);
  EXPECT_TRUE(std::is_sorted(a_order.begin(), a_order.end()));
}

TEST(delivery_scheduler, a_broken_sink_dead_letters_what_it_holds_until_resumed) {
  harness h{base_policy()};
  h.serve_sweep();
  h.dispatch({h.new_row(), h.new_row(), h.new_row(), h.new_row(), h.new_row()});
  attempt_result gone{attempt_result::verdict::permanent, 404, "unknown webhook", {}, true, {}};
  h.answer(0, gone);
  EXPECT_EQ(h.s->broken(), "unknown webhook");
  h.answer_all(server_error()); // in flight when it broke: dead too, not retried
  EXPECT_EQ(h.db.pending(), 0u);
  h.s->resume(h.now);
  h.drain();
  h.dispatch({h.new_row()});
  EXPECT_EQ(h.flying.size(), 1u);
}

TEST(delivery_scheduler, the_next_sender_keeps_the_quiet_and_the_broken_state_its_predecessor_left) {
  harness old_owner{base_policy()};
  old_owner.serve_sweep();
  old_owner.dispatch({old_owner.new_row()});
  old_owner.answer(0, too_many(6s));
  old_owner.now += 1s;
  EXPECT_EQ(old_owner.s->quiet_for(old_owner.now), 5s);

  // What it hands over: 5 s more of quiet. The next sender starts nothing before then.
  harness next{base_policy()};
  next.s->restore("", next.now + 5s, next.now);
  next.drain();
  next.serve_sweep();
  next.dispatch({next.new_row()}); // due now
  EXPECT_TRUE(next.flying.empty());
  ASSERT_TRUE(next.s->wake_at());
  EXPECT_EQ(*next.s->wake_at(), next.now + 5s);
  next.advance_to_timer();
  EXPECT_EQ(next.flying.size(), 1u);

  // A sink its predecessor found gone: nothing is sent, everything held dies.
  harness after_broken{base_policy()};
  after_broken.serve_sweep();
  after_broken.s->restore("unknown webhook", after_broken.now, after_broken.now);
  after_broken.drain();
  after_broken.dispatch({after_broken.new_row(), after_broken.new_row()});
  EXPECT_TRUE(after_broken.flying.empty());
  EXPECT_EQ(after_broken.totals.dead, 2u);
  EXPECT_EQ(after_broken.s->broken(), "unknown webhook");
}

TEST(delivery_scheduler, an_open_circuit_is_handed_over_as_quiet_until_its_next_probe) {
  auto policy = base_policy();
  policy.circuit = {2, 10s};
  harness h{policy};
  h.serve_sweep();
  h.dispatch({h.new_row(), h.new_row()});
  h.answer_all(server_error());
  EXPECT_EQ(h.s->breaker().state(), circuit_state::open);
  EXPECT_GT(h.s->quiet_for(h.now), 9s);
  EXPECT_LE(h.s->quiet_for(h.now), 10s);
}

TEST(delivery_scheduler, draining_starts_nothing_and_lets_attempts_under_way_finish) {
  harness h{base_policy()};
  h.serve_sweep();
  h.dispatch_new(6);
  ASSERT_EQ(h.flying.size(), 4u);
  h.s->drain(h.now);
  h.drain();
  EXPECT_EQ(h.s->in_flight(), 4u);
  h.answer(0, server_error()); // a retry that is due at once stays unattempted
  h.answer_all(delivered());
  EXPECT_EQ(h.s->in_flight(), 0u);
  EXPECT_TRUE(h.flying.empty());
  h.now += 10s;
  h.s->timer(h.now);
  h.drain();
  EXPECT_TRUE(h.flying.empty());
  EXPECT_EQ(h.db.pending(), 3u); // still pending: the next process sends them
}

// Seeded random schedules of everything that can happen to a sender:
// dispatches (some lost), results of every kind, timers, pages (some
// failing), pauses, crashes. After every step the invariants hold; after
// the schedule, a healthy sink receives everything still pending.
TEST(delivery_scheduler, random_schedules_never_leave_due_work_without_a_timer) {
  for (std::uint64_t seed = 1; seed <= 400; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 pick{seed};
    auto p = base_policy();
    p.per_key_order = seed % 2 == 0;
    p.circuit = {static_cast<int>(pick() % 4), millis{1000 + static_cast<int>(pick() % 5000)}};
    p.max_in_flight = 1 + static_cast<int>(pick() % 4);
    p.window = 4 + pick() % 12;
    p.rate = seed % 3 == 0 ? rate_limit{5.0, 2.0} : rate_limit{};
    p.retry = {3 + static_cast<int>(pick() % 6), 50ms, 2s, seed % 5 == 0 ? std::optional<millis>{20s} : std::nullopt};
    p.safety_sweep = 10s;
    p.attempt_deadline = 15s;
    harness h{p};
    h.rng.seed(seed);
    auto chance = [&](int percent) { return static_cast<int>(pick() % 100) < percent; };
    const char* keys[] = {"k1", "k2", "k3"};
    for (int step = 0; step < 300 && !::testing::Test::HasFailure(); ++step) {
      switch (pick() % 10) {
        case 0:
        case 1: { // a writer commits and dispatches (or its dispatch is lost)
          std::vector<delivery_job> jobs;
          for (int n = 1 + static_cast<int>(pick() % 4); n > 0; --n) {
            auto job = h.new_row(chance(70) ? std::optional<std::string>{keys[pick() % 3]} : std::nullopt);
            if (!chance(10))
              jobs.push_back(job);
          }
          h.dispatch(std::move(jobs));
          break;
        }
        case 2:
        case 3:
        case 4: { // the transport answers one attempt
          if (h.flying.empty())
            break;
          auto i = pick() % h.flying.size();
          switch (pick() % 8) {
            case 0: h.answer(i, server_error()); break;
            case 1: h.answer(i, too_many(millis{100 + static_cast<int>(pick() % 3000)})); break;
            case 2: h.answer(i, {attempt_result::verdict::retry, 0, "connection refused", {}, false, {}}); break;
            case 3: h.answer(i, {attempt_result::verdict::permanent, 400, "HTTP 400", {}, false, {}}); break;
            case 4:
              if (chance(10))
                h.answer(i, {attempt_result::verdict::permanent, 404, "gone", {}, true, {}});
              break;
            case 5: // lost: only its deadline moves it
              h.flying.erase(h.flying.begin() + static_cast<std::ptrdiff_t>(i));
              break;
            default: h.answer(i, delivered());
          }
          break;
        }
        case 5: // the page asked for arrives, or the database fails
          h.serve_sweep(chance(15));
          break;
        case 6: // time passes: to the next timer, or a little
          if (chance(50) || !h.advance_to_timer()) {
            h.now += millis{static_cast<int>(pick() % 2000)};
            h.s->timer(h.now);
            h.drain();
          }
          break;
        case 7:
          if (chance(40)) {
            h.s->pause(h.now);
          } else if (chance(50)) {
            h.s->resume(h.now);
          } else if (chance(50)) {
            // A cluster lease renewed for a while (it may run out before the next renewal).
            h.s->permit_until(h.now + millis{static_cast<int>(pick() % 2000)}, h.now);
          } else {
            h.s->permit_until(std::nullopt, h.now);
          }
          h.drain();
          break;
        case 8:
          h.s->sweep_requested(h.now);
          h.drain();
          break;
        case 9:
          if (chance(20))
            h.restart(); // the sender crashed; its supervisor starts another
          break;
      }
    }
    // A healthy sink from now on: everything pending is delivered, or dead
    // for attempts or age spent before, and nothing waits forever.
    h.s->resume(h.now);
    h.s->permit_until(std::nullopt, h.now);
    h.drain();
    h.deliver_everything();
    EXPECT_EQ(h.db.pending(), 0u);
  }
}

} // namespace
