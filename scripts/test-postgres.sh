#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for tests: private directory, port and socket,
# loopback only, trust authentication, no fsync (test data is disposable).
#   scripts/test-postgres.sh start   # prints the admin URL
#   scripts/test-postgres.sh stop
# Environment: TXRELAY_TEST_PG_DIR (default ${TMPDIR:-/tmp}/txrelay-test-pg),
#              TXRELAY_TEST_PG_PORT (default 54329).
set -euo pipefail

bindir="/usr/lib/postgresql/15/bin"
dir="${TXRELAY_TEST_PG_DIR:-${TMPDIR:-/tmp}/txrelay-test-pg}"
port="${TXRELAY_TEST_PG_PORT:-54329}"

# PostgreSQL refuses to run as root: run it as the postgres system user then.
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  as_pg=(runuser -u postgres --)
fi

start() {
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    rm -rf "$dir"
    mkdir -p "$dir/data" "$dir/run"
    [ ${#as_pg[@]} -gt 0 ] && chown -R postgres: "$dir" && chmod 0755 "$dir"
    "${as_pg[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  if ! "${as_pg[@]}" "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    "${as_pg[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start \
      -o "-p $port -k $dir/run -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
          -c full_page_writes=off -c max_connections=200 -c shared_buffers=256MB" >/dev/null ||
      { cat "$dir/postgres.log" >&2; exit 1; }
  fi
  echo "postgresql://postgres@127.0.0.1:$port/postgres"
}

stop() {
  if [ -f "$dir/data/PG_VERSION" ]; then
    "${as_pg[@]}" "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
