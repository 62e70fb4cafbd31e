#!/usr/bin/env bash
# Run the validation suite for several runtimes and print a side-by-side table.
#
# Usage: compare.sh [-U] [-o OUTDIR] [-t SECONDS] RUNTIME... [-- TEST...]
#   RUNTIME   a path or a name in PATH (runc, crun, $(pwd)/bin/stasis)
#   -U -o -t  passed to run-validation.sh for every runtime
#   -- TEST   limit the run to these validation tests
#
# Each runtime's results stay in OUTDIR/<name>.tsv (see run-validation.sh);
# this prints one row per test with pass/fail/skip per runtime, then a count
# line per runtime. Runtimes with the same basename get a numeric suffix.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${CONFORMANCE_OUT:-/tmp/stasis-conformance}
PASS_OPTS=()

while getopts "Uo:t:h" opt; do
  case $opt in
    U) PASS_OPTS+=(-U) ;;
    o) OUT=$OPTARG ;;
    t) PASS_OPTS+=(-t "$OPTARG") ;;
    *) sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))

RUNTIMES=() TESTS=()
while [[ $# -gt 0 && $1 != -- ]]; do RUNTIMES+=("$1"); shift; done
[[ ${1:-} == -- ]] && { shift; TESTS=("$@"); }
[[ ${#RUNTIMES[@]} -ge 1 ]] || { echo "compare: name at least one runtime (see -h)" >&2; exit 2; }

mkdir -p "$OUT"
NAMES=()
for rt in "${RUNTIMES[@]}"; do
  name=$(basename "$rt") n=2
  while printf '%s\n' "${NAMES[@]:-}" | grep -qx -- "$name"; do name=$(basename "$rt")-$n; n=$((n + 1)); done
  NAMES+=("$name")
  echo "compare: running $rt as $name" >&2
  # A runtime failing tests is the point of the exercise; only a harness
  # error (exit 2) stops the comparison.
  rc=0
  rm -f "$OUT/$name.tsv"
  "$HERE/run-validation.sh" "${PASS_OPTS[@]}" -o "$OUT" -n "$name" "$rt" "${TESTS[@]}" >"$OUT/$name.log" 2>&1 || rc=$?
  [[ $rc -le 1 && -f $OUT/$name.tsv ]] || { echo "compare: harness failed for $rt (see $OUT/$name.log)" >&2; exit 2; }
done

# Join the TSVs on the test name; a test missing from one file shows as "-".
files=()
for name in "${NAMES[@]}"; do files+=("$OUT/$name.tsv"); done
awk -F'\t' -v names="${NAMES[*]}" '
  BEGIN { n = split(names, col, " ") }
  FNR == 1 { f++; next }
  { if (!($1 in seen)) { seen[$1] = 1; order[++rows] = $1 }
    res[$1, f] = $2; count[f, $2]++ }
  END {
    w = 32
    printf "%-" w "s", "test"; for (i = 1; i <= n; i++) printf " %-10s", col[i]; print ""
    for (r = 1; r <= rows; r++) {
      printf "%-" w "s", order[r]
      for (i = 1; i <= n; i++) printf " %-10s", ((order[r], i) in res) ? res[order[r], i] : "-"
      print ""
    }
    print ""
    for (i = 1; i <= n; i++)
      printf "%s: %d passed, %d failed, %d skipped\n", col[i], count[i, "pass"], count[i, "fail"], count[i, "skip"]
  }
' "${files[@]}"
