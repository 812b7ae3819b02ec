#include "actors/router_actor.hpp"

#include "core/json_writer.hpp"
#include "persistence/cluster.hpp"
#include "core/utf8.hpp"
#include "logging/log.hpp"

namespace txrelay {

namespace {

struct router_state {
  static inline const char* name = "router";
  persistence_options options;
  publish_config publish;
  // Routing creates the delivery rows of events already acknowledged to
  // their producers: it commits durably (the server's default), so a
  // delivery is never sent from a commit a crash could take back.
  std::optional<pg::connection> conn;
  caf::actor dispatcher;
  actor_metrics* self_metrics = nullptr;
  bool unavailable = false; // logged once per outage, not every poll
  // Claimed queue rows are dead tuples until a vacuum: autovacuum visits a
  // database once a minute at most, and meanwhile every poll and claim
  // walks past them (at 1,000 events/s, 60,000 rows of payload).
  std::size_t claimed_since_vacuum = 0;
  time_point last_vacuum{};
};

using router_self = caf::stateful_actor<router_state>;

/// The rejection as stored and shown: the API's error object.
std::string rejection_json(const api_error& err) {
  json_writer w;
  w.begin_object();
  err.write_members(w);
  w.end_object();
  return std::move(w).take();
}

/// Why a round failed, and which events it had claimed (back in the queue now).
struct round_failure {
  pg::pg_error error;
  std::vector<std::string> claimed;
};

/// How one round ended: how many events it claimed, or why it failed.
using round_result = result<std::size_t, round_failure>;


/// Routes one claimed event that has in_transaction projections, under a
/// savepoint: its deliveries and statements, or, when a statement refuses it
/// for good, nothing yet: it is then marked rejected, and recorded with the
/// rest of the round. A transient failure is returned (the caller rolls the
/// whole round back and tries again later).
result<bool, pg::pg_error> route_projected(router_self* self, pg::connection& c, pg::routing_decision& decision) {
  auto& st = self->state;
  if (auto r = c.exec("SAVEPOINT projected"); !r)
    return unexpected{r.error()};
  if (auto recorded = pg::record_routing(c, {&decision}); !recorded)
    return unexpected{recorded.error()};
  auto failed = run_projections(c, st.options.in_transaction, decision.item);
  if (!failed) {
    if (auto r = c.exec("RELEASE SAVEPOINT projected"); !r)
      return unexpected{r.error()};
    return true;
  }
  if (failed->transient || !failed->statement)
    return unexpected{failed->error};
  if (auto r = c.exec("ROLLBACK TO SAVEPOINT projected"); !r)
    return unexpected{r.error()};
  decision.rejection_json = rejection_json(
    api_error{422, "projection_failed", "sink " + failed->sink + ": " + primary_message(failed->error.message)});
  decision.item.event.sinks.clear();
  decision.item.delivery_ids.clear();
  return false;
}

/// One transaction: claim up to `limit` events, admit them, record their
/// deliveries or rejections, commit, dispatch. `probe`: look first whether
/// anything waits (an idle poll is then one round trip, no transaction);
/// right after a round that found events, something very likely does.
round_result route_round(router_self* self, int limit, bool probe = true) {
  auto& st = self->state;
  auto conn = ensure_connection(st.conn, st.options.database_url, st.options.database_limits);
  if (!conn)
    return unexpected{round_failure{conn.error(), {}}};
  auto& c = **conn;
  if (probe) {
    if (auto any = pg::any_unrouted(c); !any)
      return unexpected{round_failure{any.error(), {}}};
    else if (!*any)
      return std::size_t{0}; // the common idle poll: one round trip, no transaction
  }
  std::vector<std::string> claimed_ids;
  auto fail = [&](pg::pg_error err) -> round_result {
    if (!err.connection_lost)
      c.exec("ROLLBACK");
    return unexpected{round_failure{std::move(err), std::move(claimed_ids)}};
  };
  // One node routes at a time: rounds on two nodes side by side could commit
  // a later event's deliveries before an earlier one's of the same key, and
  // per-key order follows delivery ids. The others find the lock taken and
  // poll again; a node that dies releases it with its connection. BEGIN in
  // the same round trip.
  static const std::string begin_locked =
    std::string{"BEGIN; SELECT pg_try_advisory_xact_lock("} + pg::router_lock_key + ")";
  auto exclusive = c.exec(begin_locked);
  if (!exclusive)
    return fail(exclusive.error());
  if (exclusive->get(0, 0) != "t") {
    c.exec("ROLLBACK");
    return std::size_t{0};
  }
  auto claimed = pg::claim_unrouted(c, limit);
  if (!claimed)
    return fail(claimed.error());
  if (claimed->empty()) {
    c.exec("COMMIT"); // queue rows naming events deleted by hand go
    return std::size_t{0};
  }

  for (const auto& ev : *claimed)
    claimed_ids.push_back(ev.event_id);
  auto now = st.options.clock->now();
  std::vector<pg::routing_decision> decisions;
  decisions.reserve(claimed->size());
  const auto admission = st.options.admission->current(); // one version for the whole round
  for (auto& ev : *claimed) {
    parsed_event parsed{std::move(ev.topic), std::move(ev.key), std::move(ev.payload_json)};
    auto sinks = admission->admit(parsed);
    pg::routing_decision d;
    d.stored = ev.stored;
    d.item.event_id = std::move(ev.event_id);
    d.item.created_at = std::move(ev.created_at);
    if (sinks) {
      d.item.event.sinks = std::move(*sinks);
      for (std::size_t i = 0; i < d.item.event.sinks.size(); ++i)
        d.item.delivery_ids.push_back(st.options.ids->next(now));
    } else {
      log::warn("published event " + d.item.event_id + " (topic " + parsed.topic +
                ") rejected: " + sinks.error().message);
      d.rejection_json = rejection_json(sinks.error());
    }
    d.item.event.topic = std::move(parsed.topic);
    d.item.event.key = std::move(parsed.key);
    d.item.event.payload_json = std::move(parsed.payload_json);
    decisions.push_back(std::move(d));
  }

  // Events with projections are recorded one by one (each under its
  // savepoint), the rest (and those the projections refused) in one
  // statement; all but the refused ones are dispatched after COMMIT.
  std::vector<const pg::routing_decision*> rest;
  rest.reserve(decisions.size());
  for (auto& d : decisions) {
    if (d.rejection_json || !routed_to_any(d.item.event, st.options.in_transaction)) {
      rest.push_back(&d);
      continue;
    }
    auto done = route_projected(self, c, d);
    if (!done)
      return fail(done.error());
    if (!*done)
      rest.push_back(&d); // recorded with its rejection
  }
  if (auto recorded = pg::record_routing(c, rest); !recorded)
    return fail(recorded.error());
  if (auto committed = c.exec("COMMIT"); !committed) {
    // Unknown whether it committed: if it did, the rows are pending without
    // a dispatch, and the senders' sweep finds them.
    if (committed.error().connection_lost && st.dispatcher)
      self->send(st.dispatcher, sweep_atom::value);
    return unexpected{round_failure{committed.error(), std::move(claimed_ids)}};
  }
  auto committed_at = st.options.clock->now();
  std::vector<pg::ingest_item> dispatched;
  dispatched.reserve(decisions.size());
  std::size_t rejected = 0;
  for (auto& d : decisions) {
    if (d.rejection_json)
      ++rejected;
    else
      dispatched.push_back(std::move(d.item));
  }
  st.options.metrics->events_published.fetch_add(dispatched.size(), std::memory_order_relaxed);
  st.options.metrics->events_rejected.fetch_add(rejected, std::memory_order_relaxed);
  std::vector<pg::ingest_receipt> receipts(dispatched.size()); // every one new (created = true)
  dispatch_committed(self, st.dispatcher, dispatched, receipts, st.options.in_transaction, now, committed_at);
  return claimed->size();
}

/// A round failed for a reason that is not transient: some event in it
/// cannot be routed (a bug, or data the database refuses). Each of those
/// events is routed alone, and one that fails alone too is rejected with the
/// reason, so it cannot hold up every event published after it.
void isolate(router_self* self, const round_failure& failure) {
  auto& st = self->state;
  log::error("routing " + std::to_string(failure.claimed.size()) + " published events failed (" +
             one_line_excerpt(failure.error.message, 300) + "); routing them one by one");
  for (std::size_t i = 0; i < failure.claimed.size(); ++i) {
    auto alone = route_round(self, 1);
    if (alone || alone.error().claimed.size() != 1)
      continue;
    const auto& err = alone.error().error;
    if (is_transient(err))
      return; // the next poll tries again
    const auto& id = alone.error().claimed.front();
    log::error("published event " + id + " cannot be routed, rejected: " + one_line_excerpt(err.message, 300));
    auto conn = ensure_connection(st.conn, st.options.database_url, st.options.database_limits);
    if (!conn)
      return;
    auto rejected = pg::reject_unrouted(
      **conn, {id, rejection_json(api_error{422, "routing_failed", primary_message(err.message)})});
    if (!rejected)
      return;
    st.options.metrics->events_rejected.fetch_add(static_cast<std::uint64_t>(*rejected), std::memory_order_relaxed);
  }
}

/// Vacuums the queue once it has claimed enough rows since the last time,
/// at most once a second: a few milliseconds on a table that holds a second
/// of events. SKIP_LOCKED: an autovacuum already at it is left to finish.
void vacuum_queue_if_due(router_self* self) {
  auto& st = self->state;
  constexpr std::size_t enough_rows = 1000;
  auto now = st.options.clock->now();
  if (st.claimed_since_vacuum < enough_rows || now - st.last_vacuum < std::chrono::seconds{1} || !st.conn)
    return;
  st.claimed_since_vacuum = 0;
  st.last_vacuum = now;
  // TRUNCATE false: giving empty pages back needs an ACCESS EXCLUSIVE lock,
  // which VACUUM waits for (up to 5 s, in 50 ms steps) while producers
  // insert; routing would wait with it. Autovacuum gives them back.
  if (auto done = st.conn->exec("VACUUM (SKIP_LOCKED, TRUNCATE false) txrelay.unrouted_events"); !done)
    log::warn("vacuuming the routing queue failed: " + one_line_excerpt(done.error().message, 300));
}

/// Routes until a round finds nothing (or for a bounded number of rounds, so
/// other messages get their turn), then schedules the next poll. A round
/// that found events is followed by another at once: producers went on
/// committing while it ran, and waiting a poll interval would add to every
/// event's latency.
void poll(router_self* self) {
  auto& st = self->state;
  bool found = false;
  for (int round = 0; round < 16; ++round) {
    auto done = route_round(self, st.publish.batch, /*probe=*/!found);
    if (!done) {
      const auto& err = done.error().error;
      if (!is_transient(err)) {
        isolate(self, done.error());
        self->send(self, poll_atom::value);
        return;
      }
      if (!st.unavailable || !err.connection_lost)
        log::error("routing published events failed (retrying in 1s): " + one_line_excerpt(err.message, 300));
      st.unavailable = err.connection_lost;
      self->delayed_send(self, std::chrono::seconds{1}, poll_atom::value);
      return;
    }
    if (st.unavailable) {
      log::info("routing published events again");
      st.unavailable = false;
    }
    st.claimed_since_vacuum += *done;
    vacuum_queue_if_due(self);
    if (*done == 0) {
      self->delayed_send(self, st.publish.poll_interval, poll_atom::value);
      return;
    }
    found = true;
  }
  self->send(self, poll_atom::value); // a full backlog: go on right after the mailbox
}

caf::behavior router_behavior(router_self* self, persistence_options options, publish_config publish) {
  self->state.options = std::move(options);
  self->state.publish = publish;
  self->state.self_metrics = &self->state.options.metrics->actor("router");
  self->send(self, tick_atom::value);
  return {
    [=](poll_atom) {
      self->state.self_metrics->messages.fetch_add(1, std::memory_order_relaxed);
      poll(self);
    },
    [=](dispatch_to_atom, caf::actor dispatcher) {
      // Polling starts once deliveries have somewhere to go.
      bool first = !self->state.dispatcher;
      self->state.dispatcher = std::move(dispatcher);
      if (first)
        self->send(self, poll_atom::value);
    },
    [=](tick_atom) { sample_mailbox(self, self->state.self_metrics->mailbox_size); },
  };
}

} // namespace

caf::actor spawn_router_actor(caf::actor_system& sys, persistence_options options, publish_config publish) {
  return sys.spawn<caf::detached>(router_behavior, std::move(options), publish);
}

} // namespace txrelay
