#include "core/delivery_scheduler.hpp"

#include "core/ids.hpp"

#include <algorithm>

namespace txrelay {

namespace {

/// Where retry.max_age counts from: the creation time (delivery ids are
/// UUIDv7 made at ingest, so the id carries it), or a later replay.
time_point age_origin(const delivery_job& job) {
  auto created = uuid_v7_time(job.id).value_or(time_point{});
  return job.replayed_at ? std::max(created, *job.replayed_at) : created;
}

std::optional<time_point> earliest(std::optional<time_point> a, std::optional<time_point> b) {
  if (!a)
    return b;
  if (!b)
    return a;
  return std::min(*a, *b);
}

} // namespace

delivery_scheduler::delivery_scheduler(scheduler_policy policy, time_point now, std::uint64_t seed, bool paused)
  : policy_(std::move(policy)), rng_(seed), budget_(policy_.rate, now), breaker_(policy_.circuit), paused_(paused) {
  if (policy_.safety_sweep.count() > 0)
    next_safety_pass_ = now + policy_.safety_sweep;
  // The first pass is recovery: everything pending from before this start.
  maybe_sweep(now);
}

void delivery_scheduler::notice(scheduler_notice::level level, std::string text) {
  actions_.notices.push_back({level, "sink " + policy_.sink + ": " + std::move(text)});
}

scheduler_actions delivery_scheduler::take_actions() {
  scheduler_actions out = std::move(actions_);
  actions_ = {};
  return out;
}

// -- holding and scheduling ----------------------------------------------------

void delivery_scheduler::schedule(const delivery_job& job, time_point now) {
  if (job.next_attempt_at <= now) {
    ready_.push_back(job.id);
  } else {
    retries_.emplace(job.next_attempt_at, job.id);
    retry_at_[job.id] = job.next_attempt_at;
  }
}

void delivery_scheduler::unschedule(const std::string& id) {
  if (auto it = retry_at_.find(id); it != retry_at_.end()) {
    retries_.erase({it->second, id});
    retry_at_.erase(it);
  }
  // ready_ may keep naming it: the pump skips what is not held or is flying.
}

void delivery_scheduler::activate_next(const std::string& key, time_point now) {
  auto q = by_key_.find(key);
  if (q == by_key_.end() || q->second.empty()) {
    by_key_.erase(key);
    active_for_key_.erase(key);
    return;
  }
  auto& active = active_for_key_[key];
  const auto& oldest = *q->second.begin();
  if (!active.empty()) {
    // A sweep brought a row older than the active one: it goes first, unless
    // the active one is already being attempted.
    if (active == oldest || flying_.count(active) != 0)
      return;
    unschedule(active);
  }
  active = oldest;
  schedule(window_.at(active), now);
}

void delivery_scheduler::add_job(delivery_job job, time_point now) {
  if (window_.count(job.id) != 0)
    return;
  auto id = job.id;
  auto [it, _] = window_.emplace(id, std::move(job));
  if (policy_.per_key_order && it->second.key) {
    const auto key = *it->second.key;
    by_key_[key].insert(id);
    activate_next(key, now);
    return;
  }
  schedule(it->second, now);
}

void delivery_scheduler::forget(const std::string& id_ref, time_point now) {
  auto it = window_.find(id_ref);
  if (it == window_.end())
    return;
  std::string id = id_ref; // id_ref may name the entry erased below
  std::optional<std::string> key;
  if (policy_.per_key_order && it->second.key)
    key = *it->second.key;
  unschedule(id);
  window_.erase(it);
  if (sweeping_)
    finished_during_sweep_.insert(id);
  if (recently_finished_.insert(id).second) {
    finished_order_.push_back(id);
    if (finished_order_.size() > 2 * policy_.window + 64) {
      recently_finished_.erase(finished_order_.front());
      finished_order_.pop_front();
    }
  }
  if (key) {
    auto& held = by_key_[*key];
    held.erase(id);
    auto active = active_for_key_.find(*key);
    if (active != active_for_key_.end() && active->second == id)
      active->second.clear();
    activate_next(*key, now);
  }
}

// -- outcomes ------------------------------------------------------------------

delivery_outcome delivery_scheduler::dead_letter(const delivery_job& job, std::string why, int http_status) {
  actions_.dead += 1;
  actions_.dead_jobs.push_back(job);
  notice(scheduler_notice::level::warn,
         "delivery " + job.id + " is dead after " + std::to_string(job.attempts) + " attempt(s): " + why);
  return {job.id, job.event_id, job.sink, delivery_status::dead, job.attempts, {}, http_status, std::move(why), {}, {}};
}

void delivery_scheduler::fail_attempt(delivery_job& job, const attempt_result& r, attempt_record record,
                                      time_point now) {
  const auto& policy = policy_.retry;
  actions_.failed_attempts += 1;
  actions_.failures[static_cast<std::size_t>(r.reason)] += 1;
  if (!r.error.empty())
    actions_.last_error = r.error;
  if (r.outcome == attempt_result::verdict::permanent || attempts_exhausted(policy, job.attempts) ||
      !broken_.empty()) {
    actions_.outcomes.push_back(dead_letter(job, r.error, r.http_status));
    actions_.outcomes.back().attempt = std::move(record);
    forget(job.id, now);
    return;
  }
  auto delay = backoff_delay(policy, job.attempts, rng_, r.retry_after);
  if (past_max_age(policy, age_origin(job), now + delay)) {
    actions_.outcomes.push_back(
        dead_letter(job, r.error + " (no further attempt: older than retry.max_age)", r.http_status));
    actions_.outcomes.back().attempt = std::move(record);
    forget(job.id, now);
    return;
  }
  job.next_attempt_at = now + delay;
  actions_.outcomes.push_back({job.id, job.event_id, job.sink, delivery_status::pending, job.attempts,
                               job.next_attempt_at, r.http_status, r.error, {}, std::move(record)});
  if (policy_.per_key_order && job.key) {
    // A sweep may have brought an older row of this key while this one was
    // in flight: that one goes first now.
    auto key = *job.key;
    if (auto active = active_for_key_.find(key); active != active_for_key_.end() && active->second == job.id) {
      active->second.clear();
      activate_next(key, now);
      return;
    }
  }
  schedule(job, now);
}

void delivery_scheduler::dead_letter_all() {
  // Everything held goes through the pump, which dead-letters it without an
  // attempt, in id order; what is in flight waits for its result.
  std::vector<std::string> ids;
  for (const auto& [id, _] : window_)
    if (flying_.count(id) == 0)
      ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (const auto& id : ids) {
    unschedule(id);
    ready_.push_back(id);
  }
}

void delivery_scheduler::note_circuit(const attempt_result& r, bool was_probe, time_point now) {
  // The breaker counts what says whether the sink is up: an answer that is
  // not a server error. A 429 is the sink working as designed but asking to
  // wait: on a half-open probe, the circuit stays half-open and probes again
  // after the wait (a sink just back from an outage often answers so).
  bool rate_limited = r.http_status == 429;
  bool sink_down = r.outcome == attempt_result::verdict::retry && !rate_limited &&
                   (r.http_status == 0 || r.http_status >= 500);
  if (rate_limited) {
    // Only the probe's answer decides the half-open circuit: a late 429 of
    // a request from before it opened must not let a second probe go.
    if (was_probe) {
      auto wait = r.retry_after ? *r.retry_after : policy_.circuit.probe_interval;
      breaker_.on_inconclusive(now + wait);
    }
  } else if (sink_down) {
    auto before = breaker_.state();
    breaker_.on_failure(now);
    if (before != circuit_state::open && breaker_.state() == circuit_state::open)
      notice(scheduler_notice::level::warn,
             "circuit open after " + std::to_string(breaker_.consecutive_failures()) + " consecutive failures (" +
                 r.error + "); probing every " + std::to_string(policy_.circuit.probe_interval.count()) + " ms");
  } else {
    if (breaker_.state() != circuit_state::closed)
      notice(scheduler_notice::level::info, "circuit closed, the sink answers again");
    breaker_.on_success();
  }
}

// -- inputs ----------------------------------------------------------------------

void delivery_scheduler::dispatched(std::vector<delivery_job> jobs, time_point now) {
  for (auto& job : jobs) {
    if (recently_finished_.count(job.id) != 0)
      continue; // a sweep found it first, and it is done
    auto held = window_.size() + dispatched_during_sweep_.size();
    if (held < policy_.window && policy_.per_key_order && sweeping_) {
      // Per-key order: rows the pass is loading may be older than this one.
      dispatched_during_sweep_.push_back(std::move(job));
      continue;
    }
    if (held >= policy_.window || (policy_.per_key_order && sweep_needed_)) {
      // Dropped from memory only: the row is pending in PostgreSQL and a pass
      // pages it in once the window drains. Per key, nothing newer may be
      // held while an older row waits in the database.
      sweep_needed_ = true;
      if (sweeping_)
        overflow_during_sweep_ = true;
      // Behind the cursor of a pass in progress (a replayed row keeps its old
      // id; another writer's group committed late): the pass will not reach
      // it, so the next one starts over.
      leave_behind(job.id);
      continue;
    }
    add_job(std::move(job), now);
  }
  pump(now);
}

void delivery_scheduler::attempted(const started_attempt& attempt, const attempt_result& r, time_point now) {
  const auto& id = attempt.id;
  auto under_way = flying_.find(id);
  if (under_way == flying_.end() || under_way->second.number != attempt.number)
    return; // not in flight: its deadline passed (and it was counted then), or the sender restarted
  actions_.attempt_seconds.push_back(std::chrono::duration<double>(now - under_way->second.started).count());
  attempt_record record{under_way->second.started,
                        std::chrono::duration_cast<millis>(now - under_way->second.started), std::nullopt,
                        r.response_excerpt};
  if (r.outcome != attempt_result::verdict::delivered)
    record.failure = r.reason;
  flying_.erase(under_way);
  bool was_probe = probe_ && probe_->id == id && probe_->number == attempt.number;
  if (was_probe)
    probe_.reset();
  // A wait the sink asked for (429 retry_after, Retry-After, an exhausted
  // X-RateLimit-Remaining) holds back every request to it, not just this
  // delivery's next attempt.
  if (r.retry_after)
    budget_.pause_until(now + *r.retry_after);
  // What the sink says remains until its reset, less the requests still
  // under way (each may take one): that many more may start, then none
  // until the reset.
  if (r.bucket) {
    auto left = r.bucket->remaining - static_cast<long long>(flying_.size());
    if (left <= 0) {
      budget_.pause_until(now + r.bucket->resets_in);
      announced_.reset();
    } else {
      announced_ = announced_window{left, now + r.bucket->resets_in};
    }
  }
  note_circuit(r, was_probe, now);
  if (r.sink_broken && broken_.empty() && permitted(now)) {
    broken_ = r.error.empty() ? std::string{"the sink is gone"} : r.error;
    notice(scheduler_notice::level::error,
           "broken: " + broken_ + "; its deliveries are dead-lettered until an operator resumes it");
    dead_letter_all();
  }
  auto it = window_.find(id);
  if (it != window_.end()) {
    auto& job = it->second;
    job.attempts += 1;
    if (r.outcome == attempt_result::verdict::delivered) {
      actions_.delivered += 1;
      actions_.outcomes.push_back(
          {job.id, job.event_id, job.sink, delivery_status::delivered, job.attempts, {}, r.http_status, {}, {}, {}});
      // The last attempt of a delivery that failed before (a replay starts
      // its count again) closes its history; a first success has none.
      if (job.attempts > 1 || job.replayed_at)
        actions_.outcomes.back().attempt = std::move(record);
      forget(id, now);
    } else if (!permitted(now)) {
      // The lease ran out while the attempt was under way: another node may
      // own the sink by now and be retrying this delivery. A failure here
      // changes nothing (no retry time, no dead letter); the row stays as it
      // is for whoever holds the lease. A success is a fact, and recorded.
      forget(id, now);
    } else {
      fail_attempt(job, r, std::move(record), now);
    }
  }
  pump(now);
}

void delivery_scheduler::timer(time_point now) {
  while (!retries_.empty() && retries_.begin()->first <= now) {
    auto id = retries_.begin()->second;
    retries_.erase(retries_.begin());
    retry_at_.erase(id);
    ready_.push_back(std::move(id));
  }
  // Attempts whose result never came: counted failed, so neither the
  // delivery nor a half-open circuit waits for them forever.
  std::vector<started_attempt> overdue;
  for (const auto& [id, attempt] : flying_)
    if (attempt.deadline <= now)
      overdue.push_back({id, attempt.number});
  std::sort(overdue.begin(), overdue.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  for (const auto& attempt : overdue) {
    attempt_result lost;
    lost.reason = failure_reason::timeout;
    lost.error = "no result from the attempt within " + std::to_string(policy_.attempt_deadline.count()) + " ms";
    attempted(attempt, lost, now);
  }
  if (sweep_retry_at_ && *sweep_retry_at_ <= now) {
    sweep_retry_at_.reset();
    sweep_needed_ = true;
  }
  if (next_safety_pass_ && *next_safety_pass_ <= now) {
    next_safety_pass_ = now + policy_.safety_sweep;
    if (!sweeping_ && !sweep_needed_)
      start_pass(true, now);
    // Otherwise a pass is under way or due anyway: it finds the same rows.
  }
  pump(now);
}

void delivery_scheduler::pause(time_point now) {
  if (!paused_)
    notice(scheduler_notice::level::info, "paused by an operator; deliveries stay pending");
  paused_ = true;
  pump(now);
}

void delivery_scheduler::resume(time_point now) {
  paused_ = false;
  broken_.clear();
  breaker_ = circuit_breaker{policy_.circuit};
  probe_.reset();
  notice(scheduler_notice::level::info, "resumed by an operator");
  pump(now);
}

void delivery_scheduler::restore(std::string broken, time_point quiet_until, time_point now) {
  if (!broken.empty() && broken_.empty()) {
    broken_ = std::move(broken);
    notice(scheduler_notice::level::warn, "broken, as its last sender found: " + broken_ +
                                            "; its deliveries are dead-lettered until an operator resumes it");
  }
  if (quiet_until > now)
    budget_.pause_until(quiet_until);
  pump(now);
}

millis delivery_scheduler::quiet_for(time_point now) const {
  auto paused = std::chrono::ceil<millis>(budget_.paused_until() - now);
  auto circuit = breaker_.state() == circuit_state::open ? breaker_.wait(now) : millis{0};
  return std::max({paused, circuit, millis{0}});
}

void delivery_scheduler::permit_until(std::optional<time_point> until, time_point now) {
  permitted_until_ = until;
  pump(now);
}

void delivery_scheduler::drain(time_point now) {
  draining_ = true;
  pump(now);
}

void delivery_scheduler::sweep_requested(time_point now) {
  sweep_needed_ = true;
  if (sweeping_)
    overflow_during_sweep_ = true;
  // Rows may be behind the cursor of a pass that is paging: start over after it.
  if (!sweep_cursor_.empty())
    restart_after_pass_ = true;
  pump(now);
}

// -- sweeping -------------------------------------------------------------------

void delivery_scheduler::restart_if_cursor_passed() {
  if (!lowest_left_behind_.empty() && !sweep_cursor_.empty() && lowest_left_behind_ <= sweep_cursor_)
    restart_after_pass_ = true;
}

void delivery_scheduler::leave_behind(const std::string& id) {
  if (lowest_left_behind_.empty() || id < lowest_left_behind_)
    lowest_left_behind_ = id;
  restart_if_cursor_passed();
}

void delivery_scheduler::start_pass(bool safety, time_point now) {
  auto room = policy_.window > window_.size() ? policy_.window - window_.size() : 0;
  sweeping_ = true;
  if (sweep_cursor_.empty()) { // a new pass, not its next page
    safety_pass_ = safety;
    pass_started_ = now;
    if (safety)
      actions_.safety_passes += 1;
  }
  overflow_during_sweep_ = false;
  finished_during_sweep_.clear();
  page_limit_ = std::max<std::size_t>(room, 1);
  actions_.sweep = sweep_request{sweep_cursor_, static_cast<int>(page_limit_)};
}

void delivery_scheduler::maybe_sweep(time_point now) {
  if (sweeping_ || !sweep_needed_ || sweep_retry_at_)
    return;
  if (window_.size() > policy_.window / 2)
    return; // wait until half the window drained: pages stay large
  start_pass(false, now); // a safety pass's next page stays one: start_pass keeps it
}

void delivery_scheduler::sweep_loaded(std::vector<delivery_job> page, time_point now) {
  if (!sweeping_)
    return;
  sweeping_ = false;
  bool page_was_full = page.size() >= page_limit_;
  if (!page.empty())
    sweep_cursor_ = page.back().id;
  restart_if_cursor_passed();
  for (auto& job : page) {
    if (finished_during_sweep_.count(job.id) != 0)
      continue;
    if (safety_pass_ && window_.count(job.id) == 0 && recently_finished_.count(job.id) == 0) {
      auto created = uuid_v7_time(job.id);
      if (created && *created + policy_.unknown_grace < pass_started_) {
        actions_.unknown_found += 1;
        notice(scheduler_notice::level::warn, "the safety sweep found delivery " + job.id +
                                                  " pending and not held by the sender (a lost dispatch or outcome)");
      }
    }
    add_job(std::move(job), now);
  }
  if (!page_was_full) {
    // Everything committed before the query is now held; what was
    // dispatched meanwhile committed later, so it goes after, in order.
    for (auto& job : dispatched_during_sweep_)
      if (finished_during_sweep_.count(job.id) == 0)
        add_job(std::move(job), now);
    sweep_cursor_.clear();
    sweep_needed_ = overflow_during_sweep_ || restart_after_pass_;
    restart_after_pass_ = false;
    lowest_left_behind_.clear(); // a new pass, if any, starts from the beginning
    safety_pass_ = false;
  } else {
    // The next page brings what was set aside, in order, unless the cursor
    // already passed it.
    for (const auto& job : dispatched_during_sweep_)
      leave_behind(job.id);
    sweep_needed_ = true;
  }
  dispatched_during_sweep_.clear();
  finished_during_sweep_.clear();
  pump(now);
}

void delivery_scheduler::sweep_failed(const std::string& why, time_point now) {
  if (!sweeping_)
    return;
  sweeping_ = false;
  for (const auto& job : dispatched_during_sweep_)
    leave_behind(job.id); // the retried pass loads them, unless behind its cursor
  dispatched_during_sweep_.clear();
  finished_during_sweep_.clear();
  sweep_needed_ = true;
  sweep_retry_at_ = now + policy_.sweep_retry;
  notice(scheduler_notice::level::error, "cannot load pending deliveries (" + why + "); trying again in " +
                                             std::to_string(policy_.sweep_retry.count()) + " ms");
  pump(now);
}

// -- the pump -------------------------------------------------------------------

void delivery_scheduler::pump(time_point now) {
  blocked_until_.reset();
  const auto max_in_flight = static_cast<std::size_t>(std::max(policy_.max_in_flight, 1));
  while (!ready_.empty() && (!broken_.empty() || flying_.size() < max_in_flight)) {
    if (!permitted(now))
      break; // the lease ran out: only a renewal (an input) starts anything again
    const auto& front = ready_.front();
    auto it = window_.find(front);
    if (it == window_.end() || !due_now(it->second)) {
      ready_.pop_front(); // finished, under way, rescheduled, or no longer its key's turn
      continue;
    }
    if (broken_.empty()) {
      if (paused_ || draining_)
        break; // resume pumps again; a drained scheduler never does
      if (!breaker_.permits(now)) {
        // Open, or half-open after an inconclusive probe: the probe's time.
        // Half-open with the probe under way: its result pumps.
        if (!breaker_.probe_in_flight())
          blocked_until_ = now + std::max(breaker_.wait(now), millis{1});
        break;
      }
      if (!budget_.try_take(now)) {
        // Out of budget, or the sink said to wait: nothing goes to this
        // sink until then.
        blocked_until_ = now + std::max(budget_.wait(now), millis{1});
        break;
      }
      if (announced_ && now >= announced_->resets_at)
        announced_.reset(); // a new window: the next answer tells its budget
      if (announced_ && --announced_->left <= 0) {
        budget_.pause_until(announced_->resets_at); // this one takes the last the sink announced
        announced_.reset();
      }
    }
    auto id = std::move(ready_.front());
    ready_.pop_front();
    auto& job = it->second;
    if (!broken_.empty()) {
      // The sink said it is gone; attempting would only be refused again.
      actions_.outcomes.push_back(dead_letter(job, "not attempted: the sink is broken (" + broken_ + ")"));
      forget(id, now);
      continue;
    }
    if (past_max_age(policy_.retry, age_origin(job), now)) {
      // Held back (an open circuit, a pause) until it is too late to matter.
      actions_.outcomes.push_back(dead_letter(job, "not attempted again: older than retry.max_age"));
      forget(id, now);
      continue;
    }
    if (job.committed_at) {
      actions_.commit_to_attempt_seconds.push_back(std::chrono::duration<double>(now - *job.committed_at).count());
      job.committed_at.reset(); // the first attempt only
    }
    bool probing_before = breaker_.probe_in_flight();
    breaker_.on_request(now);
    started_attempt started{std::move(id), ++attempts_started_};
    if (!probing_before && breaker_.probe_in_flight())
      probe_ = started;
    flying_.emplace(started.id, attempt_under_way{started.number, now + policy_.attempt_deadline, now});
    actions_.attempts.push_back(std::move(started));
  }
  maybe_sweep(now);
}

bool delivery_scheduler::due_now(const delivery_job& job) const {
  if (flying_.count(job.id) != 0 || retry_at_.count(job.id) != 0)
    return false;
  if (policy_.per_key_order && job.key && broken_.empty()) {
    // Per key, only the active delivery is ever attempted: a ready entry of
    // one that a sweep's older row displaced is stale.
    auto active = active_for_key_.find(*job.key);
    return active != active_for_key_.end() && active->second == job.id;
  }
  return true;
}

bool delivery_scheduler::live_ready() const {
  for (const auto& id : ready_)
    if (auto it = window_.find(id); it != window_.end() && due_now(it->second))
      return true;
  return false;
}

std::optional<time_point> delivery_scheduler::wake_at() const {
  std::optional<time_point> at = blocked_until_;
  if (!retries_.empty())
    at = earliest(at, retries_.begin()->first);
  for (const auto& [_, attempt] : flying_)
    at = earliest(at, attempt.deadline);
  at = earliest(at, sweep_retry_at_);
  at = earliest(at, next_safety_pass_);
  return at;
}

// -- invariants -----------------------------------------------------------------

std::vector<std::string> delivery_scheduler::check(time_point now) const {
  std::vector<std::string> broken;
  auto fail = [&](std::string what) { broken.push_back(std::move(what)); };
  std::unordered_set<std::string> in_ready;
  for (const auto& id : ready_)
    if (auto it = window_.find(id); it != window_.end() && due_now(it->second))
      in_ready.insert(id);
  for (const auto& [id, attempt] : flying_) {
    auto it = window_.find(id);
    if (it == window_.end()) {
      fail("in flight but not held: " + id);
      continue;
    }
    if (policy_.per_key_order && it->second.key) {
      auto active = active_for_key_.find(*it->second.key);
      if (active == active_for_key_.end() || active->second != id)
        fail("in flight but not its key's active delivery: " + id);
    }
  }
  if (retries_.size() != retry_at_.size())
    fail("retry timers and their index disagree");
  for (const auto& [at, id] : retries_) {
    if (window_.count(id) == 0)
      fail("a retry timer for a delivery not held: " + id);
    if (flying_.count(id) != 0)
      fail("a retry timer for a delivery in flight: " + id);
  }
  // Every held delivery is under way, due, waiting for a timer, or (per
  // key) waiting behind the active delivery of its key.
  for (const auto& [id, job] : window_) {
    if (flying_.count(id) || retry_at_.count(id) || in_ready.count(id))
      continue;
    if (policy_.per_key_order && job.key) {
      auto active = active_for_key_.find(*job.key);
      if (active != active_for_key_.end() && !active->second.empty() && active->second != id &&
          window_.count(active->second) != 0)
        continue;
    }
    fail("held with nothing to move it: " + id);
  }
  if (policy_.per_key_order) {
    for (const auto& [key, active] : active_for_key_) {
      if (active.empty()) {
        fail("key " + key + " has no active delivery after a pump");
        continue;
      }
      auto q = by_key_.find(key);
      if (q == by_key_.end() || q->second.empty() || window_.count(active) == 0)
        fail("key " + key + ": its active delivery is not held");
      else if (*q->second.begin() != active && flying_.count(active) == 0)
        fail("key " + key + ": an older delivery waits behind the active one");
    }
  }
  auto wake = wake_at();
  const auto max_in_flight = static_cast<std::size_t>(std::max(policy_.max_in_flight, 1));
  // The rule: due work the sender may send goes now, or has a timer no later
  // than when it may go, or waits for a result under way (a half-open probe).
  if (live_ready() && !paused_ && !draining_ && permitted(now) && broken_.empty() && flying_.size() < max_in_flight &&
      !breaker_.probe_in_flight()) {
    if (breaker_.permits(now) && budget_.wait(now).count() == 0)
      fail("due deliveries may go now but the pump left them");
    else if (auto allowed = now + std::max(breaker_.wait(now), budget_.wait(now)); !wake || *wake > allowed)
      fail("due deliveries wait for the circuit or the rate limit with no timer for when they may go");
  }
  if (!broken_.empty() && live_ready() && permitted(now))
    fail("the sink is broken but deliveries wait to be dead-lettered");
  if (breaker_.probe_in_flight() && (!probe_ || flying_.count(probe_->id) == 0))
    fail("a probe is under way but it is not in flight");
  if (sweep_needed_ && !sweeping_ && !sweep_retry_at_ && window_.size() <= policy_.window / 2)
    fail("a sweep is needed and none is under way or scheduled");
  if (policy_.safety_sweep.count() > 0 && !next_safety_pass_)
    fail("no safety sweep scheduled");
  return broken;
}

} // namespace txrelay
