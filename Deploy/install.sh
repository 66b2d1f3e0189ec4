#!/usr/bin/env bash
# Builds TradeSync in release mode and installs it as a systemd service.
# Usage: sudo Deploy/install.sh [PREFIX]   (PREFIX defaults to /usr/local)
set -euo pipefail
prefix="${1:-/usr/local}"
cd "$(dirname "$0")/.."

if [ ! -f /usr/include/zlib.h ]; then
  apt-get install -y zlib1g-dev
fi
swift build -c release --product tradesyncd
swift build -c release --product tradesync
bin="$(swift build -c release --show-bin-path)"

install -d "$prefix/bin" "$prefix/share/doc/tradesync"
install -m 0755 "$bin/tradesyncd" "$bin/tradesync" "$prefix/bin/"
install -m 0644 README.md "$prefix/share/doc/tradesync/README.md"

if ! id tradesync >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/tradesync --shell /usr/sbin/nologin tradesync
fi
install -d -m 0750 -o tradesync -g tradesync /var/lib/tradesync
install -d -m 0755 /etc/tradesync
if [ ! -f /etc/tradesync/tradesyncd.toml ]; then
  install -m 0640 -g tradesync Deploy/tradesyncd.toml /etc/tradesync/tradesyncd.toml
fi
sed "s#/usr/local/bin#$prefix/bin#g" Deploy/tradesyncd.service > /etc/systemd/system/tradesyncd.service
systemctl daemon-reload
systemctl enable --now tradesyncd.service
echo "tradesyncd installed; CLI: TRADESYNC_CONTROL=/run/tradesync/control.sock $prefix/bin/tradesync status"
