#!/usr/bin/env bash
# Configures and builds txrelay into build/<type>:
#   scripts/build.sh [Release|RelWithDebInfo|Debug] [target...]   (default RelWithDebInfo, everything)
# Uses every core, and ccache when installed (CMakeLists.txt picks it up).
# Progress goes to stderr; the last line on stdout is the build directory.
set -euo pipefail
cd "$(dirname "$0")/.."

type="${1:-RelWithDebInfo}"
shift || true
targets=()
for t in "$@"; do targets+=(--target "$t"); done
case "$type" in
  Release|RelWithDebInfo|Debug) ;;
  *) echo "usage: $0 [Release|RelWithDebInfo|Debug]" >&2; exit 2 ;;
esac
dir="build/$type"
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" >&2
cmake --build "$dir" -j"$(nproc)" "${targets[@]}" >&2
echo "$dir"
