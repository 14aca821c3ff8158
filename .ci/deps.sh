#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian bookworm machine that has Go,
# gcc, node and npm: the real third-party peers of the end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(
  python3-websockets          # Python websockets client (e2e)
  novnc                       # noVNC pages (vnc_lite.html) (e2e)
  tigervnc-standalone-server  # Xvnc, a real VNC server (e2e)
  x11-utils                   # xev: sees the key typed in the browser (e2e)
  x11-xserver-utils           # xsetroot: paints the root window (e2e)
  chromium                    # headless browser running noVNC (e2e)
  websockify                  # the relay vncrelay replaces, for comparisons
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

# Node clients (ws, playwright-core) at the versions in the lockfile.
(cd test/e2e && npm ci --no-audit --no-fund --loglevel=error)
