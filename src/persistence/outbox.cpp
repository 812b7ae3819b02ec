#include "persistence/outbox.hpp"

#include "core/ids.hpp"
#include "core/json.hpp"
#include "persistence/binary_array.hpp"
#include "persistence/sql_time.hpp"

#include "core/utf8.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <unordered_map>

namespace txrelay::pg {

namespace {

// Each column of the group travels as one binary array (binary_array.hpp):
// no JSON document to parse around the payloads, which are parsed once, by
// the jsonb cast. An event's deliveries are recorded in its own row (each
// event's ids and sinks as one array literal) and queued; their history rows
// come later, if ever (migration 12).
const std::string ingest_sql = R"sql(
WITH inserted AS (
  INSERT INTO txrelay.events (id, topic, key, payload, idempotency_key, created_at, producer,
                              delivery_ids, delivery_sinks)
  SELECT e.id, e.topic, e.key, e.payload::jsonb, e.idempotency_key, e.created_at::timestamptz, e.producer,
         e.delivery_ids::uuid[], e.delivery_sinks::text[]
  FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $10::text[], $11::text[], $12::text[])
       AS e(id, topic, key, payload, idempotency_key, created_at, producer, delivery_ids, delivery_sinks)
  ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
  RETURNING id
), queued AS (
  INSERT INTO txrelay.pending_deliveries (sink, id, event_id)
  SELECT d.sink, d.id, d.event_id
  FROM unnest($7::uuid[], $8::uuid[], $9::text[]) AS d(id, event_id, sink)
  WHERE d.event_id IN (SELECT id FROM inserted)
)
SELECT id::text FROM inserted)sql";

// The earlier events of repeated keys, each with whether the repeat is the
// same event: topic, key and payload (as jsonb: spacing and key order do not
// matter). Probe rows (topic NULL) ask whether a key exists at all.
const std::string existing_sql = R"sql(
SELECT n.idempotency_key, e.id::text, e.topic, )sql" TXR_RFC3339("e.created_at") R"sql(, d.id::text, d.sink,
       coalesce(n.topic = e.topic AND n.key IS NOT DISTINCT FROM e.key AND n.payload::jsonb = e.payload, false)
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS n(idempotency_key, topic, key, payload)
JOIN txrelay.events e ON e.idempotency_key = n.idempotency_key
LEFT JOIN LATERAL unnest(e.delivery_ids, e.delivery_sinks) AS d(id, sink) ON true
ORDER BY e.id, d.id)sql";

// A finished delivery leaves pending_deliveries; its history row is written
// (made on the first occasion) only when it has something to say: a retry
// (attempts, next attempt, the error), a death, or a success after
// failures. A success at the first attempt is the DELETE alone (migrations
// 11 and 12). Only pending deliveries change: a late outcome of a finished
// one does nothing. Counts the outcomes that applied.
const std::string outcomes_sql = R"sql(
WITH o AS (
  SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::int4[], $6::text[], $7::int4[], $8::text[])
       AS o(id, event_id, sink, status, attempts, next_attempt_at, last_status, last_error)
), finished AS (
  DELETE FROM txrelay.pending_deliveries p USING o
   WHERE p.sink = o.sink AND p.id = o.id AND o.status <> 'pending'
  RETURNING p.sink, p.id
), still_queued AS (
  -- A retry applies only to a delivery still queued, and the lock keeps it
  -- so until COMMIT: a concurrent finish (another sender after a lease
  -- moved), a partition move or retention waits, or has committed and the
  -- row is skipped. Without it the upsert below could write history for a
  -- delivery finished meanwhile, or under a sink name just moved away.
  SELECT p.sink, p.id FROM txrelay.pending_deliveries p JOIN o ON p.sink = o.sink AND p.id = o.id
   WHERE o.status = 'pending'
     FOR KEY SHARE OF p
), written AS (
  INSERT INTO txrelay.deliveries AS d (event_id, sink, id, status, attempts, next_attempt_at, last_status, last_error,
                                       created_at, updated_at)
  SELECT o.event_id, o.sink, o.id, o.status, o.attempts, coalesce(o.next_attempt_at::timestamptz, now()),
         o.last_status, o.last_error, txrelay.uuid_v7_time(o.id), now()
    FROM o
   -- First on o alone: a first attempt's success never writes a row.
   WHERE (o.status <> 'delivered' OR o.attempts > 1)
     AND CASE WHEN o.status = 'pending'
              THEN EXISTS (SELECT 1 FROM still_queued q WHERE q.sink = o.sink AND q.id = o.id)
              ELSE EXISTS (SELECT 1 FROM finished f WHERE f.sink = o.sink AND f.id = o.id) END
  ON CONFLICT (event_id, sink) DO UPDATE
     SET status = CASE WHEN excluded.status = 'pending' THEN d.status ELSE excluded.status END,
         attempts = greatest(d.attempts, excluded.attempts),
         next_attempt_at = CASE WHEN excluded.status = 'pending' THEN excluded.next_attempt_at ELSE d.next_attempt_at END,
         last_status = excluded.last_status,
         last_error = excluded.last_error,
         updated_at = excluded.updated_at
  RETURNING d.status
), attempts_kept AS (
  -- Every attempt the batch reports (not only each delivery's last), kept
  -- when its delivery's outcome applied; a repeated report is stored once.
  INSERT INTO txrelay.delivery_attempts (event_id, delivery_id, started_at, sink, attempt, duration_ms, outcome,
                                         http_status, error_class, error, response_excerpt)
  SELECT a.event_id, a.delivery_id, a.started_at::timestamptz, a.sink, a.attempt, a.duration_ms, a.outcome,
         a.http_status, a.error_class, a.error, a.response_excerpt
    FROM unnest($9::uuid[], $10::uuid[], $11::text[], $12::text[], $13::int4[], $14::int4[], $15::text[],
                $16::int4[], $17::text[], $18::text[], $19::text[])
         AS a(event_id, delivery_id, started_at, sink, attempt, duration_ms, outcome, http_status, error_class, error,
              response_excerpt)
   WHERE EXISTS (SELECT 1 FROM finished f WHERE f.sink = a.sink AND f.id = a.delivery_id)
      OR EXISTS (SELECT 1 FROM still_queued q WHERE q.sink = a.sink AND q.id = a.delivery_id)
  ON CONFLICT DO NOTHING
)
SELECT (SELECT count(*) FROM finished) + (SELECT count(*) FROM written WHERE status = 'pending'))sql";

// outcomes_sql when every outcome is a first attempt's success.
const std::string finished_sql = R"sql(
DELETE FROM txrelay.pending_deliveries p
 USING unnest($1::text[], $2::uuid[]) AS o(sink, id)
 WHERE p.sink = o.sink AND p.id = o.id)sql";

// A delivery without a history row was never attempted: due since its event.
const std::string pending_sql = R"sql(
SELECT p.id::text, p.event_id::text, e.topic, e.key, e.payload::text, )sql" TXR_RFC3339("e.created_at") R"sql(,
       coalesce(d.attempts, 0), (extract(epoch FROM coalesce(d.next_attempt_at, e.created_at)) * 1000000)::bigint,
       (extract(epoch FROM d.replayed_at) * 1000000)::bigint
FROM txrelay.pending_deliveries p
JOIN txrelay.events e ON e.id = p.event_id
LEFT JOIN txrelay.deliveries d ON d.event_id = p.event_id AND d.sink = p.sink
WHERE p.sink = $1 AND p.id > $2::uuid
ORDER BY p.id
LIMIT $3)sql";

// The attempt history of an event's deliveries, each delivery's in order.
const std::string event_attempts_sql = R"sql(
SELECT a.delivery_id::text, a.attempt, )sql" TXR_RFC3339("a.started_at") R"sql(, a.duration_ms, a.outcome,
       a.http_status, a.error_class, a.error, a.response_excerpt
FROM txrelay.delivery_attempts a WHERE a.event_id = $1::uuid
ORDER BY a.delivery_id, a.started_at)sql";

// Routed or still queued (migration 14's view).
const std::string event_sql = R"sql(
SELECT e.id::text, e.topic, e.key, e.payload::text, )sql" TXR_RFC3339("e.created_at") R"sql(,
       )sql" TXR_ROUTING_STATE R"sql(, e.rejection::text, e.producer
FROM txrelay.event_log e WHERE e.id = $1::uuid)sql";

// SKIP LOCKED: another router (a second node) holding some rows takes
// nothing from this one; the DELETE is the claim, undone by a rollback. A
// queue row carries its event (topic not NULL) or names a stored one.
const std::string claim_sql = R"sql(
WITH claimed AS (
  DELETE FROM txrelay.unrouted_events
   WHERE seq IN (SELECT seq FROM txrelay.unrouted_events
                  ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED)
  RETURNING seq, event_id, topic, key, payload, created_at
)
SELECT c.event_id::text, coalesce(c.topic, e.topic),
       CASE WHEN c.topic IS NULL THEN e.key ELSE c.key END, coalesce(c.payload, e.payload)::text,
       )sql" TXR_RFC3339("coalesce(c.created_at, e.created_at)") R"sql(, c.topic IS NULL
FROM claimed c LEFT JOIN txrelay.events e ON c.topic IS NULL AND e.id = c.event_id
ORDER BY c.seq)sql";

// An event that came in its queue row is inserted with its deliveries (or
// its rejection); a stored one gets them in its row (one routed to no sink
// is left as it is: NULL arrays). Its deliveries are queued.
const std::string routing_sql = R"sql(
WITH queued AS (
  INSERT INTO txrelay.pending_deliveries (sink, id, event_id)
  SELECT d.sink, d.id, d.event_id FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS d(id, event_id, sink)
  RETURNING 1
), carried AS (
  INSERT INTO txrelay.events (id, topic, key, payload, created_at, delivery_ids, delivery_sinks, rejection)
  SELECT r.id, r.topic, r.key, r.payload::jsonb, r.created_at::timestamptz, r.ids::uuid[], r.sinks::text[],
         r.rejection::jsonb
    FROM unnest($4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
         AS r(id, topic, key, payload, created_at, ids, sinks, rejection)
  RETURNING rejection IS NOT NULL AS rejected
), stored AS (
  UPDATE txrelay.events e
     SET delivery_ids = r.ids::uuid[], delivery_sinks = r.sinks::text[], rejection = r.rejection::jsonb
    FROM unnest($12::uuid[], $13::text[], $14::text[], $15::text[]) AS r(event_id, ids, sinks, rejection)
   WHERE e.id = r.event_id
  RETURNING r.rejection IS NOT NULL AS rejected
)
SELECT (SELECT count(*) FROM queued) + (SELECT count(*) FROM carried WHERE rejected)
       + (SELECT count(*) FROM stored WHERE rejected))sql";

const std::string event_deliveries_sql = "SELECT " TXR_DELIVERY_RECORD_COLUMNS R"sql(
FROM txrelay.delivery_status d
WHERE d.event_id = $1::uuid ORDER BY d.id)sql";

const std::string replay_sql = R"sql(
WITH chosen AS (
  SELECT d.event_id, d.sink, d.id
    FROM txrelay.deliveries d
   WHERE d.status = 'dead'
     AND ($1::uuid IS NULL OR d.event_id = $1::uuid)
     AND ($2::text IS NULL OR d.sink = $2)
     AND d.sink = ANY ($3::text[])
   ORDER BY d.sink, d.id
   LIMIT $4
     FOR UPDATE
), replayed AS (
  UPDATE txrelay.deliveries d
     SET status = 'pending', attempts = 0, next_attempt_at = now(), updated_at = now(), replayed_at = now()
    FROM chosen c
   WHERE d.event_id = c.event_id AND d.sink = c.sink AND d.id = c.id AND d.status = 'dead'
  RETURNING d.id, d.sink, d.event_id
), queued AS (
  INSERT INTO txrelay.pending_deliveries (sink, id, event_id) SELECT sink, id, event_id FROM replayed
)
SELECT id::text, sink FROM replayed ORDER BY id)sql";

// A pass over the queue's primary key (it holds the backlog, not the
// history), then one probe per sink for its first id: the oldest, ids being
// UUIDv7s (PostgreSQL 15 has no min(uuid)).
const std::string counts_sql = R"sql(
SELECT c.sink, c.n, (extract(epoch FROM txrelay.uuid_v7_time(o.id)) * 1000)::bigint
FROM (SELECT sink, count(*) AS n FROM txrelay.pending_deliveries GROUP BY sink) AS c
CROSS JOIN LATERAL (SELECT p.id FROM txrelay.pending_deliveries p WHERE p.sink = c.sink ORDER BY p.id LIMIT 1) AS o
ORDER BY c.sink)sql";



/// The cursor before every id: paging "from the start".
const std::string nil_uuid = "00000000-0000-0000-0000-000000000000";

/// Ids are made by the engine, so one that is not a UUID is a bug, refused
/// before it reaches the database.
pg_error not_a_uuid(const std::string& id) { return pg_error{"", "internal error: \"" + id + "\" is not a UUID"}; }

} // namespace

std::string text_array_literal(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    out += i ? ",\"" : "\"";
    for (char c : items[i]) {
      if (c == '"' || c == '\\')
        out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

namespace {
result<std::vector<ingest_receipt>, pg_error> ingest_statements(connection& conn, const std::vector<ingest_item>& items);
} // namespace

namespace {

/// A group's columns, one binary array each, in the order of ingest_sql's
/// parameters.
struct ingest_columns {
  binary_array event_ids{binary_array::element::uuid};
  binary_array topics{binary_array::element::text};
  binary_array keys{binary_array::element::text};
  binary_array payloads{binary_array::element::text};
  binary_array idempotency_keys{binary_array::element::text};
  binary_array event_created_at{binary_array::element::text};
  binary_array delivery_ids{binary_array::element::uuid};
  binary_array delivery_event_ids{binary_array::element::uuid};
  binary_array sinks{binary_array::element::text};
  binary_array producers{binary_array::element::text};
  binary_array id_lists{binary_array::element::text};   // per event: its delivery ids, a uuid[] literal
  binary_array sink_lists{binary_array::element::text}; // per event: their sinks, a text[] literal

  std::vector<std::string_view> params() const {
    return {event_ids.bytes(),    topics.bytes(),       keys.bytes(),
            payloads.bytes(),     idempotency_keys.bytes(), event_created_at.bytes(),
            delivery_ids.bytes(), delivery_event_ids.bytes(), sinks.bytes(),
            producers.bytes(),    id_lists.bytes(),     sink_lists.bytes()};
  }
};

/// An event's delivery ids as a uuid[] literal (they are checked UUIDs:
/// nothing to quote) and its sinks as a text[] literal.
std::string uuid_array_literal(const std::vector<std::string>& ids) {
  std::string out = "{";
  for (const auto& id : ids)
    out += (out.size() > 1 ? "," : "") + id;
  return out + "}";
}

void add_optional(binary_array& column, const std::optional<std::string>& value) {
  if (value)
    column.add_text(*value);
  else
    column.add_null();
}

/// An event has at most one delivery per sink: its history row is keyed by
/// (event_id, sink). Routing makes them so; a breach is a bug, refused here
/// before it reaches the database.
std::optional<pg_error> repeated_sink(const ingest_item& item) {
  const auto& sinks = item.event.sinks;
  for (std::size_t i = 0; i < sinks.size(); ++i)
    for (std::size_t j = i + 1; j < sinks.size(); ++j)
      if (sinks[i] == sinks[j])
        return pg_error{"", "internal error: event " + item.event_id + " routed to sink " + sinks[i] + " twice"};
  if (sinks.size() != item.delivery_ids.size())
    return pg_error{"", "internal error: event " + item.event_id + " has " + std::to_string(sinks.size()) +
                          " sinks and " + std::to_string(item.delivery_ids.size()) + " delivery ids"};
  return std::nullopt;
}

/// The columns of `items`, or an error naming an id that is not a UUID.
result<ingest_columns, pg_error> ingest_arrays(const std::vector<ingest_item>& items) {
  ingest_columns c;
  for (const auto& item : items) {
    if (auto bad = repeated_sink(item))
      return unexpected{*bad};
    if (!c.event_ids.add_uuid(item.event_id))
      return unexpected{not_a_uuid(item.event_id)};
    c.topics.add_text(item.event.topic);
    add_optional(c.keys, item.event.key);
    c.payloads.add_text(item.event.payload_json); // validated JSON object text
    add_optional(c.idempotency_keys, item.event.idempotency_key);
    c.event_created_at.add_text(item.created_at);
    add_optional(c.producers, item.event.producer);
    for (std::size_t i = 0; i < item.delivery_ids.size(); ++i) {
      if (!c.delivery_ids.add_uuid(item.delivery_ids[i]))
        return unexpected{not_a_uuid(item.delivery_ids[i])};
      c.delivery_event_ids.add_uuid(item.event_id);
      c.sinks.add_text(item.event.sinks[i]);
    }
    c.id_lists.add_text(uuid_array_literal(item.delivery_ids));
    c.sink_lists.add_text(text_array_literal(item.event.sinks));
  }
  return c;
}

} // namespace

result<std::vector<ingest_receipt>, pg_error> ingest_events(connection& conn, const std::vector<ingest_item>& items) {
  // With idempotency keys a second statement may follow (the replays), so
  // both run in one transaction: an error in the second must not leave the
  // first committed behind the caller's back. Without keys the insert is the
  // only statement and commits on its own: one round trip.
  bool keyed = std::any_of(items.begin(), items.end(), [](const auto& i) { return i.event.idempotency_key; });
  if (keyed) {
    if (auto begun = conn.exec("BEGIN"); !begun)
      return unexpected{begun.error()};
  }
  auto receipts = ingest_statements(conn, items);
  if (!keyed)
    return receipts;
  if (!receipts) {
    conn.exec("ROLLBACK");
    return receipts;
  }
  if (auto committed = conn.exec("COMMIT"); !committed)
    return unexpected{committed.error()};
  return receipts;
}

result<std::vector<ingest_receipt>, pg_error> ingest_events_in_transaction(connection& conn,
                                                                         const std::vector<ingest_item>& items) {
  return ingest_statements(conn, items);
}

namespace {

result<std::vector<ingest_receipt>, pg_error> ingest_statements(connection& conn, const std::vector<ingest_item>& items) {
  auto columns = ingest_arrays(items);
  if (!columns)
    return unexpected{columns.error()};
  auto inserted = conn.exec_prepared_binary("txr_ingest", ingest_sql, columns->params());
  if (!inserted)
    return unexpected{inserted.error()};

  std::vector<std::string> inserted_ids;
  inserted_ids.reserve(inserted->rows());
  for (int r = 0; r < inserted->rows(); ++r)
    inserted_ids.emplace_back(inserted->get(r, 0));
  std::sort(inserted_ids.begin(), inserted_ids.end());

  std::vector<ingest_receipt> receipts(items.size());
  binary_array replay_keys{binary_array::element::text};
  binary_array replay_topics{binary_array::element::text};
  binary_array replay_event_keys{binary_array::element::text};
  binary_array replay_payloads{binary_array::element::text};
  std::size_t replays = 0;
  // Per request and key (a batch's events share its key before the \x1f):
  // how many of its events were new, and how many there are.
  struct keyed_request {
    std::size_t created = 0;
    std::size_t events = 0;
    bool batch = false; // its keys carry an index after \x1f
  };
  std::map<std::pair<std::size_t, std::string>, keyed_request> keyed;
  std::set<std::string> lenient_keys;
  auto base_key = [](const std::string& k) { return k.substr(0, k.find('\x1f')); };
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& item = items[i];
    bool created = std::binary_search(inserted_ids.begin(), inserted_ids.end(), item.event_id);
    if (item.event.idempotency_key && item.strict_idempotency) {
      auto& k = keyed[{item.request, base_key(*item.event.idempotency_key)}];
      ++k.events;
      k.created += created ? 1 : 0;
      k.batch = item.event.idempotency_key->find('\x1f') != std::string::npos;
    }
    if (created) {
      auto& rc = receipts[i];
      rc.event_id = item.event_id;
      rc.topic = item.event.topic;
      rc.created_at = item.created_at;
      for (std::size_t s = 0; s < item.delivery_ids.size(); ++s)
        rc.deliveries.push_back({item.delivery_ids[s], item.event.sinks[s]});
      std::sort(rc.deliveries.begin(), rc.deliveries.end(),
                [](const auto& a, const auto& b) { return a.id < b.id; });
    } else if (item.event.idempotency_key) {
      replay_keys.add_text(*item.event.idempotency_key);
      if (item.strict_idempotency) {
        replay_topics.add_text(item.event.topic);
        add_optional(replay_event_keys, item.event.key);
        replay_payloads.add_text(item.event.payload_json);
      } else { // compared with nothing: the earlier event stands
        replay_topics.add_null();
        replay_event_keys.add_null();
        replay_payloads.add_null();
        lenient_keys.insert(*item.event.idempotency_key);
      }
      ++replays;
    } else {
      return unexpected{pg_error{"", "event " + item.event_id + " was not inserted and has no idempotency key"}};
    }
  }
  if (replays == 0)
    return receipts;

  auto reused = [](const std::string& key) {
    return unexpected{pg_error{idempotency_reused_sqlstate,
                               "the Idempotency-Key \"" + one_line_excerpt(key, 100) +
                                 "\" was used before for a different request; use a new key for a new request"}};
  };
  // A request is repeated whole or not at all: some of its events new and
  // some repeated means the earlier request had other (or fewer) events.
  // And a batch that had more events before still has an event at the
  // index after this one's last: probe for it.
  for (const auto& [request_key, k] : keyed) {
    if (k.created > 0 && k.created < k.events)
      return reused(request_key.second);
    if (k.created == 0 && k.batch) {
      replay_keys.add_text(request_key.second + "\x1f" + std::to_string(k.events));
      replay_topics.add_null();
      replay_event_keys.add_null();
      replay_payloads.add_null();
    }
  }

  // Replays: the earlier event's ids, exactly as first answered.
  auto existing = conn.exec_prepared_binary("txr_existing", existing_sql,
                                            {replay_keys.bytes(), replay_topics.bytes(), replay_event_keys.bytes(),
                                             replay_payloads.bytes()});
  if (!existing)
    return unexpected{existing.error()};
  std::unordered_map<std::string, ingest_receipt> by_key;
  for (int r = 0; r < existing->rows(); ++r) {
    std::string key{existing->get(r, 0)};
    if (existing->get(r, 6) != "t" && !lenient_keys.count(key))
      return reused(base_key(key));
    auto& rc = by_key[key];
    rc.created = false;
    rc.event_id = existing->get(r, 1);
    rc.topic = existing->get(r, 2);
    rc.created_at = existing->get(r, 3);
    if (!existing->is_null(r, 4))
      rc.deliveries.push_back({std::string{existing->get(r, 4)}, std::string{existing->get(r, 5)}});
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (!receipts[i].event_id.empty())
      continue;
    auto it = by_key.find(*items[i].event.idempotency_key);
    if (it == by_key.end())
      return unexpected{pg_error{"", "idempotency key conflict but no earlier event found"}};
    receipts[i] = it->second;
  }
  return receipts;
}

// An HTTP status, 0 (no answer) as NULL.
void add_status(binary_array& column, int status) {
  if (status != 0)
    column.add_int4(status);
  else
    column.add_null();
}

// Text, empty as NULL.
void add_text_or_null(binary_array& column, std::string_view text) {
  if (text.empty())
    column.add_null();
  else
    column.add_text(text);
}

// The attempt history's columns of one outcome batch, as binary arrays.
struct attempt_columns {
  binary_array event_ids{binary_array::element::uuid};
  binary_array delivery_ids{binary_array::element::uuid};
  binary_array started_at{binary_array::element::text};
  binary_array sinks{binary_array::element::text};
  binary_array attempts{binary_array::element::int4};
  binary_array durations{binary_array::element::int4};
  binary_array outcomes{binary_array::element::text};
  binary_array statuses{binary_array::element::int4};
  binary_array error_classes{binary_array::element::text};
  binary_array errors{binary_array::element::text};
  binary_array excerpts{binary_array::element::text};

  bool add(const delivery_outcome& o) {
    const auto& a = *o.attempt;
    if (!event_ids.add_uuid(o.event_id))
      return false;
    if (!delivery_ids.add_uuid(o.delivery_id))
      return false;
    started_at.add_text(format_rfc3339(a.started));
    sinks.add_text(o.sink);
    attempts.add_int4(o.attempts);
    durations.add_int4(static_cast<std::int32_t>(std::clamp<long long>(a.duration.count(), 0, INT32_MAX)));
    outcomes.add_text(o.status == delivery_status::pending ? "retry" : to_string(o.status));
    add_status(statuses, o.http_status);
    add_text_or_null(error_classes, a.failure ? to_string(*a.failure) : "");
    add_text_or_null(errors, o.error);
    add_text_or_null(excerpts, a.response_excerpt);
    return true;
  }
};

} // namespace

result<long long, pg_error> record_outcomes(connection& conn, const std::vector<delivery_outcome>& outcomes) {
  // The last report for a delivery wins: a sender reports in attempt order.
  std::unordered_map<std::string_view, std::size_t> last;
  for (std::size_t i = 0; i < outcomes.size(); ++i)
    last[outcomes[i].delivery_id] = i;
  binary_array ids{binary_array::element::uuid};
  binary_array event_ids{binary_array::element::uuid};
  binary_array sinks{binary_array::element::text};
  binary_array statuses{binary_array::element::text};
  binary_array attempts{binary_array::element::int4};
  binary_array next_attempt_at{binary_array::element::text};
  binary_array last_status{binary_array::element::int4};
  binary_array last_error{binary_array::element::text};
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    const auto& o = outcomes[i];
    if (last[o.delivery_id] != i)
      continue;
    if (!ids.add_uuid(o.delivery_id))
      return unexpected{not_a_uuid(o.delivery_id)};
    if (!event_ids.add_uuid(o.event_id))
      return unexpected{not_a_uuid(o.event_id)};
    sinks.add_text(o.sink);
    statuses.add_text(to_string(o.status));
    attempts.add_int4(o.attempts);
    if (o.status == delivery_status::pending)
      next_attempt_at.add_text(format_rfc3339(o.next_attempt_at));
    else
      next_attempt_at.add_null();
    add_status(last_status, o.http_status);
    add_text_or_null(last_error, o.error);
  }
  // Each attempt the batch reports, for the attempt history.
  attempt_columns kept;
  for (const auto& o : outcomes)
    if (o.attempt && !kept.add(o))
      return unexpected{not_a_uuid(o.delivery_id + " / " + o.event_id)};
  // The common batch, every outcome a first attempt's success, is the
  // DELETE alone: a statement that much simpler also plans in a fraction of
  // the time (the ledger plans each execution: plan_cache_mode).
  bool only_first_successes = std::all_of(outcomes.begin(), outcomes.end(), [](const delivery_outcome& o) {
    return o.status == delivery_status::delivered && o.attempts <= 1 && !o.attempt;
  });
  auto res = only_first_successes
               ? conn.exec_prepared_binary("txr_outcomes_done", finished_sql, {sinks.bytes(), ids.bytes()})
               : conn.exec_prepared_binary("txr_outcomes", outcomes_sql,
                                           {ids.bytes(), event_ids.bytes(), sinks.bytes(), statuses.bytes(),
                                            attempts.bytes(), next_attempt_at.bytes(), last_status.bytes(),
                                            last_error.bytes(), kept.event_ids.bytes(), kept.delivery_ids.bytes(),
                                            kept.started_at.bytes(), kept.sinks.bytes(), kept.attempts.bytes(),
                                            kept.durations.bytes(), kept.outcomes.bytes(), kept.statuses.bytes(),
                                            kept.error_classes.bytes(), kept.errors.bytes(), kept.excerpts.bytes()});
  if (!res)
    return unexpected{res.error()};
  return only_first_successes ? res->affected_rows() : res->get_int(0, 0);
}

result<std::vector<delivery_job>, pg_error> load_pending(connection& conn, const std::string& sink,
                                                         const std::string& after_id, int limit) {
  auto res = conn.exec_prepared("txr_pending", pending_sql,
                                {sink, after_id.empty() ? nil_uuid : after_id, std::to_string(limit)});
  if (!res)
    return unexpected{res.error()};
  std::vector<delivery_job> jobs;
  jobs.reserve(res->rows());
  for (int r = 0; r < res->rows(); ++r) {
    delivery_job job;
    job.id = res->get(r, 0);
    job.event_id = res->get(r, 1);
    job.sink = sink;
    job.topic = res->get(r, 2);
    job.key = res->get_optional(r, 3);
    job.payload_json = res->get(r, 4);
    job.created_at = res->get(r, 5);
    job.attempts = static_cast<int>(res->get_int(r, 6));
    job.next_attempt_at = time_point{std::chrono::microseconds{res->get_int(r, 7)}};
    if (!res->is_null(r, 8))
      job.replayed_at = time_point{std::chrono::microseconds{res->get_int(r, 8)}};
    jobs.push_back(std::move(job));
  }
  return jobs;
}

result<std::optional<event_record>, pg_error> find_event(connection& conn, const std::string& event_id) {
  auto ev = conn.exec_prepared("txr_event", event_sql, {event_id});
  if (!ev)
    return unexpected{ev.error()};
  if (ev->rows() == 0)
    return std::optional<event_record>{};
  event_record rec;
  rec.id = ev->get(0, 0);
  rec.topic = ev->get(0, 1);
  rec.key = ev->get_optional(0, 2);
  rec.payload_json = ev->get(0, 3);
  rec.created_at = ev->get(0, 4);
  rec.routing = routing_state_from(ev->get(0, 5));
  rec.rejection_json = ev->get_optional(0, 6);
  rec.producer = ev->get_optional(0, 7);
  auto ds = conn.exec_prepared("txr_event_deliveries", event_deliveries_sql, {event_id});
  if (!ds)
    return unexpected{ds.error()};
  for (int r = 0; r < ds->rows(); ++r)
    rec.deliveries.push_back(delivery_record_at(*ds, r, 0));
  auto as = conn.exec_prepared("txr_event_attempts", event_attempts_sql, {event_id});
  if (!as)
    return unexpected{as.error()};
  for (int r = 0; r < as->rows(); ++r) {
    auto delivery = std::find_if(rec.deliveries.begin(), rec.deliveries.end(),
                                 [&](const delivery_record& d) { return d.id == as->get(r, 0); });
    if (delivery == rec.deliveries.end())
      continue; // a delivery the event no longer names (a partition move keeps the id; this is defensive)
    attempt_entry a;
    a.attempt = static_cast<int>(as->get_int(r, 1));
    a.at = as->get(r, 2);
    a.duration_ms = as->get_int(r, 3);
    a.outcome = as->get(r, 4);
    if (!as->is_null(r, 5))
      a.http_status = static_cast<int>(as->get_int(r, 5));
    a.error_class = as->get_optional(r, 6);
    a.error = as->get_optional(r, 7);
    a.response_excerpt = as->get_optional(r, 8);
    delivery->history.push_back(std::move(a));
  }
  return std::optional<event_record>{std::move(rec)};
}

routing_state routing_state_from(std::string_view text) {
  return text == "pending" ? routing_state::pending : text == "rejected" ? routing_state::rejected : routing_state::routed;
}

delivery_record delivery_record_at(const result_set& rows, int row, int first) {
  delivery_record d;
  d.id = rows.get(row, first);
  d.sink = rows.get(row, first + 1);
  d.status = rows.get(row, first + 2);
  d.attempts = static_cast<int>(rows.get_int(row, first + 3));
  d.next_attempt_at = rows.get(row, first + 4);
  if (!rows.is_null(row, first + 5))
    d.last_status = static_cast<int>(rows.get_int(row, first + 5));
  d.last_error = rows.get_optional(row, first + 6);
  d.updated_at = rows.get(row, first + 7);
  return d;
}

const char* to_string(routing_state s) {
  switch (s) {
    case routing_state::routed: return "routed";
    case routing_state::pending: return "pending";
    case routing_state::rejected: return "rejected";
  }
  return "routed";
}

result<long long, pg_error> declare_topics(connection& conn, const std::vector<std::string>& topics) {
  binary_array names{binary_array::element::text};
  for (const auto& t : topics)
    names.add_text(t);
  if (auto begun = conn.exec("BEGIN"); !begun)
    return unexpected{begun.error()};
  auto fail = [&](pg_error e) -> result<long long, pg_error> {
    if (!e.connection_lost)
      conn.exec("ROLLBACK");
    return unexpected{std::move(e)};
  };
  auto removed = conn.exec_prepared_binary(
    "txr_topics_remove", "DELETE FROM txrelay.topics WHERE NOT (topic = ANY ($1::text[]))", {names.bytes()});
  if (!removed)
    return fail(removed.error());
  auto added = conn.exec_prepared_binary(
    "txr_topics_add", "INSERT INTO txrelay.topics (topic) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
    {names.bytes()});
  if (!added)
    return fail(added.error());
  if (auto committed = conn.exec("COMMIT"); !committed)
    return unexpected{committed.error()};
  return added->affected_rows() + removed->affected_rows();
}

result<bool, pg_error> any_unrouted(connection& conn) {
  // The first entry of the primary key: a scan of the table would read every
  // page it ever grew to (a drained backlog leaves them empty until a vacuum
  // gives them back), 200 times a second.
  auto res = conn.exec_prepared("txr_any_unrouted", "SELECT seq FROM txrelay.unrouted_events ORDER BY seq LIMIT 1", {});
  if (!res)
    return unexpected{res.error()};
  return res->rows() > 0;
}

result<std::vector<published_event>, pg_error> claim_unrouted(connection& conn, int limit) {
  auto res = conn.exec_prepared("txr_claim_unrouted", claim_sql, {std::to_string(limit)});
  if (!res)
    return unexpected{res.error()};
  std::vector<published_event> events;
  events.reserve(res->rows());
  for (int r = 0; r < res->rows(); ++r) {
    if (res->is_null(r, 1))
      continue; // a queue row whose stored event was deleted by hand: nothing to route
    published_event ev;
    ev.event_id = res->get(r, 0);
    ev.topic = res->get(r, 1);
    ev.key = res->get_optional(r, 2);
    ev.payload_json = res->get(r, 3);
    ev.created_at = res->get(r, 4);
    ev.stored = res->get(r, 5) == "t";
    events.push_back(std::move(ev));
  }
  return events;
}

namespace {

// What routing writes into an event's row, as binary arrays: its id, its
// deliveries (ids and sinks, each list an array literal; NULL for none) and
// its rejection (NULL if accepted).
struct routing_columns {
  binary_array ids{binary_array::element::uuid};
  binary_array id_lists{binary_array::element::text};
  binary_array sink_lists{binary_array::element::text};
  binary_array rejections{binary_array::element::text};

  bool add(const routing_decision& d) {
    const auto& item = d.item;
    if (!ids.add_uuid(item.event_id))
      return false;
    if (item.delivery_ids.empty()) {
      id_lists.add_null();
      sink_lists.add_null();
    } else {
      id_lists.add_text(uuid_array_literal(item.delivery_ids));
      sink_lists.add_text(text_array_literal(item.event.sinks));
    }
    add_optional(rejections, d.rejection_json);
    return true;
  }
};

} // namespace

result<long long, pg_error> record_routing(connection& conn, const std::vector<const routing_decision*>& decisions) {
  binary_array ids{binary_array::element::uuid};
  binary_array event_ids{binary_array::element::uuid};
  binary_array sinks{binary_array::element::text};
  routing_columns carried; // events carried by their queue rows: inserted, with these
  binary_array topics{binary_array::element::text};
  binary_array keys{binary_array::element::text};
  binary_array payloads{binary_array::element::text};
  binary_array created{binary_array::element::text};
  routing_columns stored; // stored events routed somewhere or refused: updated
  for (const auto* d : decisions) {
    const auto& item = d->item;
    if (auto bad = repeated_sink(item))
      return unexpected{*bad};
    for (std::size_t i = 0; i < item.delivery_ids.size(); ++i) {
      if (!ids.add_uuid(item.delivery_ids[i]))
        return unexpected{not_a_uuid(item.delivery_ids[i])};
      if (!event_ids.add_uuid(item.event_id))
        return unexpected{not_a_uuid(item.event_id)};
      sinks.add_text(item.event.sinks[i]);
    }
    if (d->stored && item.delivery_ids.empty() && !d->rejection_json)
      continue; // a stored event routed to no sink: its row stays as it is
    if (!(d->stored ? stored : carried).add(*d))
      return unexpected{not_a_uuid(item.event_id)};
    if (d->stored)
      continue;
    topics.add_text(item.event.topic);
    add_optional(keys, item.event.key);
    payloads.add_text(item.event.payload_json);
    created.add_text(item.created_at);
  }
  auto res = conn.exec_prepared_binary(
    "txr_routing", routing_sql,
    {ids.bytes(), event_ids.bytes(), sinks.bytes(), carried.ids.bytes(), topics.bytes(), keys.bytes(),
     payloads.bytes(), created.bytes(), carried.id_lists.bytes(), carried.sink_lists.bytes(),
     carried.rejections.bytes(), stored.ids.bytes(), stored.id_lists.bytes(), stored.sink_lists.bytes(),
     stored.rejections.bytes()});
  if (!res)
    return unexpected{res.error()};
  return res->get_int(0, 0);
}

result<long long, pg_error> reject_unrouted(connection& conn, const rejected_event& event) {
  // The event as its queue row carries it, or its stored row, gets the rejection.
  static const std::string sql = R"sql(
WITH taken AS (
  DELETE FROM txrelay.unrouted_events WHERE event_id = $1::uuid RETURNING event_id, topic, key, payload, created_at
), carried AS (
  INSERT INTO txrelay.events (id, topic, key, payload, created_at, rejection)
  SELECT t.event_id, t.topic, t.key, t.payload, t.created_at, $2::jsonb FROM taken t WHERE t.topic IS NOT NULL
  ON CONFLICT (id) DO UPDATE SET rejection = excluded.rejection
  RETURNING 1
), stored AS (
  UPDATE txrelay.events e SET rejection = $2::jsonb FROM taken t WHERE t.topic IS NULL AND e.id = t.event_id
  RETURNING 1
)
SELECT (SELECT count(*) FROM carried) + (SELECT count(*) FROM stored))sql";
  auto res = conn.exec_prepared("txr_reject_unrouted", sql, {event.event_id, event.rejection_json});
  if (!res)
    return unexpected{res.error()};
  return res->get_int(0, 0);
}

result<std::vector<dead_letter>, pg_error> list_dead(connection& conn, const std::vector<std::string>& sinks,
                                                     const std::string& after_id, int limit) {
  // deliveries_dead (sink, id) WHERE status = 'dead' serves it: dead rows are few.
  static const std::string sql = R"sql(
SELECT d.id::text, d.event_id::text, d.sink, e.topic, e.key, d.attempts, d.last_status, d.last_error,
       )sql" TXR_RFC3339("d.updated_at") R"sql(, )sql" TXR_RFC3339("e.created_at") R"sql(
FROM txrelay.deliveries d JOIN txrelay.events e ON e.id = d.event_id
WHERE d.status = 'dead' AND d.sink = ANY ($1::text[]) AND d.id > $2::uuid
ORDER BY d.id
LIMIT $3)sql";
  if (!after_id.empty() && !is_uuid(after_id))
    return unexpected{not_a_uuid(after_id)};
  auto res = conn.exec_prepared("txr_list_dead", sql,
                                {param{text_array_literal(sinks)},
                                 param{after_id.empty() ? nil_uuid : after_id},
                                 param{std::to_string(limit)}});
  if (!res)
    return unexpected{res.error()};
  std::vector<dead_letter> out;
  out.reserve(res->rows());
  for (int r = 0; r < res->rows(); ++r) {
    dead_letter d;
    d.id = res->get(r, 0);
    d.event_id = res->get(r, 1);
    d.sink = res->get(r, 2);
    d.topic = res->get(r, 3);
    d.key = res->get_optional(r, 4);
    d.attempts = static_cast<int>(res->get_int(r, 5));
    if (!res->is_null(r, 6))
      d.last_status = static_cast<int>(res->get_int(r, 6));
    d.last_error = res->get_optional(r, 7);
    d.died_at = res->get(r, 8);
    d.created_at = res->get(r, 9);
    out.push_back(std::move(d));
  }
  return out;
}

result<std::vector<sink_backlog>, pg_error> pending_counts(connection& conn) {
  auto res = conn.exec_prepared("txr_counts", counts_sql, {});
  if (!res)
    return unexpected{res.error()};
  std::vector<sink_backlog> counts;
  for (int r = 0; r < res->rows(); ++r)
    counts.push_back({std::string{res->get(r, 0)}, res->get_int(r, 1),
                      time_point{std::chrono::milliseconds{res->get_int(r, 2)}}});
  return counts;
}

} // namespace txrelay::pg

namespace txrelay::pg {

result<std::vector<delivery_ref>, pg_error> replay_dead(connection& conn, const replay_filter& filter) {
  auto sinks = text_array_literal(filter.sinks);
  param event_id = filter.event_id ? param{*filter.event_id} : param{};
  param sink = filter.sink ? param{*filter.sink} : param{};
  auto limit = std::to_string(filter.limit);
  auto res = conn.exec_prepared("txr_replay", replay_sql, {event_id, sink, param{sinks}, param{limit}});
  if (!res)
    return unexpected{res.error()};
  std::vector<delivery_ref> refs;
  refs.reserve(res->rows());
  for (int r = 0; r < res->rows(); ++r)
    refs.push_back({std::string{res->get(r, 0)}, std::string{res->get(r, 1)}});
  return refs;
}

result<long long, pg_error> mark_delivered(connection& conn, const delivery_key& delivery, int attempt) {
  // As outcomes_sql: the history row is written only after failed attempts.
  static const std::string sql = R"sql(
WITH finished AS (
  DELETE FROM txrelay.pending_deliveries WHERE sink = $2 AND id = $3 AND event_id = $1 RETURNING 1
), written AS (
  INSERT INTO txrelay.deliveries AS d (event_id, sink, id, status, attempts, next_attempt_at, created_at, updated_at)
  SELECT $1::uuid, $2, $3::uuid, 'delivered', $4::int, now(), txrelay.uuid_v7_time($3::uuid), now()
   WHERE $4::int > 1 AND EXISTS (SELECT 1 FROM finished)
  ON CONFLICT (event_id, sink) DO UPDATE
     SET status = 'delivered', attempts = excluded.attempts, last_status = NULL, last_error = NULL,
         updated_at = excluded.updated_at
)
SELECT count(*) FROM finished)sql";
  auto res = conn.exec_prepared("txr_mark_delivered", sql,
                                {delivery.event_id, delivery.sink, delivery.id, std::to_string(attempt)});
  if (!res)
    return unexpected{res.error()};
  return res->get_int(0, 0);
}

} // namespace txrelay::pg
