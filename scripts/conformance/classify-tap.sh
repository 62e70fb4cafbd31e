#!/usr/bin/env bash
# Decide whether one validation test passed, from its exit status and output.
#
# Usage: classify-tap.sh EXIT_STATUS TAP_FILE STDERR_FILE [TIMEOUT_SECONDS]
# Prints one line: `pass|fail|skip<TAB>detail`, where detail is the first
# failing TAP line or the reason (empty for pass).
#
# Why not just "no `not ok`": the runtime-tools tests do not all speak TAP the
# same way.
#  - Some print several TAP streams, each with its own plan (e.g.
#    linux_cgroups_cpus); the plans are added up.
#  - Lifecycle tests (prestart, poststop, hooks...) print no result at all and
#    report a failure only as a YAML block in a stream that has no result.
#  - The *_fail tests that expect `create` to fail print nothing and speak
#    through their exit status only.
# So: pass needs exit 0, no `not ok` outside TODO, as many results as the
# plans add up to, and no result-less YAML block. A test whose every result
# is a SKIP is `skip`.
set -euo pipefail

[[ $# -ge 3 ]] || { echo "usage: classify-tap.sh EXIT_STATUS TAP_FILE STDERR_FILE [TIMEOUT]" >&2; exit 2; }
rc=$1 tap=$2 err=$3 timeout=${4:-?}
[[ -f $tap ]] || { echo "classify-tap: tap file not found: $tap" >&2; exit 2; }

# plans: sum of `1..N` lines (or "missing"); results: ok/not ok lines;
# skips: `ok N # SKIP`; loose: line of the first YAML block in a stream that
# reached its plan with no result (0 if none).
read -r plans results skips loose < <(awk '
  /^TAP version/ { sres = 0; syaml = 0 }
  /^  ---/ { if (!syaml) syaml = NR }
  /^(not )?ok( |$)/ { results++; sres++; if ($0 ~ /^ok [0-9]+ # SKIP/) skips++ }
  /^1\.\.[0-9]+/ {
    if (sres == 0 && syaml && !loose) loose = syaml
    sub(/^1\.\./, ""); plans += $0 + 0; seen = 1
  }
  END { printf "%s %d %d %d\n", seen ? plans : "missing", results, skips, loose }
' "$tap")
notok=$(grep -E '^not ok' "$tap" | grep -v '# TODO' | head -1 || true)
first_stderr() { grep -m1 . "$err" 2>/dev/null | cut -c1-200 || true; }

if [[ $rc == 124 || $rc == 137 ]]; then
  # 124: timeout(1) fired; 137: it had to escalate to KILL.
  printf 'fail\ttimeout after %ss\n' "$timeout"
elif [[ -n $notok ]]; then
  printf 'fail\t%s\n' "$notok"
elif [[ $rc != 0 ]]; then
  printf 'fail\texit %s: %s\n' "$rc" "$(first_stderr)"
elif [[ $loose != 0 ]]; then
  detail=$(tail -n +"$loose" "$tap" | grep -m1 -E '"(error|stderr)"' | sed 's/^ *//' | cut -c1-200 || true)
  printf 'fail\t%s\n' "${detail:-diagnostic with no result at line $loose}"
elif [[ $plans == missing && $results == 0 ]]; then
  printf 'pass\t\n'
elif [[ $plans != "$results" ]]; then
  printf 'fail\tplan %s but %s results\n' "$plans" "$results"
elif [[ $results != 0 && $skips == "$results" ]]; then
  printf 'skip\t%s\n' "$(grep -m1 -E '^ok [0-9]+ # SKIP' "$tap")"
else
  printf 'pass\t\n'
fi
