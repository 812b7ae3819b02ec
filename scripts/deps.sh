#!/usr/bin/env bash
# Installs the Debian 12 packages txrelay needs, only when some are missing
# (one dpkg query when everything is there). Runs as root, or through sudo.
# Extra arguments are more packages to ensure (scripts/fuzz.sh: clang).
set -euo pipefail

packages=(
  build-essential cmake ccache pkg-config
  libcaf-dev libboost1.81-dev libpq-dev libsimdjson-dev libyaml-cpp-dev libgtest-dev libssl-dev
  libjemalloc-dev # the allocator of the txrelay binary (docs/benchmarks.md: +15% ingest)
  postgresql-15 # server binaries in /usr/lib/postgresql/15/bin: the embedded default and the test server
  util-linux    # runuser: PostgreSQL refuses to run as root
  openjdk-17-jdk-headless libpostgresql-jdbc-java # the test suite compiles and runs examples/jdbc
  nodejs # the build embeds the web console with uPlot from npm (cmake/ui_assets.cmake)
  "$@"
)
# Debian's npm, unless an npm is already there: a NodeSource nodejs ships its
# own and conflicts with Debian's package.
command -v npm >/dev/null || packages+=(npm)

# "install ok installed" only: a removed package whose config files remain is missing.
installed="$(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null |
  awk '$2 == "install" && $4 == "installed" { print $1 }' || true)"
missing=()
for p in "${packages[@]}"; do
  grep -qxF "$p" <<<"$installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: not root and no sudo; as root run: apt-get install ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
"${sudo[@]}" apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
