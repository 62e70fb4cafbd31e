#!/usr/bin/env bash
# Run the OCI runtime-tools validation suite against one runtime binary.
#
# Usage: run-validation.sh [-U] [-o OUTDIR] [-n NAME] [-t SECONDS] RUNTIME_PATH [TEST...]
#   -o OUTDIR   where results go (default $CONFORMANCE_OUT or /tmp/stasis-conformance)
#   -n NAME     results name (default: basename of RUNTIME_PATH)
#   -t SECONDS  per-test timeout (default 120)
#   -U          hide the cgroup2 mount at /sys/fs/cgroup/unified from the run
#               (private mount namespace; the host is not changed). crun 1.8.1
#               refuses a hybrid host whose cgroup2 has controllers bound
#               (here: hugetlb); hidden, it runs in plain cgroup v1 mode.
#   TEST...     validation test names (e.g. default state kill); default all
#
# Writes OUTDIR/NAME.tsv (test, result, first failing TAP line) and the raw
# TAP/stderr of each test under OUTDIR/NAME/. Prints the table and a closing
# line `validation: N passed, M failed, K skipped`. A test whose every result
# is a SKIP counts as skipped, not passed.
# Exit status: 0 all passed or skipped, 1 some failed, 2 harness error.
# Must run as root. Builds the suite first if needed (build-runtime-tools.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${STASIS_CONFORMANCE_CACHE:-/var/cache/stasis-conformance}
SUITE=$CACHE/suite
OUT=${CONFORMANCE_OUT:-/tmp/stasis-conformance}
NAME=
TIMEOUT=120
HIDE_UNIFIED=0
ARGS=("$@")

die() { echo "run-validation: $*" >&2; exit 2; }

while getopts "o:n:t:Uh" opt; do
  case $opt in
    U) HIDE_UNIFIED=1 ;;
    o) OUT=$OPTARG ;;
    n) NAME=$OPTARG ;;
    t) TIMEOUT=$OPTARG ;;
    *) sed -n '2,20s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[[ $# -ge 1 ]] || die "missing RUNTIME_PATH (see -h)"
RUNTIME_ARG=$1; shift
# A bare name is looked up in PATH; the suite itself needs an absolute path
# only because it runs from a private cwd.
RUNTIME=$(readlink -f "$(command -v "$RUNTIME_ARG" || echo "$RUNTIME_ARG")")
[[ -f $RUNTIME && -x $RUNTIME ]] || die "runtime is not an executable file: $RUNTIME_ARG"
[[ $(id -u) == 0 ]] || die "must run as root (containers, cgroups)"
NAME=${NAME:-$(basename "$RUNTIME_ARG")}

# -U: rerun this script inside a new mount namespace in which the cgroup2
# mount is made private (so nothing propagates back) and then unmounted.
if [[ $HIDE_UNIFIED == 1 && -z ${STASIS_CONFORMANCE_UNIFIED_HIDDEN:-} ]] &&
  mountpoint -q /sys/fs/cgroup/unified; then
  export STASIS_CONFORMANCE_UNIFIED_HIDDEN=1
  exec unshare -m --propagation unchanged bash -c \
    'mount --make-private /sys/fs/cgroup/unified && umount /sys/fs/cgroup/unified && exec "$0" "$@"' \
    "${BASH_SOURCE[0]}" "${ARGS[@]}"
fi

"$HERE/build-runtime-tools.sh" >&2 || die "building the suite failed"

if [[ $# -gt 0 ]]; then
  TESTS=("$@")
else
  mapfile -t TESTS < <(cd "$SUITE/validation" && ls -- *.t | sed 's/\.t$//')
fi
for t in "${TESTS[@]}"; do
  [[ -x $SUITE/validation/$t.t ]] || die "unknown validation test: $t"
done

# The suite reads runtimetest and rootfs-<arch>.tar.gz from its cwd and makes
# bundles with os.MkdirTemp, so a private cwd and TMPDIR confine everything
# it creates to WORK.
WORK=$(mktemp -d /tmp/stasis-conformance-run.XXXXXX)
# Bundles under WORK are reached by user-namespaced container processes.
chmod 755 "$WORK"
mkdir -p "$WORK/tmp" "$OUT/$NAME"
# A real copy: the suite copies runtimetest into bundles with a helper that
# would reproduce a symlink as a symlink, dangling inside the container.
cp "$SUITE/runtimetest" "$WORK/runtimetest"
ln -s "$SUITE"/rootfs-*.tar.gz "$WORK/"

# The suite calls $RUNTIME with the container ID as the last argument of
# `create`. A wrapper records those IDs so that containers a failing test
# leaves behind can be killed and deleted through the runtime itself.
IDS=$WORK/container-ids
cat >"$WORK/runtime" <<EOF
#!/bin/sh
if [ "\$1" = create ]; then eval "last=\\\${\$#}"; echo "\$last" >>'$IDS'; fi
exec '$RUNTIME' "\$@"
EOF
chmod +x "$WORK/runtime"

# Cgroup directories the suite names itself; any that appear during the run
# and are left empty get removed at the end.
cgroup_test_dirs() {
  find /sys/fs/cgroup -maxdepth 5 -type d \( -name cgrouptest -o -name testdir \) 2>/dev/null | sort
}
CGROUPS_BEFORE=$WORK/cgroups-before
cgroup_test_dirs >"$CGROUPS_BEFORE"

# Remove what one test left: containers (via the runtime), stray processes of
# its session, mounts under WORK, bundles, and cgroups named after its IDs.
cleanup_test() {
  local sid=$1 id pid
  if [[ -s $IDS ]]; then
    while read -r id; do
      [[ -n $id ]] || continue
      if "$RUNTIME" state "$id" >/dev/null 2>&1; then
        "$RUNTIME" kill "$id" KILL >/dev/null 2>&1 || true
        sleep 0.2
        "$RUNTIME" delete --force "$id" >/dev/null 2>&1 ||
          "$RUNTIME" delete "$id" >/dev/null 2>&1 || true
      fi
      find /sys/fs/cgroup -maxdepth 5 -depth -type d -name "*$id*" \
        -exec rmdir {} \; 2>/dev/null || true
    done <"$IDS"
    : >"$IDS"
  fi
  # Processes still in the test's session (helpers, orphaned containers).
  for pid in $(ps -e -o pid=,sid= | awk -v s="$sid" '$2 == s && $1 != s {print $1}'); do
    kill -KILL "$pid" 2>/dev/null || true
  done
  awk -v w="$WORK/" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "${WORK:?}/tmp" && mkdir -p "$WORK/tmp"
}

finish() {
  # New test cgroups, deepest first; rmdir refuses any still in use.
  comm -13 "$CGROUPS_BEFORE" <(cgroup_test_dirs) | sort -r |
    while read -r d; do
      find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
  rm -rf "${WORK:?}"
}
trap finish EXIT
trap 'exit 130' INT TERM

TSV=$OUT/$NAME.tsv
printf 'test\tresult\tdetail\n' >"$TSV.tmp"
passed=0 failed=0 skipped=0
cd "$WORK"
for t in "${TESTS[@]}"; do
  tap=$OUT/$NAME/$t.tap err=$OUT/$NAME/$t.stderr
  # setsid makes the test a session leader so its leftovers can be found;
  # timeout -k escalates to KILL if TERM is ignored.
  set +e
  TMPDIR=$WORK/tmp RUNTIME=$WORK/runtime setsid timeout -k 5 "$TIMEOUT" \
    "$SUITE/validation/$t.t" >"$tap" 2>"$err" </dev/null &
  sid=$!
  wait "$sid"; rc=$?
  set -e
  cleanup_test "$sid"
  IFS=$'\t' read -r result detail < <("$HERE/classify-tap.sh" "$rc" "$tap" "$err" "$TIMEOUT")
  case $result in
    pass) passed=$((passed + 1)) ;;
    skip) skipped=$((skipped + 1)) ;;
    *) failed=$((failed + 1)) ;;
  esac
  printf '%s\t%s\t%s\n' "$t" "$result" "${detail//$'\t'/ }" >>"$TSV.tmp"
  printf '%-36s %s %s\n' "$t" "$result" "$detail" | cut -c1-160
done
mv "$TSV.tmp" "$TSV"
echo "results: $TSV (TAP in $OUT/$NAME/)"
echo "validation: $passed passed, $failed failed, $skipped skipped"
[[ $failed == 0 ]]
