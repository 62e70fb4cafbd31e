#!/usr/bin/env bash
# Installs CRIU 4.2.x from Debian sid into a private prefix, for stasis checkpoint/restore.
#
# Why a private prefix: bookworm's criu (3.17) cannot dump on kernels >= 6.13, and 4.1 cannot dump TCP
# sockets on kernels >= 6.16. sid's criu is linked against sid's glibc, so we unpack criu together with
# every shared library it needs (glibc included) and run it through sid's own dynamic loader. Nothing
# system-wide changes: apt runs with a private config, lists and cache (APT_CONFIG), no dpkg database is
# touched, and the system's /usr/sbin/criu and libc stay as they are.
#
# Usage (root): scripts/install-criu.sh [--force]
#   STASIS_CRIU_PREFIX  where to install (default /usr/local/lib/stasis/criu)
#   STASIS_CRIU_SUITE   Debian suite to take criu from (default sid)
#   STASIS_CRIU_SERIES  required version prefix (default 4.2.)
# Idempotent: when the prefix already holds a working criu of the wanted series, it prints one line.
set -euo pipefail

PREFIX=${STASIS_CRIU_PREFIX:-/usr/local/lib/stasis/criu}
SUITE=${STASIS_CRIU_SUITE:-sid}
SERIES=${STASIS_CRIU_SERIES:-4.2.}
MIRROR=${STASIS_CRIU_MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
FORCE=0
[[ ${1:-} == --force ]] && FORCE=1

log() { echo "install-criu: $*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $(id -u) == 0 ]] || die "must run as root"
[[ $(dpkg --print-architecture) == amd64 ]] || die "only amd64 is supported (loader path is x86-64)"

installed_version() {
  "$PREFIX/criu" --version 2>/dev/null | sed -n 's/^Version: *//p'
}

# iptables (from the system's own suite): CRIU's default network lock runs iptables-restore.
ensure_iptables() {
  command -v iptables-restore >/dev/null 2>&1 && return 0
  log "installing iptables from the system's apt sources"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iptables >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iptables >/dev/null
  fi
}

if [[ $FORCE == 0 ]]; then
  v=$(installed_version || true)
  if [[ $v == "$SERIES"* ]]; then
    ensure_iptables
    echo "criu $v already installed at $PREFIX/criu"
    exit 0
  fi
fi

start=$(date +%s)
ensure_iptables
[[ -r $KEYRING ]] || die "$KEYRING missing (install debian-archive-keyring)"

WORK=$(mktemp -d /tmp/stasis-criu-install.XXXXXX)
STAGE="$PREFIX.new.$$"
cleanup() { rm -rf "$WORK" "$STAGE"; }
trap cleanup EXIT

# A private apt (scripts/lib/private-apt.sh): the system's apt state is never touched.
A=$WORK/apt
. "$(dirname "$0")/lib/private-apt.sh"
private_apt "$A" "$SUITE" "$MIRROR" "$KEYRING"

log "fetching the $SUITE package lists (private apt state in $A)"
apt-get update -qq >"$WORK/update.log" 2>&1 || { cat "$WORK/update.log" >&2; die "apt-get update for $SUITE failed"; }

candidate=$(apt-cache policy criu | sed -n 's/^ *Candidate: *//p')
[[ $candidate == "$SERIES"* ]] || die "$SUITE offers criu '$candidate', wanted $SERIES*"

# Field "Depends"/"Pre-Depends" of one package, as bare names: alternatives keep their first choice,
# version constraints and architecture qualifiers are dropped.
deps_of() {
  apt-cache show --no-all-versions "$1" 2>/dev/null |
    sed -n 's/^\(Pre-\)\{0,1\}Depends: //p' | tr ',' '\n' |
    sed 's/|.*//; s/(.*)//; s/:any//; s/[[:space:]]//g' | grep -v '^$' || true
}

# Closure over shared-library packages only: criu's non-library Depends (iproute2, python…) are tools
# the system already provides or stasis does not use, and pulling them would drag sid's userland in.
declare -A seen=()
queue=(criu)
pkgs=()
while ((${#queue[@]})); do
  p=${queue[0]}
  queue=("${queue[@]:1}")
  [[ -n ${seen[$p]:-} ]] && continue
  seen[$p]=1
  # A virtual name has no candidate of its own: use the first real package that provides it.
  if ! apt-cache show --no-all-versions "$p" >/dev/null 2>&1; then
    real=$(apt-cache showpkg "$p" | sed -n '/^Reverse Provides:/{n;p;q}' | awk '{print $1}')
    [[ -n $real ]] || die "cannot resolve dependency '$p'"
    queue+=("$real")
    continue
  fi
  pkgs+=("$p")
  for d in $(deps_of "$p"); do
    case $d in lib* | zlib*) queue+=("$d") ;; esac
  done
done
log "downloading ${#pkgs[@]} packages: ${pkgs[*]}"

mkdir -p "$WORK/debs"
(cd "$WORK/debs" && apt-get download -qq "${pkgs[@]}" >"$WORK/download.log" 2>&1) ||
  { cat "$WORK/download.log" >&2; die "apt-get download failed"; }

mkdir -p "$STAGE"
for deb in "$WORK"/debs/*.deb; do dpkg-deb -x "$deb" "$STAGE"; done

# Locate sid's loader (a regular file; libc6's own lib64 link may be absolute and would point at the
# system's loader) and make the fixed path <prefix>/lib64/ld-linux-x86-64.so.2 a relative link to it.
loader=$(cd "$STAGE" && find . -name 'ld-linux-x86-64.so.2' -type f | sort | head -1)
[[ -n $loader ]] || die "libc6 from $SUITE did not contain ld-linux-x86-64.so.2"
mkdir -p "$STAGE/lib64"
rm -f "$STAGE/lib64/ld-linux-x86-64.so.2"
ln -s "../${loader#./}" "$STAGE/lib64/ld-linux-x86-64.so.2"
[[ -x $STAGE/usr/sbin/criu ]] || die "criu package did not contain usr/sbin/criu"

libpath_for() { # $1 = prefix root; directories that hold .so files, most specific first
  local r=$1 out="" d
  for d in usr/lib/x86_64-linux-gnu lib/x86_64-linux-gnu usr/lib lib; do
    [[ -d $STAGE/$d ]] && out+="${out:+:}$r/$d"
  done
  echo "$out"
}

write_wrapper() { # $1 = prefix root the wrapper will live in
  cat >"$STAGE/criu" <<EOF
#!/bin/sh
# Generated by stasis scripts/install-criu.sh: runs criu $candidate from Debian $SUITE with its own glibc,
# through its own loader, so the system libc is never mixed in.
exec "$1/lib64/ld-linux-x86-64.so.2" --library-path "$(libpath_for "$1")" "$1/usr/sbin/criu" "\$@"
EOF
  chmod 755 "$STAGE/criu"
}

# Every NEEDED library must resolve inside the prefix; a fallback to the system's /lib would mix two glibcs.
write_wrapper "$STAGE"
resolved=$("$STAGE/lib64/ld-linux-x86-64.so.2" --library-path "$(libpath_for "$STAGE")" --list "$STAGE/usr/sbin/criu")
if echo "$resolved" | grep -q 'not found'; then
  echo "$resolved" >&2
  die "some libraries of criu are missing from the prefix"
fi
outside=$(echo "$resolved" | awk '/=>/ {print $3}' | grep -v "^$STAGE/" || true)
[[ -z $outside ]] || die "libraries resolved outside the prefix: $outside"

# Swap the staged tree into place, then rewrite the wrapper for its final location.
mkdir -p "$(dirname "$PREFIX")"
rm -rf "$PREFIX.old"
[[ -e $PREFIX ]] && mv "$PREFIX" "$PREFIX.old"
mv "$STAGE" "$PREFIX"
STAGE=$PREFIX write_wrapper "$PREFIX"
rm -rf "$PREFIX.old"

version=$(installed_version)
[[ $version == "$SERIES"* ]] || die "installed criu reports version '$version', wanted $SERIES*"
log "criu $version installed at $PREFIX/criu in $(($(date +%s) - start))s (system criu and libc untouched)"
log "criu check says:"
"$PREFIX/criu" check 2>&1 | sed 's/^/  /' >&2 || true
echo "criu $version installed at $PREFIX/criu"
