-- The ceiling for group commit: 100 events and their queue rows per transaction.
WITH e AS (
  INSERT INTO txrelay.events (id, topic, key, payload, created_at, delivery_ids, delivery_sinks)
  SELECT gen_random_uuid(), 'bench', 'user-42', :'payload'::jsonb, now(),
         -- correlated with g, so each event gets ids of its own
         array(SELECT gen_random_uuid() FROM generate_series(1, :sinks) WHERE g > 0),
         array(SELECT 's' || n FROM generate_series(1, :sinks) AS n)
  FROM generate_series(1, 100) AS g
  RETURNING id, delivery_ids, delivery_sinks
)
INSERT INTO txrelay.pending_deliveries (sink, id, event_id)
SELECT r.sink, r.id, e.id FROM e, unnest(e.delivery_ids, e.delivery_sinks) AS r(id, sink);
