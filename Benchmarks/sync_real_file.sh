#!/usr/bin/env bash
# Measures, for one real trade file: import rate into node A, the time until node B
# (its peer on 127.0.0.1) reports the same state digest, and the bytes that crossed the
# wire against the file's size and its gzip -6 size.
#
# Usage: Benchmarks/sync_real_file.sh [FILE] [BIN_DIR]
#   FILE defaults to the cement file in ../shared/data/trade; BIN_DIR to .build/release.
set -euo pipefail
cd "$(dirname "$0")/.."
file="${1:-../shared/data/trade/comtrade_legacy_bulk_cement-252310_1988-2020.csv}"
bin="${2:-.build/release}"
work="$(mktemp -d /tmp/tradesync-bench-XXXXXX)"
pid_a=""; pid_b=""
trap 'kill $pid_a $pid_b 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pa=$(port); pb=$(port)
# TLS 1.3 with pinned peers, as deployed: each node's ID first, then each pins the other.
id_a=$("$bin/tradesyncd" --print-id --data-dir "$work/a" | head -1)
id_b=$("$bin/tradesyncd" --print-id --data-dir "$work/b" | head -1)
"$bin/tradesyncd" --data-dir "$work/a" --listen "127.0.0.1:$pa" --peer "$id_b@127.0.0.1:$pb" --log-level warning 2>"$work/a.log" &
pid_a=$!
"$bin/tradesyncd" --data-dir "$work/b" --listen "127.0.0.1:$pb" --peer "$id_a@127.0.0.1:$pa" --log-level warning 2>"$work/b.log" &
pid_b=$!
ctl_a="$work/a/control.sock"; ctl_b="$work/b/control.sock"
for _ in $(seq 100); do "$bin/tradesync" status --control "$ctl_a" >/dev/null 2>&1 && "$bin/tradesync" status --control "$ctl_b" >/dev/null 2>&1 && break; sleep 0.1; done

json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
start=$(date +%s.%N)
"$bin/tradesync" import --skip-invalid --json --control "$ctl_a" "$file" 2>/dev/null >"$work/import.json"
imported=$(date +%s.%N)
digest_a=$("$bin/tradesync" status --json --control "$ctl_a" | json 'd["digest"]')
while [ "$("$bin/tradesync" status --json --control "$ctl_b" | json 'd["digest"]')" != "$digest_a" ]; do sleep 0.02; done
converged=$(date +%s.%N)

rows=$(json 'd["rows_read"]' <"$work/import.json")
written=$(json 'd["written"]' <"$work/import.json")
seconds=$(json 'd["seconds"]' <"$work/import.json")
peer=$("$bin/tradesync" status --json --control "$ctl_a" | json '(d["peers"][0]["bytes_sent"], d["peers"][0]["bytes_received"], d["peers"][0]["entries_sent"])')
size=$(stat -c %s "$file")
gz=$(gzip -6 -c "$file" | wc -c)
python3 - "$rows" "$written" "$seconds" "$start" "$imported" "$converged" "$size" "$gz" "$peer" <<'PY'
import sys, ast
rows, written, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
start, imported, converged = map(float, sys.argv[4:7])
size, gz = int(sys.argv[7]), int(sys.argv[8])
sent, received, entries = ast.literal_eval(sys.argv[9])
print(f"import: {rows} rows read, {written} written in {seconds:.3f} s = {rows/seconds:,.0f} rows/s "
      f"({written/seconds:,.0f} records/s), CLI wall {imported-start:.3f} s")
print(f"convergence: B has A's digest {converged-imported:.3f} s after the import was acknowledged")
print(f"wire A->B: {sent:,} B (entries {entries:,}), B->A: {received:,} B; file {size:,} B, gzip -6 {gz:,} B; "
      f"A->B = {100*sent/size:.1f} % of the file, {100*sent/gz:.1f} % of its gzip; {sent/max(entries,1):.1f} B/entry")
PY
