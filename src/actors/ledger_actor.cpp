#include "actors/ledger_actor.hpp"

#include "core/utf8.hpp"
#include "logging/log.hpp"
#include "sinks/sql_sink.hpp"

#include <algorithm>

namespace txrelay {

namespace {

struct ledger_state {
  static inline const char* name = "ledger";

  persistence_options options;
  // Commits with synchronous_commit = off; the one transaction here that
  // creates data (a compensation event) and replays set it on.
  std::optional<pg::connection> conn;
  delivery_outcomes outcomes; // reported, not yet recorded
  bool flush_scheduled = false;
  caf::actor dispatcher;
  actor_metrics* self_metrics = nullptr;
};

using ledger_self = caf::stateful_actor<ledger_state>;

/// Runs `body` (returning result<T, pg_error>) in a transaction that commits
/// durably although the connection's default does not wait: for new data
/// (a compensation event) and for a replay an operator was told about.
template <class F>
auto in_durable_transaction(pg::connection& c, F&& body) -> decltype(body()) {
  auto fail = [&](pg::pg_error err) -> decltype(body()) {
    if (!err.connection_lost)
      c.exec("ROLLBACK");
    return unexpected{std::move(err)};
  };
  if (auto begun = c.exec("BEGIN"); !begun)
    return fail(begun.error());
  if (auto durable = c.exec("SET LOCAL synchronous_commit = on"); !durable)
    return fail(durable.error());
  auto done = body();
  if (!done)
    return fail(done.error());
  if (auto committed = c.exec("COMMIT"); !committed)
    return fail(committed.error());
  return done;
}

/// Records `outcomes`; those carrying a compensation event (a dead delivery's
/// `on_dead`) commit that event, routed like any other, in the same
/// transaction. Its idempotency key (on_dead:<delivery id>) publishes it once
/// however often the death is reported. Returns the new events to dispatch.
result<long long, pg::pg_error> record(ledger_self* self, pg::connection& c, const delivery_outcomes& outcomes) {
  auto& st = self->state;
  bool compensating = std::any_of(outcomes.begin(), outcomes.end(), [](const delivery_outcome& o) {
    return o.compensation && o.status == delivery_status::dead;
  });
  if (!compensating)
    return pg::record_outcomes(c, outcomes);

  auto now = st.options.clock->now();
  std::vector<pg::ingest_item> items;
  for (const auto& o : outcomes) {
    if (!o.compensation || o.status != delivery_status::dead)
      continue;
    const auto& comp = *o.compensation;
    parsed_event ev{comp.topic, comp.key, comp.payload_json};
    auto sinks = st.options.admission ? st.options.admission->current()->admit(ev)
                                      : result<std::vector<std::string>, api_error>{std::vector<std::string>{}};
    if (!sinks) {
      // The delivery is dead either way; the refusal must be visible.
      log::error("sink " + o.sink + ": compensation event (topic " + comp.topic + ") for dead delivery " +
                 o.delivery_id + " refused: " + sinks.error().message);
      continue;
    }
    event_submission sub;
    sub.topic = comp.topic;
    sub.key = comp.key;
    sub.payload_json = comp.payload_json;
    sub.idempotency_key = comp.idempotency_key;
    sub.sinks = std::move(*sinks);
    items.push_back(make_ingest_item(*st.options.ids, std::move(sub), now));
  }
  std::vector<pg::ingest_receipt> receipts;
  auto recorded = in_durable_transaction(c, [&]() -> result<long long, pg::pg_error> {
    auto n = pg::record_outcomes(c, outcomes);
    if (!n || items.empty())
      return n;
    auto ingested = pg::ingest_events_in_transaction(c, items);
    if (!ingested)
      return unexpected{ingested.error()};
    receipts = std::move(*ingested);
    return n;
  });
  if (!recorded)
    return recorded;
  for (const auto& rc : receipts)
    if (rc.created) {
      st.options.metrics->events_accepted.fetch_add(1, std::memory_order_relaxed);
      log::info("compensation event " + rc.event_id + " (topic " + rc.topic + ") published");
    }
  dispatch_committed(self, st.dispatcher, items, receipts, st.options.in_transaction, now, st.options.clock->now());
  return *recorded;
}

/// Records one outcome that failed within a batch. A transient failure
/// (deadlock, serialization, timeout, lost connection) keeps it for the next
/// flush. Otherwise its death is recorded even without its compensation:
/// left pending, the delivery would be sent again and die again forever.
/// Returns whether to keep the outcome for a later flush.
bool record_alone(ledger_self* self, pg::connection& c, const delivery_outcome& outcome) {
  auto one = record(self, c, delivery_outcomes{outcome});
  if (one)
    return false;
  if (is_transient(one.error())) {
    log::warn("outcome of delivery " + outcome.delivery_id + " not recorded yet (" +
              one_line_excerpt(one.error().message, 300) + "); trying again");
    return true;
  }
  if (!outcome.compensation) {
    log::error("outcome of delivery " + outcome.delivery_id + " not recorded: " + one.error().message);
    return false;
  }
  log::error("sink " + outcome.sink + ": compensation event for dead delivery " + outcome.delivery_id +
             " not published: " + one.error().message);
  auto bare = outcome;
  bare.compensation.reset();
  if (auto again = record(self, c, delivery_outcomes{bare}); !again)
    log::error("outcome of delivery " + outcome.delivery_id + " not recorded: " + again.error().message);
  return false;
}

void flush_outcomes(ledger_self* self) {
  auto& st = self->state;
  if (st.outcomes.empty())
    return;
  auto conn = ensure_connection(st.conn, st.options.database_url, st.options.database_limits, pg::ledger_session_settings);
  if (!conn) {
    // Keep them and try again shortly: the database may come back.
    log::error("cannot record " + std::to_string(st.outcomes.size()) + " outcomes: " + conn.error().message);
    self->delayed_send(self, std::chrono::seconds{1}, flush_atom::value);
    return;
  }
  auto done = record(self, **conn, st.outcomes);
  if (!done && done.error().connection_lost) {
    log::error("recording outcomes lost the connection; retrying: " + done.error().message);
    self->delayed_send(self, std::chrono::seconds{1}, flush_atom::value);
    return;
  }
  if (done) {
    st.options.metrics->outcome_batches.fetch_add(1, std::memory_order_relaxed);
    st.outcomes.clear();
    return;
  }
  // One bad row must not cost every other sink its records: one by one.
  if (st.outcomes.size() > 1)
    log::error("recording " + std::to_string(st.outcomes.size()) + " outcomes failed (" + done.error().message +
               "); recording them one by one");
  delivery_outcomes later;
  for (const auto& outcome : st.outcomes)
    if (record_alone(self, **conn, outcome))
      later.push_back(outcome);
  st.outcomes = std::move(later);
  if (!st.outcomes.empty())
    self->delayed_send(self, std::chrono::seconds{1}, flush_atom::value);
}

/// Runs `query` on the ledger's connection; its value becomes the answer, a
/// T (constructed from it), or its error the failure.
template <class T, class F>
caf::result<T> with_connection(ledger_self* self, F&& query) {
  auto& st = self->state;
  auto conn = ensure_connection(st.conn, st.options.database_url, st.options.database_limits, pg::ledger_session_settings);
  if (!conn)
    return to_caf(conn.error());
  auto r = query(**conn);
  if (!r)
    return to_caf(r.error());
  return T{std::move(*r)};
}

caf::behavior ledger_behavior(ledger_self* self, persistence_options options) {
  self->state.options = std::move(options);
  self->state.self_metrics = &self->state.options.metrics->actor("ledger");
  self->send(self, tick_atom::value);
  return {
    [=](outcome_atom, delivery_outcomes& outcomes) {
      self->state.self_metrics->messages.fetch_add(1, std::memory_order_relaxed);
      auto& mine = self->state.outcomes;
      if (mine.empty())
        mine = std::move(outcomes);
      else
        std::move(outcomes.begin(), outcomes.end(), std::back_inserter(mine));
      schedule_flush(self);
    },
    [=](flush_atom) {
      self->state.flush_scheduled = false;
      flush_outcomes(self);
    },
    [=](load_pending_atom, const std::string& sink, const std::string& after_id,
        int limit) -> caf::result<delivery_jobs> {
      self->state.self_metrics->messages.fetch_add(1, std::memory_order_relaxed);
      // Outcomes reported before this request must be visible to it, or a
      // delivery finished a moment ago would be loaded (and sent) again.
      flush_outcomes(self);
      // Not while any of them failed to record: the page would show a
      // delivered row as pending. The sender retries the page shortly.
      if (!self->state.outcomes.empty())
        return make_persistence_error(persistence_errc::unavailable,
                                      "outcomes are waiting to be recorded; pending rows are loaded after them");
      return with_connection<delivery_jobs>(
        self, [&](pg::connection& c) { return pg::load_pending(c, sink, after_id, limit); });
    },
    [=](dead_list_atom, const dead_list_request& req) -> caf::result<dead_list> {
      self->state.self_metrics->messages.fetch_add(1, std::memory_order_relaxed);
      flush_outcomes(self); // a death reported a moment ago is listed
      return with_connection<dead_list>(
        self, [&](pg::connection& c) { return pg::list_dead(c, req.sinks, req.after_id, req.limit); });
    },
    [=](search_atom, const pg::event_query& query) -> caf::result<pg::event_page> {
      self->state.self_metrics->messages.fetch_add(1, std::memory_order_relaxed);
      flush_outcomes(self); // an outcome reported a moment ago is found by its status
      return with_connection<pg::event_page>(self, [&](pg::connection& c) { return pg::search_events(c, query); });
    },
    [=](get_event_atom, const std::string& id) -> caf::result<event_lookup> {
      self->state.self_metrics->messages.fetch_add(1, std::memory_order_relaxed);
      flush_outcomes(self);
      return with_connection<event_lookup>(self, [&](pg::connection& c) { return pg::find_event(c, id); });
    },
    [=](replay_atom, const replay_request& filter) -> caf::result<replay_report> {
      auto& st = self->state;
      st.self_metrics->messages.fetch_add(1, std::memory_order_relaxed);
      flush_outcomes(self); // a death reported a moment ago is replayable now
      auto conn = ensure_connection(st.conn, st.options.database_url, st.options.database_limits, pg::ledger_session_settings);
      if (!conn)
        return to_caf(conn.error());
      auto& c = **conn;
      auto replayed = in_durable_transaction(c, [&] { return pg::replay_dead(c, filter); });
      if (!replayed)
        return to_caf(replayed.error());
      replay_report report;
      report.more = static_cast<int>(replayed->size()) >= filter.limit;
      report.deliveries = std::move(*replayed);
      if (!report.deliveries.empty()) {
        log::info("replaying " + std::to_string(report.deliveries.size()) + " dead deliveries");
        // The rows are pending again; each sender pages them in by its
        // sweep (from the start: they are older than its cursor), as many
        // as its window holds. Pushing 10,000 payloads here would not.
        if (st.dispatcher)
          self->send(st.dispatcher, sweep_atom::value);
      }
      return report;
    },
    [=](counts_atom) -> caf::result<pending_counts> {
      self->state.self_metrics->messages.fetch_add(1, std::memory_order_relaxed);
      // The process's figures come back even when the database does not
      // answer: an outage is when they matter.
      pending_counts out;
      out.process = read_process_stats();
      auto& st = self->state;
      auto conn = ensure_connection(st.conn, st.options.database_url, st.options.database_limits,
                                    pg::ledger_session_settings);
      if (!conn) {
        out.backlog_error = to_api_error(to_caf(conn.error()));
      } else if (auto backlog = pg::pending_counts(**conn)) {
        out.by_sink = std::move(*backlog);
      } else {
        out.backlog_error = to_api_error(to_caf(backlog.error()));
      }
      return out;
    },
    [=](sink_control_atom, const std::string& sink, bool paused) -> caf::result<pg::sink_control> {
      // Stored first: every node applies it (the sink's owner is the one
      // that matters), and it outlives restarts.
      return with_connection<pg::sink_control>(self, [&](pg::connection& c) -> result<pg::sink_control, pg::pg_error> {
        auto row = pg::set_sink_control(c, sink, paused);
        if (row)
          (void)pg::notify(c, pg::sinks_channel, {pg::controls_changed}); // the others learn at once, or at their next beat
        return row;
      });
    },
    [=](sink_fault_atom, const sink_fault_updates& updates) -> caf::result<bool> {
      return with_connection<bool>(self, [&](pg::connection& c) { return pg::record_sink_faults(c, updates); });
    },
    [=](nodes_atom) -> caf::result<node_list> {
      return with_connection<node_list>(self, [&](pg::connection& c) -> result<node_list, pg::pg_error> {
        auto nodes = pg::list_nodes(c, pg::node_ttl, pg::forget_nodes_after);
        if (!nodes)
          return unexpected{nodes.error()};
        return node_list{std::move(*nodes)};
      });
    },
    [=](health_atom) -> caf::result<bool> {
      return with_connection<bool>(self, [&](pg::connection& c) -> result<bool, pg::pg_error> {
        if (auto r = c.exec("SELECT 1"); !r)
          return unexpected{r.error()};
        return true;
      });
    },
    [=](drain_atom) -> caf::result<bool> {
      // The last outcomes of a graceful stop, then one durable commit: the
      // ledger commits asynchronously, and a commit that waits for its WAL
      // flush flushes every earlier one with it.
      auto& st = self->state;
      flush_outcomes(self);
      if (!st.outcomes.empty())
        return false; // the database is gone: these deliveries stay pending and are sent again
      return with_connection<bool>(self, [](pg::connection& c) -> result<bool, pg::pg_error> {
        if (auto r = c.exec("BEGIN; SET LOCAL synchronous_commit = on; SELECT pg_catalog.txid_current(); COMMIT"); !r)
          return unexpected{r.error()};
        return true;
      });
    },
    [=](dispatch_to_atom, caf::actor dispatcher) { self->state.dispatcher = std::move(dispatcher); },
    [=](tick_atom) { sample_mailbox(self, self->state.self_metrics->mailbox_size); },
  };
}

} // namespace

caf::actor spawn_ledger_actor(caf::actor_system& sys, persistence_options options) {
  return sys.spawn<caf::detached>(ledger_behavior, std::move(options));
}

} // namespace txrelay
