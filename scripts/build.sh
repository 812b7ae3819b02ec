#!/usr/bin/env bash
# Configures and builds txrelay into build/<type> (default RelWithDebInfo).
# Prints the build directory on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
type="${1:-RelWithDebInfo}"
dir="build/${type}"
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" >&2
cmake --build "$dir" -j"$(nproc)" >&2
echo "$dir"
