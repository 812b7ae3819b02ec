#!/usr/bin/env bash
# Installs the Debian 12 packages txrelay needs, only when some are missing.
set -euo pipefail

packages=(
  build-essential cmake ccache pkg-config
  libcaf-dev libboost1.81-dev libpq-dev libsimdjson-dev libyaml-cpp-dev libgtest-dev libssl-dev
  postgresql-15 util-linux
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
$sudo apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
