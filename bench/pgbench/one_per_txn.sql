-- The ceiling for "one transaction per event": one event plus its delivery
-- rows (:sinks of them) committed alone, exactly the rows txrelay writes.
WITH e AS (
  INSERT INTO txrelay.events (id, topic, key, payload, created_at)
  VALUES (gen_random_uuid(), 'bench', 'user-42', :'payload'::jsonb, now())
  RETURNING id
)
INSERT INTO txrelay.deliveries (id, event_id, sink, next_attempt_at, created_at, updated_at)
SELECT gen_random_uuid(), e.id, 's' || n, now(), now(), now()
FROM e, generate_series(1, :sinks) AS n;
