#!/usr/bin/env bash
# Checks Deploy/tradesyncd.service as systemd will read it (run by .ci/run after the build):
#   1. `systemd-analyze verify` prints nothing (syntax, directives, the ExecStart binary);
#   2. `systemd-analyze security --offline` rates its exposure at 2.0 or less;
#   3. a node traced with strace, through a start, a peer session, an import, a put, a
#      scrape of /metrics and /health, SIGHUP and SIGTERM, makes no system call the unit's SystemCallFilter= refuses.
# Usage: Deploy/check-unit.sh [BIN_DIR]   (default .build/debug). Installs systemd and
# strace with apt-get when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(cd "${1:-.build/debug}" && pwd)"
need=()
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v strace >/dev/null 2>&1 || need+=(strace)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null && apt-get install -y -q "${need[@]}" >/dev/null
fi

work="$(mktemp -d /tmp/tradesync-unit.XXXXXX)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# 1. verify, with ExecStart pointing at the binary just built.
sed "s#/usr/local/bin/tradesyncd#$bin/tradesyncd#" Deploy/tradesyncd.service > "$work/tradesyncd.service"
systemd-analyze verify "$work/tradesyncd.service" > "$work/verify.out" 2>&1 || true
if [ -s "$work/verify.out" ]; then
  echo "systemd-analyze verify Deploy/tradesyncd.service:"; cat "$work/verify.out"; exit 1
fi
echo "unit: systemd-analyze verify: no findings"

# 2. security review; --threshold is in tenths (20 = exposure 2.0).
if ! systemd-analyze security --offline=true --threshold=20 "$work/tradesyncd.service" > "$work/security.out" 2>&1; then
  grep -E '✗|Overall' "$work/security.out"; echo "unit: exposure above 2.0"; exit 1
fi
echo "unit: $(grep -o 'Overall exposure level.*' "$work/security.out")"

# 3. system calls of a traced node under a short workload.
ctl() { "$bin/tradesync" "$@" --control "$work/a/control.sock"; }
port() { sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$1" | head -1; }
strace -f -qq -o "$work/trace" "$bin/tradesyncd" --data-dir "$work/a" --listen 127.0.0.1:0 --insecure \
  --metrics 127.0.0.1:0 > "$work/a.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$work/a/control.sock" ] && [ -n "$(port "$work/a.log")" ] && break; sleep 0.2; done
"$bin/tradesyncd" --data-dir "$work/b" --listen 127.0.0.1:0 --insecure --peer "127.0.0.1:$(port "$work/a.log")" \
  > "$work/b.log" 2>&1 &
pids+=($!)
data="${TRADESYNC_DATA_DIR:-../shared/data/trade}/comtrade_legacy_bulk_cement-252310_1988-2020.csv"
ctl import --skip-invalid "$data" > /dev/null 2>&1
ctl put CHN:DEU:X:850760:2022 value_usd=1200.5 > /dev/null
for _ in $(seq 100); do ctl status --json | grep -q '"in_sync" : true' && break; sleep 0.2; done
metrics="$(grep -o 'metrics on http://[0-9.:]*/metrics' "$work/a.log" | head -1 | cut -d' ' -f3)"
python3 -c "import sys, urllib.request as u; u.urlopen(sys.argv[1]).read(); u.urlopen(sys.argv[1].replace('/metrics', '/health')).read()" "$metrics"
kill -HUP "$(pgrep -P "${pids[0]}" tradesyncd)"
sleep 1
ctl status > /dev/null
kill -TERM "$(pgrep -P "${pids[0]}" tradesyncd)"
wait "${pids[0]}"
grep -q "tradesyncd stopped" "$work/a.log" || { echo "traced node did not stop cleanly:"; tail -5 "$work/a.log"; exit 1; }
echo -n "unit: system calls: "
python3 Deploy/check_syscalls.py Deploy/tradesyncd.service "$work/trace"
