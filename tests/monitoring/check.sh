#!/usr/bin/env bash
# Checks docs/monitoring: the alert rules load and their unit tests pass
# (promtool), every PromQL expression of the Grafana dashboard parses, and
# every series either names is one txrelay exports (src/metrics/metrics.cpp),
# so a renamed metric cannot leave a dead alert or an empty panel behind.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="$root/docs/monitoring"
command -v promtool >/dev/null || { echo "promtool is missing: apt-get install prometheus (scripts/test.sh installs it)" >&2; exit 1; }
command -v jq >/dev/null || { echo "jq is missing: apt-get install jq (scripts/test.sh installs it)" >&2; exit 1; }

promtool check rules --lint-fatal "$dir/txrelay-alerts.yml"
(cd "$dir" && promtool test rules txrelay-alerts.test.yml)

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# The dashboard's queries as recording rules: promtool parses each.
jq -e '.panels | length > 0' "$dir/grafana-dashboard.json" >/dev/null
{
  echo "groups:"
  echo "  - name: dashboard"
  echo "    rules:"
  n=0
  jq -r '.panels[].targets[].expr' "$dir/grafana-dashboard.json" | while IFS= read -r expr; do
    n=$((n + 1))
    echo "      - record: dashboard:query_$n"
    printf '        expr: %s\n' "$(jq -Rn --arg e "$expr" '$e')"
  done
} >"$tmp/dashboard-rules.yml"
promtool check rules --lint-fatal "$tmp/dashboard-rules.yml"

missing=0
for name in $( { grep -o 'expr:.*' "$dir/txrelay-alerts.yml"; jq -r '.panels[].targets[].expr' "$dir/grafana-dashboard.json"; } |
               grep -oE '\b(txrelay|process)_[a-z_]+' | sed -E 's/_(bucket|sum|count)$//' | sort -u); do
  if ! grep -q "\"$name\"" "$root/src/metrics/metrics.cpp"; then
    echo "docs/monitoring names $name, which txrelay does not export" >&2
    missing=1
  fi
done
[ "$missing" = 0 ]
echo "monitoring: rules, their tests and the dashboard check out"
