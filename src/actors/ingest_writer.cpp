#include "actors/ingest_writer.hpp"

#include <algorithm>

#include "core/utf8.hpp"
#include "expr/event_document.hpp"
#include "logging/log.hpp"
#include "sinks/sql_sink.hpp"

namespace txrelay {

namespace {

struct writer_state {
  static inline const char* name = "ingest_writer";
  persistence_options options;
  // Acknowledged events are committed on this connection with the server's
  // durable default (synchronous_commit = on).
  std::optional<pg::connection> conn;
  caf::actor dispatcher;
  actor_metrics* self_metrics = nullptr;
};

using writer_self = caf::stateful_actor<writer_state>;

/// One request of a group: its events are committed together or not at all.
struct request_slot {
  event_batch events;
  std::optional<result<ingest_receipts, api_error>> answer;

  void fail(const caf::error& err) { answer.emplace(unexpected{to_api_error(err)}); }
};

void settle(writer_self* self, request_slot& request, std::vector<pg::ingest_receipt>& receipts, std::size_t& next) {
  auto& metrics = *self->state.options.metrics;
  ingest_receipts mine;
  mine.reserve(request.events.size());
  for (std::size_t k = 0; k < request.events.size(); ++k) {
    auto& rc = receipts[next++];
    (rc.created ? metrics.events_accepted : metrics.events_replayed).fetch_add(1, std::memory_order_relaxed);
    mine.push_back(std::move(rc));
  }
  request.answer.emplace(std::move(mine));
}

void after_commit(writer_self* self, const std::vector<pg::ingest_item>& items,
                  const std::vector<pg::ingest_receipt>& receipts, time_point now) {
  auto& st = self->state;
  st.options.metrics->ingest_batches.fetch_add(1, std::memory_order_relaxed);
  dispatch_committed(self, st.dispatcher, items, receipts, st.options.in_transaction, now, st.options.clock->now());
}

/// A connection lost mid-statement leaves the commit unknown: the rows may be
/// there without having been dispatched. Every sender sweeps, so such rows
/// are delivered now rather than at the next restart.
void sweep_if_lost(writer_self* self, const pg::pg_error& err) {
  if (err.connection_lost && self->state.dispatcher)
    self->send(self->state.dispatcher, sweep_atom::value);
}

/// Why an ingest failed, for its clients. A deadlock or serialization
/// failure between the writers, or a statement timeout, says nothing about
/// the request: 503, retry. Anything else is the request's (or the
/// database's) fault.
caf::error refusal(const pg::pg_error& err) {
  if (err.sqlstate == pg::idempotency_reused_sqlstate)
    return make_persistence_error(persistence_errc::idempotency_reused, err.message);
  if (classify_sql_error(err).outcome == attempt_result::verdict::retry)
    return make_persistence_error(persistence_errc::unavailable, primary_message(err.message));
  return to_caf(err);
}

bool has_projection(const writer_state& st, const request_slot& request) {
  return std::any_of(request.events.begin(), request.events.end(),
                     [&](const event_submission& ev) { return routed_to_any(ev, st.options.in_transaction); });
}

std::vector<pg::ingest_item> make_items(writer_self* self, std::vector<request_slot*>& group, time_point now) {
  auto& ids = *self->state.options.ids;
  std::vector<pg::ingest_item> items;
  for (std::size_t r = 0; r < group.size(); ++r)
    for (auto& ev : group[r]->events) {
      items.push_back(make_ingest_item(ids, std::move(ev), now));
      items.back().request = r;
      items.back().strict_idempotency = true; // a client's request
    }
  return items;
}

/// One request whose events are routed to in_transaction sql sinks: its
/// events, their deliveries and those statements commit together, or
/// nothing does. A replayed event (same Idempotency-Key) runs nothing again.
void commit_projected(writer_self* self, request_slot& request) {
  auto& st = self->state;
  auto now = st.options.clock->now();
  std::vector<request_slot*> one{&request};
  auto items = make_items(self, one, now);
  auto conn = ensure_connection(st.conn, st.options.database_url, st.options.database_limits);
  if (!conn) {
    request.fail(to_caf(conn.error()));
    return;
  }
  auto& c = **conn;
  auto refuse = [&](const pg::pg_error& err, caf::error reason) {
    if (c.healthy())
      c.exec("ROLLBACK");
    request.fail(reason);
    sweep_if_lost(self, err); // the COMMIT may have happened without its reply
  };
  auto refuse_pg = [&](const pg::pg_error& err) { refuse(err, refusal(err)); };
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
    auto failed = run_projections(c, st.options.in_transaction, items[i]);
    if (!failed)
      continue;
    if (!failed->statement)
      return refuse_pg(failed->error);
    // A deadlock, a serialization failure or a timeout says nothing about
    // the event: the client may retry (503), unlike a constraint violation
    // (422). Only the primary message goes back: libpq's DETAIL can quote
    // other rows' values.
    std::string why = "sink " + failed->sink + ": " + primary_message(failed->error.message);
    if (failed->transient)
      return refuse(failed->error, make_persistence_error(persistence_errc::unavailable, why));
    if (items.size() > 1)
      why += " (event " + std::to_string(i) + " of the batch)";
    return refuse(failed->error, make_persistence_error(persistence_errc::projection_failed, why));
  }
  if (auto committed = c.exec("COMMIT"); !committed) {
    const auto& err = committed.error();
    return refuse(err, err.connection_lost ? make_persistence_error(persistence_errc::commit_unknown, "")
                                           : refusal(err));
  }
  std::size_t next = 0;
  settle(self, request, *receipts, next);
  after_commit(self, items, *receipts, now);
}

/// Commits every request of `group` in one statement; on a data error in a
/// group of several requests, commits each request alone so one bad request
/// cannot fail its neighbours.
void commit_group(writer_self* self, std::vector<request_slot*> group) {
  auto& st = self->state;
  if (!st.options.in_transaction.empty()) {
    std::vector<request_slot*> plain;
    for (auto* request : group) {
      if (has_projection(st, *request))
        commit_projected(self, *request);
      else
        plain.push_back(request);
    }
    if (plain.empty())
      return;
    group = std::move(plain);
  }
  auto now = st.options.clock->now();
  auto items = make_items(self, group, now);
  auto conn = ensure_connection(st.conn, st.options.database_url, st.options.database_limits);
  if (!conn) {
    for (auto* request : group)
      request->fail(to_caf(conn.error()));
    return;
  }
  auto receipts = pg::ingest_events(**conn, items);
  if (!receipts) {
    const auto& err = receipts.error();
    if (!err.connection_lost && group.size() > 1) {
      log::warn("ingest of " + std::to_string(group.size()) + " requests failed (" + err.message +
                "); committing them one by one");
      std::size_t next = 0;
      for (auto* request : group) {
        for (auto& ev : request->events)
          ev = std::move(items[next++].event);
        commit_group(self, {request});
      }
      return;
    }
    log::error("ingest failed: " + err.message);
    // One autocommit statement: lost mid-way, it may have committed.
    auto reason = err.connection_lost ? make_persistence_error(persistence_errc::commit_unknown, "") : refusal(err);
    for (auto* request : group)
      request->fail(reason);
    sweep_if_lost(self, err);
    return;
  }
  std::size_t next = 0;
  for (auto* request : group)
    settle(self, *request, *receipts, next);
  after_commit(self, items, *receipts, now);
}

caf::behavior writer_behavior(writer_self* self, persistence_options options, std::string name) {
  self->state.options = std::move(options);
  self->state.self_metrics = &self->state.options.metrics->actor(name);
  self->send(self, tick_atom::value);
  return {
    [=](commit_atom, std::vector<event_batch>& batches) -> ingest_results {
      self->state.self_metrics->messages.fetch_add(1, std::memory_order_relaxed);
      std::vector<request_slot> slots(batches.size());
      std::vector<request_slot*> group;
      group.reserve(slots.size());
      for (std::size_t i = 0; i < batches.size(); ++i) {
        slots[i].events = std::move(batches[i]);
        group.push_back(&slots[i]);
      }
      commit_group(self, std::move(group));
      ingest_results results;
      results.reserve(slots.size());
      for (auto& slot : slots) {
        // Always settled; a gap would be a bug, answered rather than hung.
        if (!slot.answer)
          slot.fail(make_persistence_error(persistence_errc::rejected, "no answer for this request"));
        results.push_back(std::move(*slot.answer));
      }
      return results;
    },
    [=](dispatch_to_atom, caf::actor dispatcher) { self->state.dispatcher = std::move(dispatcher); },
    [=](tick_atom) { sample_mailbox(self, self->state.self_metrics->mailbox_size); },
  };
}

} // namespace

caf::actor spawn_ingest_writer(caf::local_actor* parent, const persistence_options& options, std::string name) {
  return parent->spawn<caf::detached + caf::linked>(writer_behavior, options, std::move(name));
}

} // namespace txrelay
