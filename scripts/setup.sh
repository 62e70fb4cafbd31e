#!/usr/bin/env bash
# One-stop set-up used by demo.sh and test.sh: Debian packages, CRIU, npm packages, build.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "setup: run as root (containers need it)" >&2; exit 1; }
bash scripts/install-deps.sh
bash scripts/install-criu.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
node scripts/build.mjs
