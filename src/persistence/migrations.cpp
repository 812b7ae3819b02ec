#include "persistence/migrations.hpp"

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
  };
  return all;
}

result<int, pg_error> migrate(connection& conn) {
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
CREATE SCHEMA IF NOT EXISTS txrelay;
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
