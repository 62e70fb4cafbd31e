#!/usr/bin/env bash
# Build the OCI runtime-tools validation suite (validation/*/*.t and
# runtimetest) from Debian's source package, entirely inside a cache dir.
#
# Usage: build-runtime-tools.sh [--force]
#   STASIS_CONFORMANCE_CACHE  cache root (default /var/cache/stasis-conformance)
#   RUNTIME_TOOLS_VERSION     Debian source version to build (default: the
#                             first version in `apt-cache showsrc` whose files
#                             the mirror still serves)
#
# Output: $CACHE/suite/ with runtimetest, rootfs-amd64.tar.gz and
# validation/<name>.t — the layout the suite expects when run from its cwd.
# Idempotent: a stamp records what was built; rerunning is a no-op unless
# the inputs change or --force is given. Needs root (apt-get).
set -euo pipefail

PKG=golang-github-opencontainers-runtime-tools
IMPORT_PATH=github.com/opencontainers/runtime-tools
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${STASIS_CONFORMANCE_CACHE:-/var/cache/stasis-conformance}
SRC_DIR=$CACHE/src          # downloaded Debian source files
TREE=$CACHE/gopath          # GOPATH whose src/ holds runtime-tools + tap shim
SUITE=$CACHE/suite          # built binaries and rootfs
SRC_LIST=/etc/apt/sources.list.d/stasis-conformance-src.sources

# Go library packages the validation suite and runtimetest import. Explicit
# rather than `apt-get build-dep`: the source package excludes cmd/ and
# validation/ from its own build, so its Build-Depends miss google-uuid and
# fileutils and pull in debhelper tooling we do not need.
GO_DEPS=(
  golang-go
  golang-github-blang-semver-dev
  golang-github-google-uuid-dev
  golang-github-hashicorp-go-multierror-dev
  golang-github-mrunalp-fileutils-dev
  golang-github-opencontainers-selinux-dev
  golang-github-opencontainers-specs-dev
  golang-github-sirupsen-logrus-dev
  golang-github-stretchr-testify-dev
  golang-github-urfave-cli-dev
  golang-github-xeipuuv-gojsonschema-dev
  golang-gocapability-dev
  golang-golang-x-sys-dev
)
TOOL_DEPS=(busybox-static dpkg-dev xz-utils patch)

log() { echo "build-runtime-tools: $*" >&2; }
die() { log "$*"; exit 1; }

FORCE=0
[[ ${1:-} == --force ]] && FORCE=1
[[ $(id -u) == 0 ]] || die "must run as root (apt-get, cache under /var/cache)"

# --- packages -------------------------------------------------------------
missing_pkgs() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done
}

ensure_packages() {
  local need
  need=$(missing_pkgs "${GO_DEPS[@]}" "${TOOL_DEPS[@]}")
  [[ -z $need ]] && return 0
  log "installing: $(echo $need)"
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
}

# deb-src lines are only ever consulted for source downloads, so adding
# trixie here changes no binary package priority. trixie is listed because
# the mirror may no longer serve the bookworm version's tarballs.
ensure_deb_src() {
  if [[ -n $(apt-cache showsrc "$PKG" 2>/dev/null | grep '^Version:') ]]; then
    return 0
  fi
  log "enabling deb-src in $SRC_LIST"
  cat >"$SRC_LIST" <<'EOF'
# added by stasis scripts/conformance/build-runtime-tools.sh
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  apt-get update -qq
}

# --- source ---------------------------------------------------------------
candidate_versions() {
  if [[ -n ${RUNTIME_TOOLS_VERSION:-} ]]; then
    echo "$RUNTIME_TOOLS_VERSION"
  else
    apt-cache showsrc "$PKG" | sed -n 's/^Version: //p' | awk '!seen[$0]++'
  fi
}

# Unpack version $1 into $2. apt-get source verifies every file against the
# signed Sources index; when the mirror lacks the .dsc (so dpkg-source cannot
# run) but served the verified tarballs, unpack those and apply the quilt
# series ourselves.
unpack_version() {
  local ver=$1 dest=$2 upstream orig deb_tar
  upstream=${ver%-*}
  (cd "$SRC_DIR" && apt-get source -qq "$PKG=$ver" >/dev/null 2>&1) || true
  if [[ -d $SRC_DIR/$PKG-$upstream/validation ]]; then
    rm -rf "$dest"; mv "$SRC_DIR/$PKG-$upstream" "$dest"; return 0
  fi
  orig=$(ls "$SRC_DIR/${PKG}_${upstream}".orig.tar.* 2>/dev/null | grep -v '\.asc$' | head -1 || true)
  deb_tar=$(ls "$SRC_DIR/${PKG}_${ver}".debian.tar.* 2>/dev/null | head -1 || true)
  [[ -n $orig ]] || return 1
  log "no usable .dsc for $ver; unpacking $(basename "$orig") by hand"
  rm -rf "$dest" "$dest.tmp"; mkdir -p "$dest.tmp"
  tar -xf "$orig" -C "$dest.tmp" --strip-components=1
  if [[ -n $deb_tar ]]; then
    tar -xf "$deb_tar" -C "$dest.tmp"
    if [[ -f $dest.tmp/debian/patches/series ]]; then
      local p
      while read -r p _; do
        [[ -z $p || $p == \#* ]] && continue
        patch -s -d "$dest.tmp" -p1 <"$dest.tmp/debian/patches/$p"
      done <"$dest.tmp/debian/patches/series"
    fi
  fi
  mv "$dest.tmp" "$dest"
}

fetch_source() {
  local dest=$TREE/src/$IMPORT_PATH ver
  mkdir -p "$SRC_DIR" "$(dirname "$dest")"
  if [[ -f $CACHE/source-version && -d $dest/validation ]]; then
    cat "$CACHE/source-version"; return 0
  fi
  for ver in $(candidate_versions); do
    log "fetching $PKG $ver"
    if unpack_version "$ver" "$dest"; then
      echo "$ver" >"$CACHE/source-version"
      echo "$ver"; return 0
    fi
    log "mirror does not serve $PKG $ver"
  done
  die "no version of $PKG could be downloaded (is deb-src enabled?)"
}

# --- rootfs ---------------------------------------------------------------
# The suite untars rootfs-<GOARCH>.tar.gz from its cwd into each bundle. We
# build it from Debian's static busybox instead of the prebuilt tarball in
# the upstream source, so every byte comes from a Debian package.
build_rootfs() {
  local out=$1 root
  root=$(mktemp -d)
  # The archive's "./" entry sets the mode of each bundle dir, which becomes
  # the container's "/": it must be traversable by non-root test users.
  chmod 755 "$root"
  mkdir -p "$root"/{bin,dev,etc,proc,sys,tmp,root}
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  local applet
  for applet in $(/bin/busybox --list); do
    [[ $applet == busybox ]] || ln -sf busybox "$root/bin/$applet"
  done
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'daemon:x:1:1:daemon:/:/bin/false' \
    'nobody:x:65534:65534:nobody:/:/bin/false' >"$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'daemon:x:1:' 'nogroup:x:65534:' >"$root/etc/group"
  tar --numeric-owner --owner=0 --group=0 -czf "$out" -C "$root" .
  rm -rf "$root"
}

# --- build ----------------------------------------------------------------
build_suite() {
  local src=$TREE/src/$IMPORT_PATH tmp=$SUITE.tmp dir name
  rm -rf "$tmp"; mkdir -p "$tmp/validation"
  # GOPATH mode: go.mod is ignored and imports resolve to the unpacked
  # source first, then to Debian's /usr/share/gocode/src.
  export GOPATH=$TREE:/usr/share/gocode GO111MODULE=off GOFLAGS=
  export GOCACHE=$CACHE/gocache CGO_ENABLED=0
  cd "$src"
  log "building runtimetest (static)"
  go build -tags 'netgo osusergo' -o "$tmp/runtimetest" ./cmd/runtimetest
  # Each validation/<name>/ is one main package; util/ is the shared library.
  for dir in validation/*/; do
    name=$(basename "$dir")
    [[ $name == util ]] && continue
    go build -ldflags "-s -w" -o "$tmp/validation/$name.t" "./$dir"
  done
  build_rootfs "$tmp/rootfs-$(go env GOARCH).tar.gz"
  rm -rf "$SUITE"; mv "$tmp" "$SUITE"
}

main() {
  local start=$SECONDS ver stamp
  ensure_packages
  ensure_deb_src
  ver=$(fetch_source)
  # Rebuild when the source version, the shim, this script or busybox change.
  stamp="$ver $(cat "$HERE/tap-shim/tap.go" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16) $(dpkg-query -W -f='${Version}' busybox-static)"
  if [[ $FORCE == 0 && -f $SUITE/STAMP && $(cat "$SUITE/STAMP") == "$stamp" ]]; then
    log "up to date ($SUITE, $PKG $ver)"
    return 0
  fi
  mkdir -p "$TREE/src/github.com/mndrix/tap-go"
  cp "$HERE/tap-shim/tap.go" "$TREE/src/github.com/mndrix/tap-go/tap.go"
  build_suite
  echo "$stamp" >"$SUITE/STAMP"
  log "built $(ls "$SUITE/validation" | wc -l) validation tests from $PKG $ver into $SUITE in $((SECONDS - start))s"
}

main "$@"
