#include "persistence/migrations.hpp"

#include "persistence/cluster.hpp"

namespace txrelay::pg {

const std::vector<migration>& schema_migrations() {
  static const std::vector<migration> all = {
    {1, "events and deliveries (the outbox)", R"sql(
CREATE TABLE txrelay.events (
  id              uuid PRIMARY KEY,
  topic           text NOT NULL,
  key             text,
  payload         jsonb NOT NULL,
  idempotency_key text UNIQUE,
  created_at      timestamptz NOT NULL
);

CREATE TABLE txrelay.deliveries (
  event_id        uuid NOT NULL REFERENCES txrelay.events (id) ON DELETE CASCADE,
  sink            text NOT NULL,
  -- The stable delivery id (webhook-id), a UUIDv7 unique by construction. The
  -- row is keyed by (event_id, sink) instead: that one index serves inserts,
  -- outcome updates and event lookups, where an id key would need a second.
  id              uuid NOT NULL,
  status          text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'delivered', 'dead')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  last_status     integer,
  last_error      text,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL,
  PRIMARY KEY (event_id, sink)
);

-- Only unfinished deliveries are ever scanned by the senders; finished rows
-- leave this index, so its size follows the backlog, not the history.
CREATE INDEX deliveries_pending ON txrelay.deliveries (sink, id) WHERE status = 'pending';
)sql"},
    {2, "an index of dead deliveries, for replay", R"sql(
-- Dead rows are few (and already rewritten when they die), so this index is
-- cheap; it lets POST /v1/sinks/{name}/replay find them without a scan of
-- every delivery ever made.
CREATE INDEX deliveries_dead ON txrelay.deliveries (sink, id) WHERE status = 'dead';
)sql"},
    {3, "when a delivery was last replayed", R"sql(
-- retry.max_age counts from a replay, not from the delivery's creation
-- (which its UUIDv7 id carries); NULL: never replayed. No rewrite: a
-- nullable column without a default is metadata only.
ALTER TABLE txrelay.deliveries ADD COLUMN replayed_at timestamptz;
)sql"},
    {4, "publish from the producer's transaction: txrelay.publish()", R"sql(
-- Why txrelay refused an event published from SQL when it routed it (a
-- schema violation, a failed in_transaction projection): the API's error
-- object. NULL for every accepted event; metadata only, no rewrite.
ALTER TABLE txrelay.events ADD COLUMN rejection jsonb;

-- Events committed by txrelay.publish() and not routed yet. The router takes
-- whatever is here, so a transaction that took its place early and committed
-- late is found like any other: there is no cursor to fall behind. Rows are
-- few (the backlog of a few milliseconds) and deleted when routed, so the
-- events table itself is never updated on this path. `seq` is the order of
-- the publish() calls (a sequence, unlike the ids' random low bits within a
-- millisecond), and the order the router creates deliveries in: per-key
-- ordering follows it.
CREATE TABLE txrelay.unrouted_events (
  seq      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id uuid NOT NULL
);
-- No index on event_id: every index here is one more insert in every
-- producer's transaction. GET /v1/events/{id} asks whether an event still
-- waits by scanning the queue, which holds milliseconds of events (more only
-- while txrelay is down).

-- The topics txrelay's routes name, rewritten at each start, so publish()
-- can refuse an unknown topic inside the producer's transaction.
CREATE TABLE txrelay.topics (topic text PRIMARY KEY);

-- SECURITY DEFINER: the application's role needs only EXECUTE (and USAGE on
-- the schema), never a privilege on the tables. The search_path is fixed so
-- that a caller's objects cannot stand in for the ones named here.
CREATE FUNCTION txrelay.publish(topic text, payload jsonb, key text DEFAULT NULL,
                                idempotency_key text DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  new_id uuid;
  ms bigint;
BEGIN
  IF topic IS NULL THEN
    RAISE EXCEPTION 'txrelay.publish: topic must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF topic = '' THEN
    RAISE EXCEPTION 'txrelay.publish: topic must not be empty' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF char_length(topic) > 200 THEN
    RAISE EXCEPTION 'txrelay.publish: topic is % characters long; at most 200', char_length(topic)
      USING ERRCODE = 'string_data_right_truncation';
  END IF;
  IF payload IS NULL THEN
    RAISE EXCEPTION 'txrelay.publish: payload must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF jsonb_typeof(payload) <> 'object' THEN
    RAISE EXCEPTION 'txrelay.publish: payload must be a JSON object, got %', jsonb_typeof(payload)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF char_length(key) > 200 THEN
    RAISE EXCEPTION 'txrelay.publish: key is % characters long; at most 200', char_length(key)
      USING ERRCODE = 'string_data_right_truncation';
  END IF;
  IF char_length(idempotency_key) > 200 THEN
    RAISE EXCEPTION 'txrelay.publish: idempotency_key is % characters long; at most 200', char_length(idempotency_key)
      USING ERRCODE = 'string_data_right_truncation';
  END IF;
  -- The HTTP API refuses them too, and a batch's keys use \x1f: never a collision.
  IF idempotency_key ~ '[\x01-\x1f\x7f]' THEN
    RAISE EXCEPTION 'txrelay.publish: idempotency_key must not contain control characters'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF idempotency_key = '' THEN
    RAISE EXCEPTION 'txrelay.publish: idempotency_key must not be empty (NULL for none)'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Compensation events (a dead delivery's on_dead) use these keys: a
  -- producer's key must not be able to suppress one.
  IF starts_with(idempotency_key, 'on_dead:') THEN
    RAISE EXCEPTION 'txrelay.publish: idempotency_key must not start with on_dead:'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM txrelay.topics t WHERE t.topic = publish.topic) THEN
    RAISE EXCEPTION 'txrelay.publish: no route for topic "%"', topic
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'txrelay routes only the topics its config names; add a route for it and restart txrelay';
  END IF;

  -- A UUIDv7, like txrelay's own ids: 48 bits of unix milliseconds, then
  -- random bits, version 7 and the RFC 4122 variant.
  ms := floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint;
  new_id := encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
                       PLACING substring(int8send(ms) FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid;

  INSERT INTO txrelay.events (id, topic, key, payload, idempotency_key, created_at)
  VALUES (new_id, topic, key, payload, idempotency_key, clock_timestamp())
  ON CONFLICT ON CONSTRAINT events_idempotency_key_key DO NOTHING;
  IF NOT FOUND THEN
    -- The key was used before (over HTTP or SQL): the first event's id,
    -- nothing new stored. Under REPEATABLE READ a duplicate committed after
    -- this transaction's snapshot raises a serialization failure instead.
    SELECT e.id INTO new_id FROM txrelay.events e WHERE e.idempotency_key = publish.idempotency_key;
    IF new_id IS NULL THEN
      RAISE EXCEPTION 'txrelay.publish: idempotency_key is taken by an event this transaction cannot see; retry the transaction'
        USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN new_id;
  END IF;
  INSERT INTO txrelay.unrouted_events (event_id) VALUES (new_id);
  RETURN new_id;
END
$fn$;

-- Functions are executable by PUBLIC by default; this one is granted to
-- the application's role by name (docs/publishing.md).
REVOKE ALL ON FUNCTION txrelay.publish(text, jsonb, text, text) FROM PUBLIC;
)sql"},
    {5, "which API key posted an event", R"sql(
-- The name of the API key (role producer or admin) that posted the event
-- over HTTP: a producer may read back its own events, and no one else's.
-- NULL without keys, and for events published from SQL or compensations.
-- Nullable without a default: metadata only, no rewrite.
ALTER TABLE txrelay.events ADD COLUMN producer text;
)sql"},
    {6, "idempotency keys indexed only where present; a cheaper publish()", R"sql(
-- Most events carry no idempotency key, and a plain UNIQUE constraint still
-- gives each NULL an index entry: one write per event for nothing. A partial
-- unique index holds only the keys (ON CONFLICT names its predicate to use it).
ALTER TABLE txrelay.events DROP CONSTRAINT events_idempotency_key_key;
CREATE UNIQUE INDEX events_idempotency_key ON txrelay.events (idempotency_key)
  WHERE idempotency_key IS NOT NULL;

-- publish() as in migration 4, with the common call made cheaper: one guard
-- for every check, and no speculative insert when there is no key.
CREATE OR REPLACE FUNCTION txrelay.publish(topic text, payload jsonb, key text DEFAULT NULL,
                                idempotency_key text DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
-- ON CONFLICT's column list cannot be qualified; there, the column is meant.
#variable_conflict use_column
DECLARE
  new_id uuid;
  ms bigint;
BEGIN
  -- One test passes the common call; only a call that fails it, or carries
  -- an idempotency key, goes through the checks that name what is wrong.
  IF topic IS NULL OR payload IS NULL OR topic = '' OR char_length(topic) > 200
     OR jsonb_typeof(payload) <> 'object' OR coalesce(char_length(key) > 200, false)
     OR idempotency_key IS NOT NULL THEN
    IF topic IS NULL THEN
      RAISE EXCEPTION 'txrelay.publish: topic must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF topic = '' THEN
      RAISE EXCEPTION 'txrelay.publish: topic must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF char_length(topic) > 200 THEN
      RAISE EXCEPTION 'txrelay.publish: topic is % characters long; at most 200', char_length(topic)
        USING ERRCODE = 'string_data_right_truncation';
    END IF;
    IF payload IS NULL THEN
      RAISE EXCEPTION 'txrelay.publish: payload must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF jsonb_typeof(payload) <> 'object' THEN
      RAISE EXCEPTION 'txrelay.publish: payload must be a JSON object, got %', jsonb_typeof(payload)
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF char_length(key) > 200 THEN
      RAISE EXCEPTION 'txrelay.publish: key is % characters long; at most 200', char_length(key)
        USING ERRCODE = 'string_data_right_truncation';
    END IF;
    IF char_length(idempotency_key) > 200 THEN
      RAISE EXCEPTION 'txrelay.publish: idempotency_key is % characters long; at most 200', char_length(idempotency_key)
        USING ERRCODE = 'string_data_right_truncation';
    END IF;
    -- The HTTP API refuses them too, and a batch's keys use \x1f: never a collision.
    IF idempotency_key ~ '[\x01-\x1f\x7f]' THEN
      RAISE EXCEPTION 'txrelay.publish: idempotency_key must not contain control characters'
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF idempotency_key = '' THEN
      RAISE EXCEPTION 'txrelay.publish: idempotency_key must not be empty (NULL for none)'
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Compensation events (a dead delivery's on_dead) use these keys: a
    -- producer's key must not be able to suppress one.
    IF starts_with(idempotency_key, 'on_dead:') THEN
      RAISE EXCEPTION 'txrelay.publish: idempotency_key must not start with on_dead:'
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM txrelay.topics t WHERE t.topic = publish.topic) THEN
    RAISE EXCEPTION 'txrelay.publish: no route for topic "%"', topic
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'txrelay routes only the topics its config names; add a route for it and restart txrelay';
  END IF;

  -- A UUIDv7, like txrelay's own ids: 48 bits of unix milliseconds, then
  -- random bits, version 7 and the RFC 4122 variant.
  ms := floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint;
  new_id := encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
                       PLACING substring(int8send(ms) FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid;

  IF idempotency_key IS NULL THEN
    -- Nothing to conflict with: a plain insert, cheaper than ON CONFLICT's
    -- speculative one.
    INSERT INTO txrelay.events (id, topic, key, payload, created_at)
    VALUES (new_id, topic, key, payload, clock_timestamp());
  ELSE
    INSERT INTO txrelay.events (id, topic, key, payload, idempotency_key, created_at)
    VALUES (new_id, topic, key, payload, idempotency_key, clock_timestamp())
    ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING;
    IF NOT FOUND THEN
      -- The key was used before (over HTTP or SQL): the first event's id,
      -- nothing new stored. Under REPEATABLE READ a duplicate committed after
      -- this transaction's snapshot raises a serialization failure instead.
      SELECT e.id INTO new_id FROM txrelay.events e WHERE e.idempotency_key = publish.idempotency_key;
      IF new_id IS NULL THEN
        RAISE EXCEPTION 'txrelay.publish: idempotency_key is taken by an event this transaction cannot see; retry the transaction'
          USING ERRCODE = 'serialization_failure';
      END IF;
      RETURN new_id;
    END IF;
  END IF;
  INSERT INTO txrelay.unrouted_events (event_id) VALUES (new_id);
  RETURN new_id;
END
$fn$;
)sql"},
    {7, "leases: one holder at a time for work that must not run twice", R"sql(
-- A lease is held by one node until expires_at (the database's clock, the
-- one every node shares); its holder renews it, anyone takes it once expired.
-- 'maintenance' elects the node that runs retention.
CREATE TABLE txrelay.leases (
  name       text PRIMARY KEY,
  holder     text NOT NULL,
  expires_at timestamptz NOT NULL
);
)sql"},
    {8, "nodes: each txrelay process sharing the database, with its heartbeat", R"sql(
-- A node is live while its heartbeat is recent; sinks are leased to live
-- nodes only. Rows of nodes long silent are deleted by the maintenance leader.
CREATE TABLE txrelay.nodes (
  id           text PRIMARY KEY,
  started_at   timestamptz NOT NULL,
  heartbeat_at timestamptz NOT NULL,
  stopped_at   timestamptz  -- set by a graceful stop: not live from then on
);
)sql"},
    {9, "operators' commands to sinks, shared by every node and kept across restarts", R"sql(
-- Written by the node an operator asked, applied by every node (the sink's
-- owner sends or holds): paused until resumed; each resume stamps resumed_at,
-- which every node applies once (it also clears a broken state, an open
-- circuit and a failed sender).
CREATE TABLE txrelay.sink_controls (
  sink       text PRIMARY KEY,
  paused     boolean NOT NULL,
  resumed_at timestamptz,
  updated_at timestamptz NOT NULL
);
)sql"},
    {10, "what a sink's owner learned that its next owner must know", R"sql(
-- Written by the node sending to the sink, read by whichever node sends to
-- it next (another node after a lease moved, this one after a restart):
-- the sink said it is gone (broken), the supervisor gave up on its sender
-- (failed), and the time before which the sink asked for no request (its
-- Retry-After, an exhausted rate-limit window, an open circuit) as it stood
-- when its sender stopped. An operator's resume clears broken and failed.
CREATE TABLE txrelay.sink_faults (
  sink        text PRIMARY KEY,
  broken      text,
  failed      text,
  quiet_until timestamptz
);
)sql"},
    {11, "pending deliveries in a table of their own", R"sql(
-- The deliveries still to be made, apart from their history. A delivery
-- enters here when it is created (or replayed) and leaves when it is
-- finished: one DELETE, where it was an UPDATE of the history row that was
-- never HOT (status was in the pending index's predicate) and cost about
-- three times as much (docs/benchmarks.md). A delivery finished at its first
-- attempt writes nothing else; one that was retried or died also updates its
-- history row. So a row of txrelay.deliveries is pending if it is here,
-- dead if its status says so, and delivered otherwise (its status then may
-- still read 'pending': the value it was created or replayed with).
CREATE TABLE txrelay.pending_deliveries (
  sink     text NOT NULL,
  id       uuid NOT NULL,
  event_id uuid NOT NULL,
  PRIMARY KEY (sink, id)
);
INSERT INTO txrelay.pending_deliveries (sink, id, event_id)
  SELECT sink, id, event_id FROM txrelay.deliveries WHERE status = 'pending';
DROP INDEX txrelay.deliveries_pending;

-- Each delivery with the status it has now: what the API shows, and what
-- to query by hand (deliveries.status alone does not say it).
CREATE VIEW txrelay.delivery_status AS
SELECT d.event_id, d.sink, d.id,
       CASE WHEN p.id IS NOT NULL THEN 'pending' WHEN d.status = 'dead' THEN 'dead' ELSE 'delivered' END AS status,
       -- a delivery finished at its first attempt never had one recorded
       CASE WHEN p.id IS NULL AND d.status <> 'dead' THEN greatest(d.attempts, 1) ELSE d.attempts END AS attempts,
       d.next_attempt_at,
       -- made at its first attempt (after a replay too): what the row says is older than that
       CASE WHEN p.id IS NULL AND d.status = 'pending' THEN NULL ELSE d.last_status END AS last_status,
       CASE WHEN p.id IS NULL AND d.status = 'pending' THEN NULL ELSE d.last_error END AS last_error,
       d.created_at, d.updated_at, d.replayed_at
  FROM txrelay.deliveries d
  LEFT JOIN txrelay.pending_deliveries p ON p.sink = d.sink AND p.id = d.id;
)sql"},
    {12, "a delivery's history row only when it has something to say", R"sql(
-- Which deliveries an event was routed to: their ids and sinks, parallel
-- arrays in the event's own row. Until now every delivery also had a row in
-- txrelay.deliveries from its creation, two more tuples and index entries
-- per event with two sinks at ingest, for a row that said nothing but
-- "delivered" for nearly every delivery. From here that row is written only
-- when there is something to say: a retry, a death, a success after
-- failures, a replay. NULL arrays: no deliveries (not routed yet,
-- rejected, published and routed to no sink, or made before this). A sink
-- name in delivery_sinks follows its delivery when a partition count
-- changes (persistence/partitions.cpp).
ALTER TABLE txrelay.events ADD COLUMN delivery_ids uuid[], ADD COLUMN delivery_sinks text[];
UPDATE txrelay.events e SET delivery_ids = r.ids, delivery_sinks = r.sinks
  FROM (SELECT event_id, array_agg(id ORDER BY id) AS ids, array_agg(sink ORDER BY id) AS sinks
          FROM txrelay.deliveries GROUP BY event_id) AS r
 WHERE e.id = r.event_id;
-- What the history rows held that says nothing more than the arrays: made
-- and never attempted, or delivered at the first attempt (not after a replay).
DELETE FROM txrelay.deliveries d
 WHERE d.replayed_at IS NULL AND d.last_error IS NULL
   AND ((d.status = 'pending' AND d.attempts = 0) OR (d.status = 'delivered' AND d.attempts <= 1));

-- The time a UUIDv7 was made, to the millisecond (its first 48 bits): a
-- history row written late takes its delivery's creation time from its id.
CREATE FUNCTION txrelay.uuid_v7_time(id uuid) RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT to_timestamp(('x' || substr(replace(id::text, '-', ''), 1, 12))::bit(48)::bigint / 1000.0) $$;
REVOKE ALL ON FUNCTION txrelay.uuid_v7_time(uuid) FROM PUBLIC;

-- As in migration 11, now from the event's arrays: a delivery without a
-- history row was made with its event and never failed.
DROP VIEW txrelay.delivery_status;
CREATE VIEW txrelay.delivery_status AS
SELECT e.id AS event_id, r.sink, r.id,
       CASE WHEN p.id IS NOT NULL THEN 'pending' WHEN d.status = 'dead' THEN 'dead' ELSE 'delivered' END AS status,
       -- a delivery finished at its first attempt never had one recorded
       CASE WHEN p.id IS NULL AND d.status IS DISTINCT FROM 'dead' THEN greatest(d.attempts, 1)
            ELSE coalesce(d.attempts, 0) END AS attempts,
       coalesce(d.next_attempt_at, e.created_at) AS next_attempt_at,
       -- made at its first attempt (after a replay too): what the row says is older than that
       CASE WHEN p.id IS NULL AND d.status = 'pending' THEN NULL ELSE d.last_status END AS last_status,
       CASE WHEN p.id IS NULL AND d.status = 'pending' THEN NULL ELSE d.last_error END AS last_error,
       coalesce(d.created_at, e.created_at) AS created_at,
       coalesce(d.updated_at, e.created_at) AS updated_at,
       d.replayed_at
  FROM txrelay.events e
 CROSS JOIN LATERAL unnest(e.delivery_ids, e.delivery_sinks) AS r(id, sink)
  LEFT JOIN txrelay.deliveries d ON d.event_id = e.id AND d.sink = r.sink
  LEFT JOIN txrelay.pending_deliveries p ON p.sink = r.sink AND p.id = r.id;
)sql"},
    {13, "attempt history; indexes for searching events", R"sql(
-- Each failed attempt, and the last attempt of a delivery that failed
-- before: what an operator reads to learn why a delivery did not arrive. A
-- delivery taken at its first attempt has none (nothing is written on the
-- common path). Keyed by event first: read by event, deleted with it by
-- retention (the cascade walks this index). A report repeated after a crash
-- has the same start and is stored once.
CREATE TABLE txrelay.delivery_attempts (
  event_id         uuid NOT NULL REFERENCES txrelay.events (id) ON DELETE CASCADE,
  delivery_id      uuid NOT NULL,
  started_at       timestamptz NOT NULL,
  sink             text NOT NULL,
  attempt          integer NOT NULL,
  duration_ms      integer NOT NULL,
  outcome          text NOT NULL CHECK (outcome IN ('retry', 'dead', 'delivered')),
  http_status      integer,
  error_class      text,
  error            text,
  response_excerpt text,
  PRIMARY KEY (event_id, delivery_id, started_at)
);

-- GET /v1/events: newest first by id, within a topic or a key. Status and
-- sink filters are served by the queue (pending), deliveries_dead (dead)
-- and this partial index (rejected); docs/architecture.md has the table.
-- IF NOT EXISTS: an operator may have built them CONCURRENTLY before the
-- upgrade (docs/scaling.md), so that inserts are not held off meanwhile.
CREATE INDEX IF NOT EXISTS events_topic ON txrelay.events (topic, id);
CREATE INDEX IF NOT EXISTS events_key ON txrelay.events (key, id) WHERE key IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_rejected ON txrelay.events (id) WHERE rejection IS NOT NULL;
)sql"},
    {14, "events published without an idempotency key travel in their queue row", R"sql(
-- publish() without an idempotency key wrote the event (its primary key,
-- topic and key index entries) and a queue row: three more index entries
-- than a producer's own outbox table costs it. Now such an event is its
-- queue row, and the router inserts it into txrelay.events with its
-- deliveries (so routed events pay those entries on txrelay's side, as HTTP
-- ingest does). A queue row without a topic stands for an event stored
-- already: one with an idempotency key, which the unique index must decide
-- inside the producer's transaction. Nullable columns without defaults:
-- metadata only.
ALTER TABLE txrelay.unrouted_events
  ADD COLUMN topic text,
  ADD COLUMN key text,
  ADD COLUMN payload jsonb,
  ADD COLUMN created_at timestamptz;

-- As migration 6, but an event without an idempotency key goes into the queue only.
CREATE OR REPLACE FUNCTION txrelay.publish(topic text, payload jsonb, key text DEFAULT NULL,
                                idempotency_key text DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
-- ON CONFLICT's column list cannot be qualified; there, the column is meant.
#variable_conflict use_column
DECLARE
  new_id uuid;
  ms bigint;
BEGIN
  -- One test passes the common call; only a call that fails it, or carries
  -- an idempotency key, goes through the checks that name what is wrong.
  IF topic IS NULL OR payload IS NULL OR topic = '' OR char_length(topic) > 200
     OR jsonb_typeof(payload) <> 'object' OR coalesce(char_length(key) > 200, false)
     OR idempotency_key IS NOT NULL THEN
    IF topic IS NULL THEN
      RAISE EXCEPTION 'txrelay.publish: topic must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF topic = '' THEN
      RAISE EXCEPTION 'txrelay.publish: topic must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF char_length(topic) > 200 THEN
      RAISE EXCEPTION 'txrelay.publish: topic is % characters long; at most 200', char_length(topic)
        USING ERRCODE = 'string_data_right_truncation';
    END IF;
    IF payload IS NULL THEN
      RAISE EXCEPTION 'txrelay.publish: payload must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF jsonb_typeof(payload) <> 'object' THEN
      RAISE EXCEPTION 'txrelay.publish: payload must be a JSON object, got %', jsonb_typeof(payload)
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF char_length(key) > 200 THEN
      RAISE EXCEPTION 'txrelay.publish: key is % characters long; at most 200', char_length(key)
        USING ERRCODE = 'string_data_right_truncation';
    END IF;
    IF char_length(idempotency_key) > 200 THEN
      RAISE EXCEPTION 'txrelay.publish: idempotency_key is % characters long; at most 200', char_length(idempotency_key)
        USING ERRCODE = 'string_data_right_truncation';
    END IF;
    -- The HTTP API refuses them too, and a batch's keys use \x1f: never a collision.
    IF idempotency_key ~ '[\x01-\x1f\x7f]' THEN
      RAISE EXCEPTION 'txrelay.publish: idempotency_key must not contain control characters'
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF idempotency_key = '' THEN
      RAISE EXCEPTION 'txrelay.publish: idempotency_key must not be empty (NULL for none)'
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Compensation events (a dead delivery's on_dead) use these keys: a
    -- producer's key must not be able to suppress one.
    IF starts_with(idempotency_key, 'on_dead:') THEN
      RAISE EXCEPTION 'txrelay.publish: idempotency_key must not start with on_dead:'
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM txrelay.topics t WHERE t.topic = publish.topic) THEN
    RAISE EXCEPTION 'txrelay.publish: no route for topic "%"', topic
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'txrelay routes only the topics its config names; add a route for it and restart txrelay';
  END IF;

  -- A UUIDv7, like txrelay's own ids: 48 bits of unix milliseconds, then
  -- random bits, version 7 and the RFC 4122 variant.
  ms := floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint;
  new_id := encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
                       PLACING substring(int8send(ms) FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid;

  IF idempotency_key IS NULL THEN
    -- Nothing to conflict with: the event travels in its queue row, and the
    -- router stores it in txrelay.events with its deliveries. The producer
    -- pays one row and one index entry, as for a table of its own.
    INSERT INTO txrelay.unrouted_events (event_id, topic, key, payload, created_at)
    VALUES (new_id, topic, key, payload, clock_timestamp());
    RETURN new_id;
  END IF;
  INSERT INTO txrelay.events (id, topic, key, payload, idempotency_key, created_at)
  VALUES (new_id, topic, key, payload, idempotency_key, clock_timestamp())
  ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING;
  IF NOT FOUND THEN
    -- The key was used before (over HTTP or SQL): the first event's id,
    -- nothing new stored. Under REPEATABLE READ a duplicate committed after
    -- this transaction's snapshot raises a serialization failure instead.
    SELECT e.id INTO new_id FROM txrelay.events e WHERE e.idempotency_key = publish.idempotency_key;
    IF new_id IS NULL THEN
      RAISE EXCEPTION 'txrelay.publish: idempotency_key is taken by an event this transaction cannot see; retry the transaction'
        USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN new_id;
  END IF;
  -- Stored already: the queue row only names it.
  INSERT INTO txrelay.unrouted_events (event_id) VALUES (new_id);
  RETURN new_id;
END
$fn$;

-- Every event txrelay knows, routed or still in the queue: what
-- GET /v1/events and GET /v1/events/{id} read. Conditions on it reach both
-- parts (the queue's is scanned: it holds the milliseconds not routed yet).
CREATE VIEW txrelay.event_log AS
  SELECT e.id, e.topic, e.key, e.payload, e.created_at, e.rejection, e.producer, e.delivery_ids, e.delivery_sinks,
         false AS queued
    FROM txrelay.events e
  UNION ALL
  SELECT u.event_id, u.topic, u.key, u.payload, u.created_at, NULL::jsonb, NULL::text, NULL::uuid[], NULL::text[],
         true
    FROM txrelay.unrouted_events u
   WHERE u.topic IS NOT NULL;
)sql"},
  };
  return all;
}

result<int, pg_error> migrate(connection& conn) {
  // A migration may rewrite or index a large table, and waiting for another
  // node's migration lock is expected: no statement or answer deadline here.
  struct unbounded {
    connection& c;
    std::chrono::milliseconds before;
    explicit unbounded(connection& conn) : c(conn), before(conn.answer_deadline()) { c.set_answer_deadline({}); }
    ~unbounded() { c.set_answer_deadline(before); }
  } no_deadline{conn};
  if (auto r = conn.exec("BEGIN"); !r)
    return unexpected{r.error()};
  auto fail = [&](pg_error e) -> result<int, pg_error> {
    conn.exec("ROLLBACK");
    return unexpected{std::move(e)};
  };
  const char* prelude = R"sql(
-- An arbitrary constant that names "txrelay schema migration".
SELECT pg_advisory_xact_lock(7346327265);
SET LOCAL client_min_messages = warning;
SET LOCAL statement_timeout = 0;
-- CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the
-- schema exists; this way an administrator can create it beforehand
-- (AUTHORIZATION txrelay) and txrelay's role needs nothing on the database.
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'txrelay') THEN
    CREATE SCHEMA txrelay;
  END IF;
END $$;
CREATE TABLE IF NOT EXISTS txrelay.schema_migrations (
  version     integer PRIMARY KEY,
  description text NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now()
);)sql";
  if (auto r = conn.exec(prelude); !r)
    return fail(r.error());
  auto current = conn.exec("SELECT coalesce(max(version), 0) FROM txrelay.schema_migrations");
  if (!current)
    return fail(current.error());
  int version = static_cast<int>(current->get_int(0, 0));
  const auto& all = schema_migrations();
  if (!all.empty() && version > all.back().version)
    return fail(pg_error{"", "database schema version " + std::to_string(version) +
                               " is newer than this txrelay knows (" + std::to_string(all.back().version) + ")"});
  // Nodes still running the old schema would go on writing rows the new one
  // reads differently (migration 11 moved the truth of "pending" into its
  // own table): a schema change needs every node stopped. A node that
  // stopped gracefully says so; one that crashed is counted until its
  // heartbeat is older than node_ttl.
  if (!all.empty() && version < all.back().version && version >= 8) {
    auto live = conn.exec("SELECT string_agg(id, ', ' ORDER BY id) FROM txrelay.nodes "
                          "WHERE stopped_at IS NULL AND heartbeat_at > now() - $1::bigint * interval '1 millisecond'",
                          {std::to_string(node_ttl.count())});
    if (!live)
      return fail(live.error());
    if (!live->is_null(0, 0))
      return fail(pg_error{"", "cannot migrate the schema from version " + std::to_string(version) + " to " +
                                 std::to_string(all.back().version) + " while txrelay nodes on the old version run (" +
                                 std::string{live->get(0, 0)} +
                                 "): stop them all first (a node that crashed counts for 10 s after its last beat)"});
  }
  for (const auto& m : all) {
    if (m.version <= version)
      continue;
    if (auto r = conn.exec(m.sql); !r) {
      auto err = r.error();
      err.message = "migration " + std::to_string(m.version) + " (" + m.description + "): " + err.message;
      return fail(err);
    }
    auto rec = conn.exec("INSERT INTO txrelay.schema_migrations (version, description) VALUES ($1, $2)",
                         {std::to_string(m.version), m.description});
    if (!rec)
      return fail(rec.error());
    version = m.version;
  }
  if (auto r = conn.exec("COMMIT"); !r)
    return unexpected{r.error()};
  return version;
}

} // namespace txrelay::pg
