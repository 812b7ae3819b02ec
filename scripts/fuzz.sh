#!/usr/bin/env bash
# Builds txrelay's libFuzzer targets (tests/fuzz) with clang-14 and
# AddressSanitizer + UndefinedBehaviorSanitizer in build/fuzz, then for each
# target:
#   1. regression: runs it once over every input of tests/fuzz/corpus/<target>/
#      (crashes and timeouts found earlier are kept there);
#   2. fuzzing: FUZZ_SECONDS (default 60) on a copy of that corpus in
#      build/fuzz/corpus/<target>, so the repository's corpus is not touched.
# A crash, sanitizer report, leak, input slower than 10 s or RSS over 2 GiB
# fails the target; its input goes to build/fuzz/artifacts/<target>/ (copy it
# into tests/fuzz/corpus/<target>/ once the bug is understood). Prints one
# line per target and exits non-zero when any failed.
#
# Environment: FUZZ_SECONDS (60), FUZZ_TARGETS (space-separated subset of the
# names below), FUZZ_JOBS (build parallelism, 2), FUZZ_ARGS (extra libFuzzer
# flags for the fuzzing runs, e.g. "-max_len=65536").
set -euo pipefail

cd "$(dirname "$0")/.."
root="$PWD"

all_targets=(event_parser event_batch payload_schema config_loader expressions http_request)
read -r -a targets <<<"${FUZZ_TARGETS:-${all_targets[*]}}"
seconds="${FUZZ_SECONDS:-60}"
jobs="${FUZZ_JOBS:-2}"
read -r -a extra_args <<<"${FUZZ_ARGS:-}"
build="$root/build/fuzz"

# -- what the build needs -------------------------------------------------------
# clang-14 and its runtime libraries (libFuzzer, ASan, UBSan live in
# libclang-rt-14-dev); llvm-14 for llvm-symbolizer, so reports have source lines.
bash scripts/deps.sh clang-14 libclang-rt-14-dev llvm-14

# -- build ----------------------------------------------------------------------
mkdir -p "$build"
CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTXRELAY_FUZZ=ON -DTXRELAY_BUILD_TESTS=OFF -DTXRELAY_BUILD_BENCH=OFF >"$build/configure.log" 2>&1 || {
  cat "$build/configure.log" >&2
  echo "fuzz: cmake configure failed (a build/fuzz configured with another compiler? remove it)" >&2
  exit 1
}
if [ ! -d "$build/tests/fuzz" ]; then
  echo "fuzz: the top-level CMakeLists.txt does not include tests/fuzz; add:" >&2
  printf '  %s\n' 'option(TXRELAY_FUZZ "Build the libFuzzer targets (clang only)" OFF)' \
    'if(TXRELAY_FUZZ)' '  add_subdirectory(tests/fuzz)' 'endif()' >&2
  exit 1
fi
build_targets=()
for t in "${targets[@]}"; do
  build_targets+=(--target "${t}_fuzz")
done
cmake --build "$build" -j "$jobs" "${build_targets[@]}"

# -- run ------------------------------------------------------------------------
symbolizer=/usr/lib/llvm-14/bin/llvm-symbolizer
[ -x "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH="$symbolizer" UBSAN_SYMBOLIZER_PATH="$symbolizer"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:symbolize=1}"

# "crash-<sha1> (ERROR: AddressSanitizer: heap-buffer-overflow)" from a libFuzzer log.
describe_failure() {
  local log="$1" kind artifact
  kind="$(grep -Eo 'invariant broken: .*' "$log" | head -n 1 || true)"
  [ -n "$kind" ] || kind="$(grep -Eo 'runtime error: .{0,120}' "$log" | head -n 1 || true)"
  [ -n "$kind" ] || kind="$(grep -Eo 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer): [a-z0-9 -]+' "$log" | head -n 1 || true)"
  artifact="$(grep -Eo 'Test unit written to [^ ]+' "$log" | tail -n 1 | sed 's/Test unit written to //' || true)"
  [ -n "$artifact" ] || artifact="$(grep -Eo 'Running: [^ ]+' "$log" | tail -n 1 | sed 's/Running: //' || true)"
  echo "${kind:-unknown failure}; input ${artifact:-?}; log $log"
}
common=(-timeout=10 -rss_limit_mb=2048)

failed=0
summary=()
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/bin/${t}_fuzz"
  seeds="$root/tests/fuzz/corpus/$t"
  work="$build/corpus/$t"
  artifacts="$build/artifacts/$t/"
  logs="$build/logs"
  mkdir -p "$artifacts" "$logs"
  shopt -s nullglob
  inputs=("$seeds"/*)
  shopt -u nullglob
  if [ ${#inputs[@]} -eq 0 ]; then
    line="$t: FAILED (no seed corpus in tests/fuzz/corpus/$t)"
    echo "$line"; summary+=("$line"); failed=1; continue
  fi

  # 1. regression: every stored input once (files, not a directory: each runs
  # once). When that fails, each input alone, to name every one that fails.
  regression="ok"
  passing=("${inputs[@]}")
  if ! "$bin" "${common[@]}" -artifact_prefix="$artifacts" "${inputs[@]}" >"$logs/$t.regression.log" 2>&1; then
    failed=1
    passing=()
    bad=()
    for input in "${inputs[@]}"; do
      name="$(basename "$input")"
      if "$bin" "${common[@]}" -artifact_prefix="$artifacts" "$input" >"$logs/$t.regression.$name.log" 2>&1; then
        passing+=("$input")
        rm -f "$logs/$t.regression.$name.log"
      else
        bad+=("$name: $(describe_failure "$logs/$t.regression.$name.log")")
      fi
    done
    [ ${#bad[@]} -gt 0 ] || bad=("the run over all inputs failed, each alone passes: $(describe_failure "$logs/$t.regression.log")")
    regression="FAILED ${#bad[@]} of ${#inputs[@]}"
    for b in "${bad[@]}"; do
      echo "$t: regression input $b" >&2
      summary+=("$t: regression input $b")
    done
  fi

  # 2. fuzzing, on a fresh copy of the corpus (less the inputs that failed
  # above: they would stop the run at once).
  rm -rf "$work"
  mkdir -p "$work"
  [ ${#passing[@]} -eq 0 ] || cp -- "${passing[@]}" "$work/"
  start=$(date +%s)
  if "$bin" "${common[@]}" -max_total_time="$seconds" -artifact_prefix="$artifacts" -print_final_stats=1 \
      ${extra_args[@]+"${extra_args[@]}"} "$work" >"$logs/$t.fuzz.log" 2>&1; then
    execs="$(awk '/stat::number_of_executed_units/ { print $2 }' "$logs/$t.fuzz.log" | tail -n 1)"
    cov="$(grep -Eo 'cov: [0-9]+' "$logs/$t.fuzz.log" | tail -n 1 | awk '{ print $2 }')"
    fuzzing="fuzzing ok ($(( $(date +%s) - start ))s, ${execs:-?} runs, cov ${cov:-?}, corpus $(ls "$work" | wc -l))"
  else
    fuzzing="fuzzing FAILED ($(describe_failure "$logs/$t.fuzz.log"))"
    failed=1
  fi
  if [ "$regression" = ok ] && [[ "$fuzzing" == "fuzzing ok"* ]]; then
    line="$t: ok (regression ${#inputs[@]} inputs ok; $fuzzing)"
  else
    line="$t: FAILED (regression $regression; $fuzzing)"
  fi
  echo "$line"
  summary+=("$line")
done

echo
echo "fuzz summary (${seconds}s per target):"
printf '  %s\n' "${summary[@]}"
exit "$failed"
