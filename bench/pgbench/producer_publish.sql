-- The same business row, and the event published in its transaction.
BEGIN;
INSERT INTO bench_orders (customer_id, payload) VALUES (42, :'payload'::jsonb);
SELECT txrelay.publish('bench', :'payload'::jsonb, 'user-42');
COMMIT;
