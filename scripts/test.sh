#!/usr/bin/env bash
# README's test command: installs what is missing, builds, starts a throwaway
# PostgreSQL, runs the whole suite with CTest (extra arguments go to ctest,
# e.g. -L unit), and stops PostgreSQL whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
build_dir="$(bash scripts/build.sh RelWithDebInfo | tail -n 1)"

trap 'bash scripts/test-postgres.sh stop' EXIT
TXRELAY_TEST_DATABASE_URL="$(bash scripts/test-postgres.sh start)"
export TXRELAY_TEST_DATABASE_URL

ctest --test-dir "$build_dir" --output-on-failure -j2 --timeout 300 "$@"
