#!/usr/bin/env bash
# The test command (README, CI): sets everything up, then runs every suite with node --test:
# unit, helper, integration (real containers, cgroups, CRIU), security, engines (Podman, containerd) and
# the OCI runtime-tools validation suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/engines/install-engines.sh
bash scripts/conformance/build-runtime-tools.sh
bash scripts/install-checkpointctl.sh
unset NODE_EXTRA_CA_CERTS
# One file at a time: integration suites share the host's cgroup hierarchy and CRIU.
exec node --test --test-concurrency=1 dist/test/
