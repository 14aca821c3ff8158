#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian bookworm machine that has Go,
# gcc, node and npm: the real third-party peers and servers of the tests.
# `make test` runs it first; it does nothing when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(
  python3-websockets          # Python websockets client (e2e)
  novnc                       # noVNC pages (vnc_lite.html) (e2e)
  tigervnc-standalone-server  # Xvnc, a real VNC server (e2e)
  x11-utils                   # xev: sees the key typed in the browser (e2e)
  x11-xserver-utils           # xsetroot: paints the root window (e2e)
  chromium                    # headless browser running noVNC (e2e)
  websockify                  # the relay vncrelay replaces: comparisons, token plugin reference
  python3-jwcrypto            # JWTTokenApi JWS and JWE differential (auth/jwt); also pulled in by websockify
  qemu-system-x86             # real VNC and serial consoles (rfb, nova, e2e)
  mariadb-server              # Nova's database, started privately by the tests (nova)
  rabbitmq-server             # Nova's message bus, started privately by the tests (nova)
  python3-oslo.messaging      # the compute stand-in answering validate_console_port (nova)
  nova-common                 # nova-manage: Nova's schema and tokens made by Nova's code (nova)
  nova-consoleproxy           # Nova's own proxies: reference and benchmark peer (nova)
  python3-pymysql             # the driver nova-manage uses for MariaDB (nova)
  spice-html5                 # SPICE HTML5 client pages, served by the spicehtml5 proxy (e2e)
  redis-server                # TokenRedis, started privately by the tests (auth/redis)
  haproxy                     # load balancer in front of relays: PROXY protocol, X-Forwarded-For, fleet (e2e)
  prometheus                  # Prometheus and promtool: scrape the admin listener, check the rules (e2e)
  systemd                     # systemd-analyze verify: the unit files under deploy/systemd (e2e)
  lighttpd                    # mod_wstunnel, the C peer of the benchmarks (bench)
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      SUDO="sudo -n"
    else
      echo "The tests need these Debian packages, which are missing:" >&2
      echo "  ${missing[*]}" >&2
      echo "Install them as root (apt-get install ${missing[*]}), or run 'make test' as root" >&2
      echo "or as a user with password-less sudo, then run 'make test' again." >&2
      exit 1
    fi
  fi
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  # Services the packages start are not used: the tests start private ones.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Node clients (ws, playwright-core) at the versions in the lockfile, again
# only when the lockfile changed since the last install.
lock=test/e2e/package-lock.json
stamp=test/e2e/node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
  (cd test/e2e && npm ci --no-audit --no-fund --loglevel=error)
fi
