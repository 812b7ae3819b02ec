#!/usr/bin/env bash
# README's test command: installs what is missing, builds (build/RelWithDebInfo),
# starts a throwaway PostgreSQL, runs the whole suite with CTest (extra
# arguments go to ctest, e.g. -L unit), stops PostgreSQL whatever happens, and
# exits with ctest's status.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
build_dir="$(bash scripts/build.sh RelWithDebInfo | tail -n 1)"

# EXIT covers success, failure and set -e; INT/TERM are turned into an exit so it runs then too.
trap 'bash scripts/test-postgres.sh stop' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
TXRELAY_TEST_DATABASE_URL="$(bash scripts/test-postgres.sh start)"
export TXRELAY_TEST_DATABASE_URL

status=0
ctest --test-dir "$build_dir" --output-on-failure -j2 --timeout 300 "$@" || status=$?
exit "$status"
