#pragma once
// One sink's delivery schedule, as a pure state machine on injected time.
//
// A sender actor used to keep this state in a dozen fields (window, ready
// queue, retry timers, breaker, rate-limit pause, sweep cursor, per-key
// queues) whose invariants lived in comments, and each stuck state found in
// production (a half-open circuit answered with 429, a lost dispatch) came
// from one path forgetting a timer. Here every input is a method, every
// decision is an action the shell carries out, and one rule is checked in
// code after every step: whatever is held and allowed to run has either an
// action under way or a time at which timer() must be called (wake_at()).
//
// The shell (actors/sender_actor.cpp) feeds it messages, starts the attempts
// it names, records the outcomes, loads the pages it asks for, and keeps one
// timer at wake_at(). PostgreSQL owns the truth: anything held here can be
// lost with the actor, and a sweep finds it again.
#include "core/backoff.hpp"
#include "core/circuit_breaker.hpp"
#include "core/clock.hpp"
#include "core/delivery.hpp"
#include "core/token_bucket.hpp"

#include <cstdint>
#include <array>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace txrelay {

struct scheduler_policy {
  std::string sink;              // names the sink in notices
  retry_policy retry;
  circuit_policy circuit;
  rate_limit rate;
  bool per_key_order = false;    // ordering: per_key
  int max_in_flight = 8;
  std::size_t window = 1000;     // deliveries held at most; the rest wait in PostgreSQL
  // A pass over the sink's pending rows this often, even when the sender
  // believes it holds them all: a dispatch or an outcome lost between actors
  // is then picked up within this bound. 0: never.
  millis safety_sweep{30'000};
  millis sweep_retry{1'000};     // after a failed page load
  // An attempt whose result has not come back after this long is counted
  // failed (the transport's own timeouts should always answer first).
  millis attempt_deadline{60'000};
  // A row a safety pass finds and the sender does not hold counts as
  // unknown (a lost dispatch) only when it was created this long before the
  // pass started: a dispatch trails its commit by milliseconds.
  millis unknown_grace{5'000};
};

/// A page of pending rows to load: ids after `after_id` (empty: from the
/// start), in id order, at most `limit`.
struct sweep_request {
  std::string after_id;
  int limit = 0;
};

struct scheduler_notice {
  enum class level { info, warn, error };
  level severity = level::info;
  std::string text;
};

/// One attempt to start: the delivery (job(id)) and the attempt's number,
/// which its result must carry back. A delivery's id is the same on every
/// attempt, so the number is what tells a late result of an attempt given
/// up on (past its deadline) from the result of the attempt under way now.
struct started_attempt {
  std::string id;
  std::uint64_t number = 0;
};

/// What a step decided; the shell carries it out.
struct scheduler_actions {
  std::vector<started_attempt> attempts; // start these now
  std::vector<delivery_outcome> outcomes; // record these (dead ones without compensation)
  std::vector<delivery_job> dead_jobs;    // the deliveries of the dead outcomes, for their on_dead
  std::optional<sweep_request> sweep;     // load this page, then sweep_loaded or sweep_failed
  std::vector<scheduler_notice> notices;  // for the log
  // For metrics: what this step counted.
  std::uint64_t delivered = 0;
  std::uint64_t failed_attempts = 0;
  std::uint64_t dead = 0;
  std::uint64_t unknown_found = 0;        // pending rows a safety pass found that nothing had told the sender of
  std::uint64_t safety_passes = 0;
  std::vector<double> commit_to_attempt_seconds;
  std::vector<double> attempt_seconds;    // how long each attempt that ended this step took
  std::array<std::uint64_t, failure_reason_count> failures{}; // failed attempts, by failure_reason
  std::string last_error;                 // the latest failed attempt's error, if any this step
};

class delivery_scheduler {
public:
  delivery_scheduler(scheduler_policy policy, time_point now, std::uint64_t seed, bool paused);

  // -- inputs: each may add actions (take_actions) and move wake_at ---------

  /// Rows a writer committed (or a replay reset) for this sink.
  void dispatched(std::vector<delivery_job> jobs, time_point now);
  /// The page asked for by the last sweep action.
  void sweep_loaded(std::vector<delivery_job> page, time_point now);
  void sweep_failed(const std::string& why, time_point now);
  /// An attempt's result. A result for an attempt not in flight (its
  /// deadline passed, or the sender restarted) is ignored.
  void attempted(const started_attempt& attempt, const attempt_result& result, time_point now);
  /// The shell's timer: call at (or after) wake_at().
  void timer(time_point now);
  void pause(time_point now);
  /// An operator says the sink is fixed: pause, broken state and circuit are cleared.
  void resume(time_point now);
  /// Rows may be pending that the sender does not hold (a replay, a supervisor's hint).
  void sweep_requested(time_point now);
  /// This node may send to the sink until `until` (its lease, on this
  /// node's clock, less a margin); nullopt: always (no cluster). Past it no
  /// attempt starts, nothing is dead-lettered, and a failed attempt that was
  /// under way records nothing (only a success is recorded) until a renewal
  /// comes: another node may own the sink by then.
  void permit_until(std::optional<time_point> until, time_point now);
  /// What the sink's previous sender (on another node, or before a
  /// restart) learned: it said it is gone (`broken`, non-empty), and it asked
  /// for no request before `quiet_until`.
  void restore(std::string broken, time_point quiet_until, time_point now);
  /// The process is stopping: no attempt starts from now on; those under
  /// way finish (in_flight() tells when none is left). Not undone: a
  /// drained scheduler is thrown away.
  void drain(time_point now);

  /// The actions decided since the last call.
  scheduler_actions take_actions();
  /// When timer() must run next; nullopt: only an input can change anything.
  std::optional<time_point> wake_at() const;

  // -- observers ---------------------------------------------------------------
  const delivery_job& job(const std::string& id) const { return window_.at(id); }
  std::size_t held() const { return window_.size(); }
  std::size_t in_flight() const { return flying_.size(); }
  bool paused() const { return paused_; }
  const std::string& broken() const { return broken_; }
  const circuit_breaker& breaker() const { return breaker_; }
  time_point rate_paused_until() const { return budget_.paused_until(); }
  /// How long the sink wants no request, as its next sender must know: its
  /// own pause (Retry-After, an exhausted window) or an open circuit's wait.
  millis quiet_for(time_point now) const;

  /// Every broken invariant, described; empty when the state is consistent.
  /// Tests call it after every step.
  std::vector<std::string> check(time_point now) const;

private:
  void add_job(delivery_job job, time_point now);
  void schedule(const delivery_job& job, time_point now);
  void activate_next(const std::string& key, time_point now);
  void forget(const std::string& id, time_point now);
  void unschedule(const std::string& id);
  void fail_attempt(delivery_job& job, const attempt_result& r, attempt_record record, time_point now);
  delivery_outcome dead_letter(const delivery_job& job, std::string why, int http_status = 0);
  void dead_letter_all();
  void note_circuit(const attempt_result& r, bool was_probe, time_point now);
  void pump(time_point now);
  void maybe_sweep(time_point now);
  void start_pass(bool safety, time_point now);
  void leave_behind(const std::string& id);
  void restart_if_cursor_passed();
  void notice(scheduler_notice::level level, std::string text);
  bool due_now(const delivery_job& job) const; // held, not under way or waiting, and its key's turn
  bool live_ready() const;

  scheduler_policy policy_;
  jitter_source rng_;
  token_bucket budget_;
  circuit_breaker breaker_;
  bool paused_ = false;
  bool draining_ = false;
  std::optional<time_point> permitted_until_; // the lease's end; none: no cluster
  bool permitted(time_point now) const { return !permitted_until_ || now < *permitted_until_; }
  std::string broken_; // why the sink is gone for good; empty: it is not

  std::unordered_map<std::string, delivery_job> window_; // every delivery held
  std::deque<std::string> ready_;                        // due now, in order (may name forgotten ids)
  std::set<std::pair<time_point, std::string>> retries_; // held, due later
  std::unordered_map<std::string, time_point> retry_at_; // the same, by id
  struct attempt_under_way {
    std::uint64_t number;
    time_point deadline;
    time_point started;
  };
  std::unordered_map<std::string, attempt_under_way> flying_;    // attempts under way, by delivery id
  std::uint64_t attempts_started_ = 0;
  std::optional<started_attempt> probe_;                 // the half-open circuit's probe, while under way
  // The pump stopped on the rate limit or the circuit: when it may go on.
  std::optional<time_point> blocked_until_;
  // The sink's own budget as its last answer announced it (X-RateLimit-*):
  // requests that may still start before its reset.
  struct announced_window {
    long long left = 0;
    time_point resets_at{};
  };
  std::optional<announced_window> announced_;

  // ordering: per_key. Each key's held deliveries in id (= commit) order;
  // only the active one is ever scheduled, so a failing delivery holds back
  // its own key and no other.
  std::unordered_map<std::string, std::set<std::string>> by_key_;
  std::unordered_map<std::string, std::string> active_for_key_;
  std::vector<delivery_job> dispatched_during_sweep_; // per_key: merged in order when the pass ends

  // Sweeping pages pending rows in by id: at start (recovery), when pushes
  // were dropped because the window was full, and every safety_sweep.
  bool sweep_needed_ = true;
  bool sweeping_ = false;
  bool safety_pass_ = false;             // the pass under way checks for lost work
  time_point pass_started_{};
  bool overflow_during_sweep_ = false;
  std::string sweep_cursor_;
  std::size_t page_limit_ = 0;           // of the page being loaded
  bool restart_after_pass_ = false;      // a row behind the cursor needs a pass from the start
  // The lowest id this pass left to the database (dropped from a full
  // window, or set aside during a page that came back full). Writers commit
  // side by side, so such a row can commit after rows with higher ids: once
  // a page moves the cursor past it, only a pass from the start finds it.
  std::string lowest_left_behind_;
  std::unordered_set<std::string> finished_during_sweep_;
  std::optional<time_point> sweep_retry_at_;
  std::optional<time_point> next_safety_pass_;

  // The deliveries finished last, oldest first. A sweep can see rows a
  // writer just committed before that writer's dispatch of them arrives;
  // once finished, such a dispatch must not send them again. Bounded: a
  // dispatch trails its commit by far less than this many completions.
  std::unordered_set<std::string> recently_finished_;
  std::deque<std::string> finished_order_;

  scheduler_actions actions_;
};

} // namespace txrelay
