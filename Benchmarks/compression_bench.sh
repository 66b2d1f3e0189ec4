#!/usr/bin/env bash
# BATCH wire bytes per entry, plain / deflate / deflate with the trade-1 preset dictionary, for
# batches of 1, 10, 100 and 1000 entries (issue 5 §8), on a release build. Sources: the cement
# legacy file and the Thai and CHN-DEU-USA Comtrade Plus files (in trade-1's training set), the
# bicycles legacy file (held out), and gen_trade.py seed 2 (held out; trade-1 saw seed 1).
#
#   Benchmarks/compression_bench.sh [DATA_DIR] [GEN_TRADE]
#   (defaults /work/shared/data/trade and /work/shared/bench/gen_trade.py)
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-/work/shared/data/trade}
gen=${2:-/work/shared/bench/gen_trade.py}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
swift build -c release --product tradesync-compression-bench >/dev/null
python3 "$gen" --rows 20000 --seed 2 -o "$work/gen_trade_seed2.csv"
.build/release/tradesync-compression-bench \
  "$data/comtrade_legacy_bulk_cement-252310_1988-2020.csv" \
  "$data/comtradeplus_csv_tha-imports-8542_2014-2024.csv" \
  "$data/comtradeplus_csv_chn-deu-usa_total-by-partner_2022.csv" \
  "$data/comtrade_legacy_api_bicycles-871200_2016-2019.csv" \
  "$work/gen_trade_seed2.csv"
