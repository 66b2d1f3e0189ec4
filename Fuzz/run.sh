#!/usr/bin/env bash
# Fuzzes the frame decoder and the session state machine (docs/FUZZING.md).
#
#   Fuzz/run.sh libfuzzer   libFuzzer build (-DFUZZING -sanitize=fuzzer) into .build-fuzz, seeds
#                           from Protocol/vectors, runs for FUZZ_SECONDS or FUZZ_RUNS
#   Fuzz/run.sh mutation    seeded mutation fuzzer, release build in .build, FUZZ_RUNS executions
#   Fuzz/run.sh all         both (the default)
#
# Environment: FUZZ_SECONDS (libFuzzer time bound, default 60), FUZZ_RUNS (libFuzzer: an
# execution bound instead of the time; mutation: executions, default 200000), FUZZ_SEED (both
# engines; default from the clock, printed), FUZZ_WORK (corpus and crash directory; default a new
# temp directory), FUZZ_CONFIG (release or debug, default release), FUZZ_BUILD_PATH (libFuzzer
# build directory, default .build-fuzz).
# Exit status: 0 when nothing broke; non-zero with the crashing input saved under FUZZ_WORK.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-all}
config=${FUZZ_CONFIG:-release}
build_path=${FUZZ_BUILD_PATH:-.build-fuzz}
seed=${FUZZ_SEED:-$(( $(date +%s) % 1000000 ))}
work=${FUZZ_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/tradesync-fuzz.XXXXXX")}
mkdir -p "$work/seeds" "$work/corpus" "$work/artifacts"
echo "fuzz: mode $mode, seed $seed, work directory $work"
export SWIFT_BACKTRACE=${SWIFT_BACKTRACE:-enable=no}

run_libfuzzer() {
  local start bin bound status=0
  start=$(date +%s)
  swift build --product tradesync-fuzz --build-path "$build_path" -c "$config" \
    -Xswiftc -DFUZZING -Xswiftc -sanitize=fuzzer
  echo "fuzz: libFuzzer build took $(( $(date +%s) - start )) s"
  bin=$build_path/$config/tradesync-fuzz
  "$bin" --write-seeds "$work/seeds" --vectors Protocol/vectors
  if [ -n "${FUZZ_RUNS:-}" ]; then bound="-runs=$FUZZ_RUNS"; else bound="-max_total_time=${FUZZ_SECONDS:-60}"; fi
  start=$(date +%s)
  "$bin" "$bound" -seed="$seed" -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -dict=Fuzz/tradesync.dict -artifact_prefix="$work/artifacts/" "$work/corpus" "$work/seeds" \
    >"$work/libfuzzer.log" 2>&1 || status=$?
  grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::|^Done |ERROR|SUMMARY|Test unit written|Fatal error' \
    "$work/libfuzzer.log" || true
  echo "fuzz: libFuzzer ran $(( $(date +%s) - start )) s; corpus $(ls "$work/corpus" | wc -l) inputs;" \
    "log $work/libfuzzer.log; exit $status"
  return "$status"
}

run_mutation() {
  local start status=0
  start=$(date +%s)
  swift build --product tradesync-fuzz -c "$config"
  echo "fuzz: mutation build took $(( $(date +%s) - start )) s"
  (cd "$work/artifacts" && "$OLDPWD/.build/$config/tradesync-fuzz" --seed "$seed" --runs "${FUZZ_RUNS:-200000}" \
    --vectors "$OLDPWD/Protocol/vectors" --corpus "$work/corpus") || status=$?
  return "$status"
}

case "$mode" in
  libfuzzer) run_libfuzzer ;;
  mutation) run_mutation ;;
  all) run_libfuzzer; run_mutation ;;
  *) echo "usage: Fuzz/run.sh [libfuzzer|mutation|all]" >&2; exit 64 ;;
esac
