#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for tests: private directory, port and socket,
# loopback only, trust authentication, no fsync (test data is disposable;
# TXRELAY_TEST_PG_DURABLE=1 keeps fsync and synchronous_commit on, for benchmarks).
#   scripts/test-postgres.sh start [DIR]   # starts it (or finds it running); prints the admin URL
#   scripts/test-postgres.sh stop [DIR]
#   scripts/test-postgres.sh crash [DIR]   # immediate shutdown: what a crash leaves (recovery at the next start)
#   scripts/test-postgres.sh env [DIR]     # prints `export TXRELAY_TEST_DATABASE_URL=...` for eval
# DIR defaults to $TXRELAY_TEST_PG_DIR, else ${TMPDIR:-/tmp}/txrelay-test-pg.
# The port is $TXRELAY_TEST_PG_PORT, else 54329.
set -euo pipefail

bindir="/usr/lib/postgresql/15/bin"
dir="${2:-${TXRELAY_TEST_PG_DIR:-${TMPDIR:-/tmp}/txrelay-test-pg}}"
port="${TXRELAY_TEST_PG_PORT:-54329}"
data="$dir/data"
# Tests throw their data away, so they skip fsync. Benchmarks measure the real
# cost of a durable commit: TXRELAY_TEST_PG_DURABLE=1 keeps the server defaults.
if [ "${TXRELAY_TEST_PG_DURABLE:-0}" = 1 ]; then
  durability="-c shared_buffers=512MB"
else
  durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi
# Extra server settings, e.g. for profiling: TXRELAY_TEST_PG_OPTS="-c shared_preload_libraries=pg_stat_statements".
durability="$durability ${TXRELAY_TEST_PG_OPTS:-}"

# PostgreSQL refuses to run as root: run it as the postgres system user then.
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 ||
    useradd --system --home-dir /var/lib/postgresql --no-create-home --shell /bin/bash postgres
  as_pg=(runuser -u postgres --)
fi

# Files the server's user must be able to write.
own() {
  if [ ${#as_pg[@]} -gt 0 ]; then chown postgres: "$@"; fi
}

url() { echo "postgresql://postgres@127.0.0.1:$1/postgres"; }

running() { "${as_pg[@]}" "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; }

start() {
  mkdir -p "$dir/run"
  if [ ${#as_pg[@]} -gt 0 ]; then chmod o+x "$dir"; fi # the postgres user must reach its files
  touch "$dir/postgres.log"
  own "$dir/run" "$dir/postgres.log"
  if [ ! -f "$data/PG_VERSION" ]; then
    if [ -e "$data" ] && [ -n "$(ls -A "$data")" ]; then
      echo "test-postgres: $data exists and is not a PostgreSQL data directory; remove it or choose another DIR" >&2
      exit 1
    fi
    # initdb into a staging directory, renamed when complete: an interrupted
    # initdb never leaves a half-made data directory behind.
    rm -rf "$data.initdb"
    mkdir -m 0700 "$data.initdb"
    own "$data.initdb"
    "${as_pg[@]}" "$bindir/initdb" -D "$data.initdb" -U postgres -A trust -E UTF8 --no-locale --no-sync \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    rm -rf "$data"
    mv "$data.initdb" "$data"
  fi
  if running; then
    # Already up (a previous run was interrupted before its stop): reuse it, on its own port.
    url "$(sed -n 4p "$data/postmaster.pid")"
    return
  fi
  "${as_pg[@]}" "$bindir/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 60 start \
    -o "-p $port -k '$dir/run' -c listen_addresses=127.0.0.1 -c max_connections=200 $durability" >/dev/null ||
    { tail -n 30 "$dir/postgres.log" >&2; exit 1; }
  url "$port"
}

stop() {
  if [ -f "$data/PG_VERSION" ] && running; then
    "${as_pg[@]}" "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null
  fi
}

crash() {
  if [ -f "$data/PG_VERSION" ] && running; then
    "${as_pg[@]}" "$bindir/pg_ctl" -D "$data" -m immediate -w stop >/dev/null
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  crash) crash ;;
  env) echo "export TXRELAY_TEST_DATABASE_URL=$(url "$port")" ;;
  *) echo "usage: $0 start|stop|crash|env [DIR]" >&2; exit 2 ;;
esac
