#!/usr/bin/env bash
# README's quick start: installs what is missing, builds, and starts txrelay
# with config/txrelay.yaml. With no database configured it runs its embedded
# PostgreSQL under ./.txrelay. Extra arguments go to `txrelay serve`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
# Only the server: the tests and benchmarks are built by scripts/test.sh.
build_dir="$(bash scripts/build.sh RelWithDebInfo txrelay | tail -n 1)"
exec "$build_dir/txrelay" serve --config config/txrelay.yaml "$@"
