#!/usr/bin/env bash
# The log's benchmarks (issue 4), on a release build. Prints the raw fsync latency of the
# disk under WORK beside durable append throughput (1 and 8 writers through the node's
# group commit) and restart time against log size, with and without the checkpoint.
#
#   Benchmarks/log_bench.sh [WORK_DIR]       (default /tmp/tradesync-logbench; needs ~1 GB)
#   SIZES="100000 1000000" Benchmarks/log_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/tradesync-logbench}
sizes=${SIZES:-"100000 300000 1000000"}
swift build -c release --product tradesync-bench >/dev/null
swift build -c release --product tradesyncd >/dev/null
swift build -c release --product tradesync >/dev/null
bin=.build/release
mkdir -p "$work"

echo "== machine: $(nproc) cores, $(uname -r); work dir $work on $(df -h "$work" | awk 'NR==2 {print $1}')"
"$bin/tradesync-bench" fsync --dir "$work/fsync"
for writers in 1 8; do
  "$bin/tradesync-bench" append --dir "$work/append" --writers "$writers" --seconds 5
done
for n in $sizes; do
  "$bin/tradesync-bench" restart --dir "$work/restart-$n" --entries "$n"
  # The whole process: exec tradesyncd until its control socket answers `status`.
  start=$(date +%s%N)
  "$bin/tradesyncd" --data-dir "$work/restart-$n" --listen 127.0.0.1:0 2>"$work/restart-$n.log" &
  pid=$!
  until "$bin/tradesync" status --control "$work/restart-$n/control.sock" >/dev/null 2>&1; do sleep 0.01; done
  end=$(date +%s%N)
  kill -TERM "$pid"; wait "$pid" || true
  echo "restart: tradesyncd process, $n entries, with checkpoint: status answered after $(( (end - start) / 1000000 )) ms ($(grep -o 'log open in [^:]*' "$work/restart-$n.log"))"
  rm -rf "$work/restart-$n"
done
rm -rf "$work"
