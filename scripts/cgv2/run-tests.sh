#!/bin/bash
# Runs the cgroup tests on a real cgroup v2 system: a throw-away QEMU guest booted with cgroup_no_v1=all by
# shared/tools/run-in-cgv2.sh (this checkout is shared into it at the same path). Inside, it runs the cgroup
# unit tests, the v2 library tests and the CLI cgroup tests (create with limits, update, pause/resume,
# events, kill --all, enforcement, eBPF device rules, nothing left after delete) with the guest's node.
#
#   bash scripts/cgv2/run-tests.sh            # build first: node scripts/build.mjs
#   CGV2_TESTS="dist/test/integration/cgroups-v2/" bash scripts/cgv2/run-tests.sh   # a subset
#
# The guest is emulated (TCG): expect ~6 s per Node start and 10-20 minutes in all. Exit code = the tests'.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd -P)
TESTS=${CGV2_TESTS:-"dist/test/unit/cgroups/ dist/test/integration/cgroups-v2/ dist/test/integration/cgroups-cli/"}

if [ "${1:-}" = --inside ]; then
  cd "$repo"
  mode=$(stat -f -c %T /sys/fs/cgroup)
  [ "$mode" = cgroup2fs ] || { echo "cgv2: /sys/fs/cgroup is $mode, not cgroup2" >&2; exit 2; }
  command -v node >/dev/null || { echo "cgv2: no node in the guest" >&2; exit 2; }
  head -1 bin/stasis | grep -q "^#!$(command -v node)\$" || echo "cgv2: warning: bin/stasis starts with $(head -1 bin/stasis), guest node is $(command -v node)" >&2
  echo "cgv2: kernel $(uname -r), node $(node --version), controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
  unset NODE_EXTRA_CA_CERTS
  # shellcheck disable=SC2086
  node --test --test-concurrency=1 --test-reporter=tap $TESTS >/tmp/cgv2-tests.tap 2>&1 && rc=0 || rc=$?
  # The full TAP output goes back through the shared checkout, for reading after the guest is gone.
  cp /tmp/cgv2-tests.tap "$repo/dist/cgv2-last-run.tap"
  grep -E '^(not )?ok |^# (tests|pass|fail|skipped)' /tmp/cgv2-tests.tap
  exit "$rc"
fi

for f in bin/stasis dist/stasis.js build/Release/stasis_native.node build/Release/stasis-helper; do
  [ -e "$repo/$f" ] || { echo "cgv2: $f is missing: run node scripts/build.mjs first" >&2; exit 2; }
done
runner=${CGV2_RUNNER:-}
for cand in "$repo/../shared/tools/run-in-cgv2.sh" /work/shared/tools/run-in-cgv2.sh; do
  [ -n "$runner" ] && break
  [ -x "$cand" ] && runner=$cand
done
[ -n "$runner" ] || { echo "cgv2: run-in-cgv2.sh not found (set CGV2_RUNNER)" >&2; exit 2; }
# The guest reads the checkout over 9p for many minutes; a concurrent `node scripts/build.mjs` empties dist/
# meanwhile. Run from a private snapshot of what the tests need instead (CGV2_NO_SNAPSHOT=1: run in place).
if [ "${CGV2_NO_SNAPSHOT:-0}" = 1 ]; then
  work=$repo
else
  work=$(mktemp -d /var/tmp/stasis-cgv2.XXXXXX)
  trap 'cp "$work/dist/cgv2-last-run.tap" "$repo/dist/" 2>/dev/null; rm -rf "$work"' EXIT
  mkdir -p "$work/build/Release" "$work/scripts"
  cp -a "$repo/package.json" "$repo/bin" "$repo/dist" "$work/"
  cp -a "$repo/build/Release/stasis-helper" "$repo/build/Release/stasis_native.node" "$work/build/Release/"
  cp -a "$repo/scripts/cgv2" "$work/scripts/"
fi
cd "$work"
CGV2VM_ENV="${CGV2VM_ENV:-} CGV2_TESTS" CGV2_TESTS="$TESTS" "$runner" "bash scripts/cgv2/run-tests.sh --inside"
