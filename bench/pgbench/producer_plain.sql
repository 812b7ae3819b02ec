-- Baseline: the business row and one row in a plain table, one transaction.
BEGIN;
INSERT INTO bench_orders (customer_id, payload) VALUES (42, :'payload'::jsonb);
INSERT INTO bench_plain_outbox (topic, key, payload) VALUES ('bench', 'user-42', :'payload'::jsonb);
COMMIT;
