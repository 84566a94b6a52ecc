#!/usr/bin/env bash
# Real-browser end-to-end test of the widget and the Agent Inbox against the local
# gateway (chat.test.mjs). Installs what is missing by itself: Debian's Chromium
# (never a browser download), Node.js, this folder's node_modules (npm ci); builds
# the gateway; prints the widget's minified + gzipped size (size.mjs, fails over
# 15 KB); runs the test. Exits non-zero when anything fails.
# Screenshots go to docs/screenshots (LIVECHAT_SHOTS_DIR overrides).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 # playwright-core downloads nothing; make sure of it
export DEBIAN_FRONTEND=noninteractive

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then
    $SUDO apt-get update -qq
    apt_updated=1
  fi
  $SUDO apt-get install -y --no-install-recommends "$@"
}

if [ ! -x /usr/bin/chromium ]; then
  echo "run.sh: installing Debian's chromium" >&2
  apt_install chromium
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "run.sh: installing Node.js" >&2
  apt_install nodejs npm
fi
if [ ! -d "$HERE/node_modules/esbuild" ] || [ ! -d "$HERE/node_modules/playwright-core" ]; then
  echo "run.sh: npm ci in tests/browser" >&2
  (cd "$HERE" && npm ci --no-audit --no-fund)
fi

echo "run.sh: cargo build -p livechat-cli" >&2
(cd "$REPO" && cargo build -p livechat-cli)

cd "$HERE"
node size.mjs
exec node --test chat.test.mjs
