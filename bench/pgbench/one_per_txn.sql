-- The ceiling for "one transaction per event": one event, naming its
-- deliveries (:sinks of them), and their queue rows, committed alone:
-- exactly the rows txrelay writes.
WITH e AS (
  INSERT INTO txrelay.events (id, topic, key, payload, created_at, delivery_ids, delivery_sinks)
  SELECT gen_random_uuid(), 'bench', 'user-42', :'payload'::jsonb, now(),
         array(SELECT gen_random_uuid() FROM generate_series(1, :sinks)),
         array(SELECT 's' || n FROM generate_series(1, :sinks) AS n)
  RETURNING id, delivery_ids, delivery_sinks
)
INSERT INTO txrelay.pending_deliveries (sink, id, event_id)
SELECT r.sink, r.id, e.id FROM e, unnest(e.delivery_ids, e.delivery_sinks) AS r(id, sink);
