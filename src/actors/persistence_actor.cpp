#include "actors/persistence_actor.hpp"

#include "core/ids.hpp"
#include "core/utf8.hpp"
#include "expr/event_document.hpp"
#include "logging/log.hpp"
#include "persistence/outbox.hpp"
#include "sinks/sql_sink.hpp"

#include <algorithm>
#include <map>
#include <random>

namespace txrelay {

namespace {

/// The answer to one ingest message: one slot per request it carried,
/// delivered when the last of them is settled.
struct ingest_answer {
  caf::typed_response_promise<ingest_results> promise;
  std::vector<std::optional<result<ingest_receipts, api_error>>> slots;
  std::size_t unsettled = 0;
};

/// One request: its events are committed together or not at all.
struct pending_ingest {
  event_batch events;
  std::shared_ptr<ingest_answer> answer;
  std::size_t slot = 0;

  void settle(result<ingest_receipts, api_error> r) {
    answer->slots[slot].emplace(std::move(r));
    if (--answer->unsettled > 0)
      return;
    ingest_results all;
    all.reserve(answer->slots.size());
    for (auto& s : answer->slots)
      all.push_back(std::move(*s));
    answer->promise.deliver(std::move(all));
  }
  void fail(const caf::error& err) { settle(unexpected{to_api_error(err)}); }
};

struct persistence_state {
  static inline const char* name = "persistence";

  persistence_options options;
  // Acknowledged events are committed on this connection with the server's
  // durable default (synchronous_commit = on).
  std::optional<pg::connection> ingest_conn;
  // Outcomes and reads use this one, with synchronous_commit = off: losing
  // the last few outcome records in a server crash only means a delivery is
  // attempted again (at-least-once), never that an event is lost. The one
  // transaction here that creates data (a compensation event) sets it on.
  std::optional<pg::connection> bookkeeping_conn;
  std::vector<pending_ingest> ingests;
  delivery_outcomes outcomes;
  bool flush_scheduled = false;
  caf::actor dispatcher;
  uuid_v7_generator ids{std::random_device{}()};
  actor_metrics* self_metrics = nullptr;
};

using persistence_self = caf::stateful_actor<persistence_state>;

result<pg::connection*, pg::pg_error> ensure(std::optional<pg::connection>& conn, const std::string& url,
                                             bool bookkeeping) {
  if (conn && conn->healthy())
    return &*conn;
  conn.reset();
  auto opened = pg::connection::open(url);
  if (!opened)
    return unexpected{opened.error()};
  if (bookkeeping) {
    if (auto r = opened->exec("SET synchronous_commit = off"); !r)
      return unexpected{r.error()};
  }
  conn.emplace(std::move(*opened));
  return &*conn;
}

caf::error to_caf(const pg::pg_error& err) {
  return make_persistence_error(err.connection_lost ? persistence_errc::unavailable : persistence_errc::rejected,
                                err.message);
}

void schedule_flush(persistence_self* self) {
  if (!self->state.flush_scheduled) {
    self->state.flush_scheduled = true;
    self->send(self, flush_atom::value);
  }
}

pg::ingest_item make_item(persistence_self* self, event_submission ev, time_point now) {
  auto& st = self->state;
  pg::ingest_item item;
  item.event_id = st.ids.next(now);
  item.created_at = format_rfc3339(now);
  item.delivery_ids.reserve(ev.sinks.size());
  for (std::size_t i = 0; i < ev.sinks.size(); ++i)
    item.delivery_ids.push_back(st.ids.next(now));
  item.event = std::move(ev);
  return item;
}

void dispatch(persistence_self* self, const std::vector<pg::ingest_item>& items,
              const std::vector<pg::ingest_receipt>& receipts, time_point now) {
  auto& st = self->state;
  std::map<std::string, delivery_jobs> by_sink;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (!receipts[i].created)
      continue;
    const auto& item = items[i];
    for (std::size_t s = 0; s < item.delivery_ids.size(); ++s) {
      if (st.options.in_transaction.count(item.event.sinks[s]))
        continue; // done in the ingest transaction
      delivery_job job;
      job.id = item.delivery_ids[s];
      job.event_id = item.event_id;
      job.sink = item.event.sinks[s];
      job.topic = item.event.topic;
      job.key = item.event.key;
      job.payload_json = item.event.payload_json;
      job.created_at = item.created_at;
      job.next_attempt_at = now;
      by_sink[job.sink].push_back(std::move(job));
    }
  }
  if (!st.dispatcher)
    return; // senders find these rows when they start and sweep
  for (auto& [sink, jobs] : by_sink)
    self->send(st.dispatcher, dispatch_atom::value, sink, std::move(jobs));
}

/// Commits every request of `group` in one statement; on a data error in a
/// group of several requests, commits each request alone so one bad request
/// cannot fail its neighbours.
/// libpq's first line without its "ERROR:  " prefix: what went wrong, not
/// the DETAIL lines that can quote row values.
std::string primary_message(const std::string& message) {
  auto line = message.substr(0, message.find('\n'));
  for (const char* prefix : {"ERROR:  ", "FATAL:  "})
    if (line.rfind(prefix, 0) == 0)
      line = line.substr(std::string_view{prefix}.size());
  return one_line_excerpt(line, 300);
}

bool has_projection(const persistence_state& st, const pending_ingest& request) {
  if (st.options.in_transaction.empty())
    return false;
  for (const auto& ev : request.events)
    for (const auto& sink : ev.sinks)
      if (st.options.in_transaction.count(sink))
        return true;
  return false;
}

void deliver_receipts(persistence_self* self, pending_ingest& request, std::vector<pg::ingest_receipt>& receipts,
                      std::size_t& next) {
  auto& st = self->state;
  ingest_receipts mine;
  mine.reserve(request.events.size());
  for (std::size_t k = 0; k < request.events.size(); ++k) {
    auto& rc = receipts[next++];
    auto& counter = rc.created ? st.options.metrics->events_accepted : st.options.metrics->events_replayed;
    counter.fetch_add(1, std::memory_order_relaxed);
    mine.push_back(std::move(rc));
  }
  request.settle(std::move(mine));
}

/// One request whose events are routed to in_transaction sql sinks: its
/// events, their deliveries and those statements commit together, or
/// nothing does. A replayed event (same Idempotency-Key) runs nothing again.
void commit_projected(persistence_self* self, pending_ingest request) {
  auto& st = self->state;
  auto now = st.options.clock->now();
  std::vector<pg::ingest_item> items;
  for (auto& ev : request.events)
    items.push_back(make_item(self, std::move(ev), now));
  auto conn = ensure(st.ingest_conn, st.options.database_url, false);
  if (!conn) {
    request.fail(to_caf(conn.error()));
    return;
  }
  auto& c = **conn;
  auto refuse = [&](const pg::pg_error* lost, caf::error err) {
    if (c.healthy())
      c.exec("ROLLBACK");
    request.fail(err);
    // The COMMIT may have happened without its reply: senders find the rows.
    if (lost && lost->connection_lost && st.dispatcher)
      self->send(st.dispatcher, sweep_atom::value);
  };
  // A deadlock or timeout anywhere in this transaction is worth a retry: 503.
  auto refuse_pg = [&](const pg::pg_error& err) {
    bool transient = classify_sql_error(err).outcome == attempt_result::verdict::retry;
    refuse(&err, transient ? make_persistence_error(persistence_errc::unavailable, primary_message(err.message))
                           : to_caf(err));
  };
  if (auto begun = c.exec("BEGIN"); !begun)
    return refuse_pg(begun.error());
  // One statement stuck on a lock must not stall every ingest behind it.
  if (auto limited = c.exec("SET LOCAL statement_timeout = '5s'"); !limited)
    return refuse_pg(limited.error());
  auto receipts = pg::ingest_events_in_transaction(c, items);
  if (!receipts)
    return refuse_pg(receipts.error());
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (!(*receipts)[i].created)
      continue;
    const auto& item = items[i];
    for (std::size_t s = 0; s < item.event.sinks.size(); ++s) {
      const auto& sink = item.event.sinks[s];
      auto statement = st.options.in_transaction.find(sink);
      if (statement == st.options.in_transaction.end())
        continue;
      auto doc = event_document_from_json(
        event_fields{item.event.topic, key_view(item.event.key), item.event_id, item.delivery_ids[s], item.created_at},
        item.event.payload_json);
      auto ran = run_statement(c, statement->second, doc);
      if (!ran) {
        const auto& err = ran.error();
        // A deadlock, a serialization failure or a timeout says nothing
        // about the event: the client may retry (503), unlike a constraint
        // violation (422). Only the primary message goes back: libpq's
        // DETAIL can quote other rows' values; the log keeps it.
        log::warn("in_transaction sink " + sink + " refused an event: " + one_line_excerpt(err.message, 1000));
        if (classify_sql_error(err).outcome == attempt_result::verdict::retry)
          return refuse(&err, make_persistence_error(persistence_errc::unavailable,
                                                     "sink " + sink + ": " + primary_message(err.message)));
        std::string why = "sink " + sink + ": " + primary_message(err.message);
        if (items.size() > 1)
          why += " (event " + std::to_string(i) + " of the batch)";
        return refuse(&err, make_persistence_error(persistence_errc::projection_failed, why));
      }
      if (auto marked = pg::mark_delivered(c, item.event_id, sink, 1); !marked)
        return refuse_pg(marked.error());
    }
  }
  if (auto committed = c.exec("COMMIT"); !committed)
    return refuse_pg(committed.error());
  st.options.metrics->ingest_batches.fetch_add(1, std::memory_order_relaxed);
  std::size_t next = 0;
  deliver_receipts(self, request, *receipts, next);
  dispatch(self, items, *receipts, now);
}

void commit_ingests(persistence_self* self, std::vector<pending_ingest> group) {
  auto& st = self->state;
  if (!st.options.in_transaction.empty()) {
    std::vector<pending_ingest> plain;
    for (auto& request : group) {
      if (has_projection(st, request))
        commit_projected(self, std::move(request));
      else
        plain.push_back(std::move(request));
    }
    if (plain.empty())
      return;
    group = std::move(plain);
  }
  auto now = st.options.clock->now();
  std::vector<pg::ingest_item> items;
  for (auto& request : group)
    for (auto& ev : request.events)
      items.push_back(make_item(self, std::move(ev), now));

  auto conn = ensure(st.ingest_conn, st.options.database_url, false);
  if (!conn) {
    for (auto& request : group)
      request.fail(to_caf(conn.error()));
    return;
  }
  auto receipts = pg::ingest_events(**conn, items);
  if (!receipts) {
    const auto& err = receipts.error();
    if (!err.connection_lost && group.size() > 1) {
      log::warn("ingest of " + std::to_string(group.size()) + " requests failed (" + err.message +
                "); committing them one by one");
      std::size_t next = 0;
      for (auto& request : group) {
        for (auto& ev : request.events)
          ev = std::move(items[next++].event);
        std::vector<pending_ingest> one;
        one.push_back(std::move(request));
        commit_ingests(self, std::move(one));
      }
      return;
    }
    log::error("ingest failed: " + err.message);
    for (auto& request : group)
      request.fail(to_caf(err));
    // A connection lost mid-statement leaves the commit unknown: the rows may
    // be there without having been dispatched. Every sender sweeps, so such
    // rows are delivered now rather than at the next restart.
    if (err.connection_lost && st.dispatcher)
      self->send(st.dispatcher, sweep_atom::value);
    return;
  }
  st.options.metrics->ingest_batches.fetch_add(1, std::memory_order_relaxed);
  std::size_t next = 0;
  for (auto& request : group)
    deliver_receipts(self, request, *receipts, next);
  dispatch(self, items, *receipts, now);
}

/// Records `outcomes`; those carrying a compensation event (a dead delivery's
/// `on_dead`) commit that event, routed like any other, in the same
/// transaction. Its idempotency key (on_dead:<delivery id>) publishes it once
/// however often the death is reported. Returns the new events to dispatch.
result<long long, pg::pg_error> record(persistence_self* self, pg::connection& c, const delivery_outcomes& outcomes) {
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
    auto sinks = st.options.admission ? st.options.admission->admit(ev)
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
    items.push_back(make_item(self, std::move(sub), now));
  }
  auto fail = [&](pg::pg_error err) -> result<long long, pg::pg_error> {
    if (!err.connection_lost)
      c.exec("ROLLBACK");
    return unexpected{std::move(err)};
  };
  if (auto begun = c.exec("BEGIN"); !begun)
    return fail(begun.error());
  // This connection commits without waiting for the WAL flush (outcomes
  // may be lost and redone); a compensation event is new data and may not.
  if (auto durable = c.exec("SET LOCAL synchronous_commit = on"); !durable)
    return fail(durable.error());
  auto recorded = pg::record_outcomes(c, outcomes);
  if (!recorded)
    return fail(recorded.error());
  std::vector<pg::ingest_receipt> receipts;
  if (!items.empty()) {
    auto ingested = pg::ingest_events_in_transaction(c, items);
    if (!ingested)
      return fail(ingested.error());
    receipts = std::move(*ingested);
  }
  if (auto committed = c.exec("COMMIT"); !committed)
    return fail(committed.error());
  for (const auto& rc : receipts)
    if (rc.created) {
      st.options.metrics->events_accepted.fetch_add(1, std::memory_order_relaxed);
      log::info("compensation event " + rc.event_id + " (topic " + rc.topic + ") published");
    }
  dispatch(self, items, receipts, now);
  return *recorded;
}

/// Records one outcome that failed within a batch. A transient failure
/// (deadlock, serialization, timeout, lost connection) keeps it for the next
/// flush. Otherwise its death is recorded even without its compensation:
/// left pending, the delivery would be sent again and die again forever.
/// Returns whether to keep the outcome for a later flush.
bool record_alone(persistence_self* self, pg::connection& c, const delivery_outcome& outcome) {
  auto one = record(self, c, delivery_outcomes{outcome});
  if (one)
    return false;
  if (one.error().connection_lost || classify_sql_error(one.error()).outcome == attempt_result::verdict::retry) {
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

void flush_outcomes(persistence_self* self) {
  auto& st = self->state;
  if (st.outcomes.empty())
    return;
  auto conn = ensure(st.bookkeeping_conn, st.options.database_url, true);
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

void flush(persistence_self* self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  // Requests are grouped until a group holds max_batch events or
  // max_batch_bytes of payload; a request is never split, so its events stay
  // all-or-nothing.
  auto payload_bytes = [](const pending_ingest& r) {
    std::size_t n = 0;
    for (const auto& ev : r.events)
      n += ev.payload_json.size();
    return n;
  };
  std::size_t first = 0;
  while (first < st.ingests.size()) {
    std::vector<pending_ingest> group;
    std::size_t events = 0;
    std::size_t bytes = 0;
    while (first < st.ingests.size()) {
      const auto& next = st.ingests[first];
      auto next_bytes = payload_bytes(next);
      if (!group.empty() && (events + next.events.size() > st.options.max_batch ||
                             bytes + next_bytes > st.options.max_batch_bytes))
        break;
      events += next.events.size();
      bytes += next_bytes;
      group.push_back(std::move(st.ingests[first++]));
    }
    commit_ingests(self, std::move(group));
  }
  st.ingests.clear();
  flush_outcomes(self);
}

template <class T, class F>
caf::result<T> with_bookkeeping(persistence_self* self, F&& query) {
  auto& st = self->state;
  auto conn = ensure(st.bookkeeping_conn, st.options.database_url, true);
  if (!conn)
    return to_caf(conn.error());
  auto r = query(**conn);
  if (!r)
    return to_caf(r.error());
  return T{std::move(*r)};
}

caf::behavior persistence_behavior(persistence_self* self, persistence_options options) {
  self->state.options = std::move(options);
  self->state.self_metrics = &self->state.options.metrics->actor("persistence");
  self->send(self, tick_atom::value);
  return {
    [=](ingest_atom, std::vector<event_batch>& batches) -> caf::result<ingest_results> {
      self->state.self_metrics->messages.fetch_add(1, std::memory_order_relaxed);
      if (batches.empty())
        return ingest_results{};
      auto answer = std::make_shared<ingest_answer>();
      answer->promise = self->make_response_promise<ingest_results>();
      answer->slots.resize(batches.size());
      answer->unsettled = batches.size();
      for (std::size_t i = 0; i < batches.size(); ++i)
        self->state.ingests.push_back({std::move(batches[i]), answer, i});
      schedule_flush(self);
      return answer->promise;
    },
    [=](outcome_atom, delivery_outcomes& outcomes) {
      self->state.self_metrics->messages.fetch_add(1, std::memory_order_relaxed);
      auto& mine = self->state.outcomes;
      if (mine.empty())
        mine = std::move(outcomes);
      else
        std::move(outcomes.begin(), outcomes.end(), std::back_inserter(mine));
      schedule_flush(self);
    },
    [=](flush_atom) { flush(self); },
    [=](load_pending_atom, const std::string& sink, const std::string& after_id,
        int limit) -> caf::result<delivery_jobs> {
      self->state.self_metrics->messages.fetch_add(1, std::memory_order_relaxed);
      // Outcomes reported before this request must be visible to it, or a
      // delivery finished a moment ago would be loaded (and sent) again.
      flush_outcomes(self);
      return with_bookkeeping<delivery_jobs>(
        self, [&](pg::connection& c) { return pg::load_pending(c, sink, after_id, limit); });
    },
    [=](get_event_atom, const std::string& id) -> caf::result<event_lookup> {
      self->state.self_metrics->messages.fetch_add(1, std::memory_order_relaxed);
      flush_outcomes(self);
      return with_bookkeeping<event_lookup>(self, [&](pg::connection& c) {
        auto r = pg::find_event(c, id);
        if (!r)
          return result<event_lookup, pg::pg_error>{unexpected{r.error()}};
        return result<event_lookup, pg::pg_error>{event_lookup{std::move(*r)}};
      });
    },
    [=](replay_atom, const replay_request& filter) -> caf::result<replay_report> {
      auto& st = self->state;
      st.self_metrics->messages.fetch_add(1, std::memory_order_relaxed);
      flush_outcomes(self); // a death reported a moment ago is replayable now
      auto conn = ensure(st.bookkeeping_conn, st.options.database_url, true);
      if (!conn)
        return to_caf(conn.error());
      auto& c = **conn;
      // A replay an operator was told about must survive a crash of the
      // server: this connection's default commits without waiting.
      auto fail = [&](const pg::pg_error& err) -> caf::result<replay_report> {
        if (!err.connection_lost)
          c.exec("ROLLBACK");
        return to_caf(err);
      };
      if (auto begun = c.exec("BEGIN"); !begun)
        return fail(begun.error());
      if (auto durable = c.exec("SET LOCAL synchronous_commit = on"); !durable)
        return fail(durable.error());
      auto replayed = pg::replay_dead(c, filter);
      if (!replayed)
        return fail(replayed.error());
      if (auto committed = c.exec("COMMIT"); !committed)
        return fail(committed.error());
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
      return with_bookkeeping<pending_counts>(self, [&](pg::connection& c) {
        using counts = std::vector<std::pair<std::string, long long>>;
        auto r = pg::pending_counts(c);
        if (!r)
          return result<pending_counts, pg::pg_error>{unexpected{r.error()}};
        return result<pending_counts, pg::pg_error>{pending_counts{counts{std::move(*r)}}};
      });
    },
    [=](health_atom) -> caf::result<bool> {
      return with_bookkeeping<bool>(self, [&](pg::connection& c) {
        auto r = c.exec("SELECT 1");
        if (!r)
          return result<bool, pg::pg_error>{unexpected{r.error()}};
        return result<bool, pg::pg_error>{true};
      });
    },
    [=](dispatch_atom, caf::actor dispatcher) { self->state.dispatcher = std::move(dispatcher); },
    [=](tick_atom) { sample_mailbox(self, self->state.self_metrics->mailbox_size); },
  };
}

} // namespace

caf::actor spawn_persistence_actor(caf::actor_system& sys, persistence_options options) {
  return sys.spawn<caf::detached>(persistence_behavior, std::move(options));
}

} // namespace txrelay
