#!/usr/bin/env bash
# The test command (README, CI): sets everything up, then runs unit and integration tests with node --test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
unset NODE_EXTRA_CA_CERTS
exec node --test --test-concurrency=1 dist/test/
