#!/usr/bin/env bash
# The main demo: set everything up, run a busybox container that keeps a counter in memory, checkpoint it,
# and restore it: the counter goes on from where it was, which shows that its memory survived.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
unset NODE_EXTRA_CA_CERTS
stasis=$(pwd)/bin/stasis
work=$(mktemp -d /tmp/stasis-demo.XXXXXX)
root=$work/state
id=demo-$$
cleanup() {
  "$stasis" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== building a bundle from Debian's busybox-static in $work/bundle"
# The counter lives in a shell variable (process memory); it is also written to a file so we can watch it.
bash scripts/make-bundle.sh "$work/bundle" /bin/sh -c \
  'exec </dev/null >/dev/null 2>&1; i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done'
# The shell truncates the file before writing the new value: read again when we catch it empty.
count() {
  local v
  for _ in $(seq 1 50); do
    v=$(cat "$work/bundle/rootfs/tmp/count" 2>/dev/null || true)
    [ -n "$v" ] && { echo "$v"; return; }
    sleep 0.02
  done
  echo 0
}

echo "== stasis run -d $id"
"$stasis" --root "$root" run -d --bundle "$work/bundle" "$id"
sleep 3
"$stasis" --root "$root" state "$id"
echo "counter after 3 s: $(count)"

echo "== stasis checkpoint $id"
"$stasis" --root "$root" checkpoint --image-path "$work/image" --print-stats "$id"
before=$(count)
echo "counter when checkpointed: $before"
"$stasis" --root "$root" list

echo "== stasis restore $id"
"$stasis" --root "$root" restore -d --bundle "$work/bundle" --image-path "$work/image" --print-stats "$id"
sleep 1
after=$(count)
echo "counter 1 s after restore: $after"
"$stasis" --root "$root" state "$id"
if [ "$after" -gt "$before" ]; then
  echo "demo: OK — the counter continued from $before (its memory was restored), it did not restart at 1"
else
  echo "demo: FAILED — counter $after is not past $before" >&2
  exit 1
fi
