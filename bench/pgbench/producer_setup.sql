-- The producer's own tables for the publish workloads: a business row per
-- transaction, and, for the baseline, a plain outbox table of its own.
CREATE TABLE IF NOT EXISTS bench_orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL, payload jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS bench_plain_outbox (id bigserial PRIMARY KEY, topic text NOT NULL, key text,
                                               payload jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
