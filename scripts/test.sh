#!/usr/bin/env bash
# README's test command: installs what is missing, builds (build/RelWithDebInfo),
# starts a throwaway PostgreSQL, runs the whole suite with CTest, then the
# sanitizer builds (scripts/sanitize.sh: ASan+UBSan over the unit and pg
# suites, TSan over the actor tests) and the fuzzers (scripts/fuzz.sh, each
# target FUZZ_SECONDS), stops PostgreSQL whatever happens, and exits non-zero
# if anything failed.
# Extra arguments go to ctest and run only that part of the suite
# (scripts/test.sh -L unit); TXRELAY_TEST_QUICK=1 skips sanitizers and fuzzers.
set -euo pipefail
cd "$(dirname "$0")/.."

# promtool (Debian's prometheus) and jq: tests/monitoring checks the alert rules and the dashboard;
# chromium (and a font for its screenshots): tests/ui drives the web console in it.
bash scripts/deps.sh prometheus jq chromium fonts-liberation
build_dir="$(bash scripts/build.sh RelWithDebInfo | tail -n 1)"
# tests/openapi's validators, from its committed lock file; again when the lock file changed.
if [ tests/openapi/package-lock.json -nt tests/openapi/node_modules/.package-lock.json ]; then
  (cd tests/openapi && npm ci --no-audit --no-fund >&2)
fi

# EXIT covers success, failure and set -e; INT/TERM are turned into an exit so it runs then too.
trap 'bash scripts/test-postgres.sh stop' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
TXRELAY_TEST_DATABASE_URL="$(bash scripts/test-postgres.sh start)"
export TXRELAY_TEST_DATABASE_URL

# Playwright for tests/ui, from its lockfile; it uses Debian's chromium, never a browser download.
if [ tests/ui/package-lock.json -nt tests/ui/node_modules/.package-lock.json ]; then
  (cd tests/ui && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --ignore-scripts >&2)
fi

status=0
ctest --test-dir "$build_dir" --output-on-failure -j2 --timeout 300 "$@" || status=$?
if [ $# -eq 0 ] && [ "${TXRELAY_TEST_QUICK:-0}" != 1 ]; then
  echo "test: sanitizer builds" >&2
  bash scripts/sanitize.sh || status=1
  echo "test: fuzzers, ${FUZZ_SECONDS:-45} s each" >&2
  FUZZ_SECONDS="${FUZZ_SECONDS:-45}" bash scripts/fuzz.sh || status=1
fi
exit "$status"
