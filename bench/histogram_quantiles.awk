# Reads txrelay's /metrics and prints {"count":N,"p50_ms":..,"p99_ms":..} for
# txrelay_sink_commit_to_attempt_seconds, summed over every sink. Quantiles
# interpolate linearly inside a bucket, as Prometheus' histogram_quantile does.
/^txrelay_sink_commit_to_attempt_seconds_bucket/ {
  match($0, /le="[^"]*"/)
  le = substr($0, RSTART + 4, RLENGTH - 5)
  bound = (le == "+Inf") ? 1e30 : le + 0
  if (!(bound in cum)) { n++; bounds[n] = bound }
  cum[bound] += $NF
}
function quantile(q,   rank, i, lower, below) {
  rank = q * total; lower = 0; below = 0
  for (i = 1; i <= n; i++) {
    if (cum[bounds[i]] >= rank) {
      if (bounds[i] >= 1e30 || cum[bounds[i]] == below) return lower
      return lower + (bounds[i] - lower) * (rank - below) / (cum[bounds[i]] - below)
    }
    lower = bounds[i]; below = cum[bounds[i]]
  }
  return lower
}
END {
  for (i = 2; i <= n; i++) { b = bounds[i]; j = i - 1; while (j >= 1 && bounds[j] > b) { bounds[j + 1] = bounds[j]; j-- } bounds[j + 1] = b }
  total = (n > 0) ? cum[bounds[n]] : 0
  if (total == 0) { print "{\"count\":0,\"p50_ms\":null,\"p99_ms\":null}"; exit }
  printf "{\"count\":%d,\"p50_ms\":%.3f,\"p99_ms\":%.3f}\n", total, quantile(0.5) * 1000, quantile(0.99) * 1000
}
