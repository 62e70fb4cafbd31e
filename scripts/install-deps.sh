#!/usr/bin/env bash
# Installs what stasis needs to build, test and run its demo on Debian 12 (root). Idempotent and quiet
# when everything is already there. CRIU is separate (scripts/install-criu.sh): bookworm's is too old.
set -euo pipefail
packages=(build-essential python3 pkg-config libseccomp-dev libssl-dev busybox-static iptables iproute2 procps zstd)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
