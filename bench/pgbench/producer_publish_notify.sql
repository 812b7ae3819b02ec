-- publish plus a NOTIFY, as a LISTEN-based router would need: measures what
-- NOTIFY's commit-time lock on the notification queue costs producers.
BEGIN;
INSERT INTO bench_orders (customer_id, payload) VALUES (42, :'payload'::jsonb);
SELECT txrelay.publish('bench', :'payload'::jsonb, 'user-42');
NOTIFY txrelay_published;
COMMIT;
