#!/usr/bin/env bash
# The sanitizer builds, run by scripts/test.sh (and so by CI):
#   address + undefined behaviour: build/asan, the unit and pg suites
#   thread:                         build/tsan, the actor tests
#   scripts/sanitize.sh [asan|tsan]...   (default: both)
# Needs TXRELAY_TEST_DATABASE_URL for the pg suite (scripts/test.sh starts
# the server); without it the pg tests are skipped, as everywhere.
# Findings are fixed, not suppressed; tests/sanitizers/ holds the few
# suppressions for reports inside libraries, each with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

bash scripts/deps.sh
kinds=("$@")
[ ${#kinds[@]} -eq 0 ] && kinds=(asan tsan)

configure() { # dir flags
  cmake -S . -B "$1" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTXRELAY_JEMALLOC=OFF -DTXRELAY_BUILD_BENCH=OFF \
    -DCMAKE_CXX_FLAGS="$2 -fno-omit-frame-pointer" \
    -DCMAKE_EXE_LINKER_FLAGS="$2" >&2
}

status=0
for kind in "${kinds[@]}"; do
  case "$kind" in
    asan)
      dir=build/asan
      configure "$dir" "-fsanitize=address,undefined -fno-sanitize-recover=undefined"
      cmake --build "$dir" -j"$(nproc)" >&2
      # halt_on_error: the first finding fails its test, with the report in
      # the test's output. detect_leaks: LeakSanitizer runs at each exit.
      ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=0" \
      UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$root/tests/sanitizers/ubsan.supp" \
      LSAN_OPTIONS="suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0" \
        ctest --test-dir "$dir" --output-on-failure -j2 --timeout 600 -L "unit|pg" || status=1
      ;;
    tsan)
      dir=build/tsan
      configure "$dir" "-fsanitize=thread -Wno-tsan" # asio's fences: TSan cannot model them; a compile warning only
      cmake --build "$dir" -j"$(nproc)" --target txrelay_actors_unit_tests >&2
      TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/tests/sanitizers/tsan.supp" \
        "$dir/tests/txrelay_actors_unit_tests" || status=1
      ;;
    *) echo "usage: $0 [asan|tsan]..." >&2; exit 2 ;;
  esac
done
exit "$status"
