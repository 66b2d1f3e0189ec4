#!/usr/bin/env bash
# Installs TradeSync as a systemd service: builds it (release), installs the binaries,
# shell completions and docs, creates the user tradesync and its directories, installs
# the example config (never overwriting one) and the unit, and enables and starts it.
#
# Usage: sudo Deploy/install.sh [--prefix DIR] [--bin DIR] [--destdir DIR] [--no-enable]
#   --prefix DIR   where binaries and docs go (default /usr/local)
#   --bin DIR      install the binaries already built in DIR instead of building
#   --destdir DIR  stage everything under DIR (packaging, tests): no user is created,
#                  nothing is chowned, systemctl is not called
#   --no-enable    install the unit but do not enable or start it
# Exit: 0 installed; 1 a step failed (the message names it); 2 bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=/usr/local bin="" destdir="" enable=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
    --bin) bin="${2:?--bin needs a directory}"; shift 2 ;;
    --destdir) destdir="${2:?--destdir needs a directory}"; shift 2 ;;
    --no-enable) enable=0; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
fail() { echo "install.sh: $*" >&2; exit 1; }
if [ -z "$destdir" ] && [ "$(id -u)" -ne 0 ]; then
  fail "run as root (sudo Deploy/install.sh), or stage with --destdir DIR"
fi

# 1. Build (release) unless given binaries.
if [ -z "$bin" ]; then
  command -v swift >/dev/null 2>&1 || fail "swift not found: install Swift 6.1+ or pass --bin DIR"
  if [ ! -f /usr/include/zlib.h ]; then
    apt-get install -y zlib1g-dev || fail "zlib headers missing and apt-get could not install zlib1g-dev"
  fi
  swift build -c release --product tradesyncd || fail "build of tradesyncd failed"
  swift build -c release --product tradesync || fail "build of tradesync failed"
  bin="$(swift build -c release --show-bin-path)"
fi
for tool in tradesyncd tradesync; do
  [ -x "$bin/$tool" ] || fail "$bin/$tool is missing or not executable"
done

# 2. Binaries, completions, docs, example config, unit.
root="$destdir"
install -d "$root$prefix/bin" "$root$prefix/share/doc/tradesync" \
  "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
  "$root/usr/share/fish/vendor_completions.d" "$root/etc/systemd/system"
install -m 0755 "$bin/tradesyncd" "$bin/tradesync" "$root$prefix/bin/"
install -m 0644 README.md "$root$prefix/share/doc/tradesync/README.md"
install -m 0644 Deploy/tradesyncd.toml "$root$prefix/share/doc/tradesync/tradesyncd.toml.example"
if "$bin/tradesync" completions bash >/dev/null 2>&1; then
  "$bin/tradesync" completions bash > "$root/usr/share/bash-completion/completions/tradesync"
  "$bin/tradesync" completions zsh > "$root/usr/share/zsh/vendor-completions/_tradesync"
  "$bin/tradesync" completions fish > "$root/usr/share/fish/vendor_completions.d/tradesync.fish"
fi
sed "s#/usr/local/bin/#$prefix/bin/#g; s#/usr/local/share/doc/#$prefix/share/doc/#g" \
  Deploy/tradesyncd.service > "$root/etc/systemd/system/tradesyncd.service"
chmod 0644 "$root/etc/systemd/system/tradesyncd.service"

# 3. User, group and directories. systemd makes /var/lib/tradesync and /run/tradesync
# (StateDirectory=, RuntimeDirectory=) at each start; /var/lib is made here too so that
# `tradesyncd --print-id --config …` works before the first start.
owner=() group=()
if [ -z "$destdir" ]; then
  if ! getent group tradesync >/dev/null; then groupadd --system tradesync || fail "groupadd tradesync failed"; fi
  if ! id tradesync >/dev/null 2>&1; then
    useradd --system --gid tradesync --home-dir /var/lib/tradesync --shell /usr/sbin/nologin tradesync \
      || fail "useradd tradesync failed"
  fi
  owner=(-o tradesync -g tradesync) group=(-g tradesync)
fi
install -d -m 0750 "${owner[@]}" "$root/var/lib/tradesync"
install -d -m 0750 "${group[@]}" "$root/etc/tradesync"
if [ ! -f "$root/etc/tradesync/tradesyncd.toml" ]; then
  install -m 0640 "${group[@]}" Deploy/tradesyncd.toml "$root/etc/tradesync/tradesyncd.toml"
else
  echo "kept the existing /etc/tradesync/tradesyncd.toml (the example is in $prefix/share/doc/tradesync)"
fi

# 4. Enable and start.
if [ -n "$destdir" ]; then
  echo "staged under $destdir"
  exit 0
fi
if [ "$enable" -eq 1 ]; then
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable --now tradesyncd.service || fail "systemctl enable --now tradesyncd failed: see journalctl -u tradesyncd"
    echo "tradesyncd installed and started: systemctl status tradesyncd; journalctl -u tradesyncd"
  else
    systemctl enable tradesyncd.service >/dev/null 2>&1 || true
    echo "tradesyncd installed and enabled; systemd is not running here, so it was not started"
  fi
fi
echo "node ID (give it to the peer offices): sudo -u tradesync $prefix/bin/tradesyncd --print-id --config /etc/tradesync/tradesyncd.toml"
echo "CLI: add yourself to the group tradesync (usermod -aG tradesync \$USER, then log in again),"
echo "     set control_group = \"tradesync\" in /etc/tradesync/tradesyncd.toml, and run:"
echo "     TRADESYNC_CONTROL=/run/tradesync/control.sock $prefix/bin/tradesync status"
