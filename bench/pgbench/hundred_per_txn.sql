-- The ceiling for group commit: 100 events and their delivery rows per transaction.
WITH e AS (
  INSERT INTO txrelay.events (id, topic, key, payload, created_at)
  SELECT gen_random_uuid(), 'bench', 'user-42', :'payload'::jsonb, now()
  FROM generate_series(1, 100)
  RETURNING id
)
INSERT INTO txrelay.deliveries (id, event_id, sink, next_attempt_at, created_at, updated_at)
SELECT gen_random_uuid(), e.id, 's' || n, now(), now(), now()
FROM e, generate_series(1, :sinks) AS n;
