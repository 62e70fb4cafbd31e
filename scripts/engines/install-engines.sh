#!/usr/bin/env bash
# Installs Podman and containerd from Debian bookworm for the engine integration tests (test/engines/).
# Idempotent: packages already present are left alone. Needs root.
#
# Nothing is configured globally on purpose: the tests give each engine its own root, run root, socket and
# config file in a temp dir, so installing these packages must not change how the machine behaves for anyone
# else. The one thing we guard against is a package starting a daemon: with no systemd as PID 1 the units
# shipped by containerd/podman are inert, and we check that no containerd we did not start appears.
set -euo pipefail

[ "$(id -u)" -eq 0 ] || { echo "install-engines: needs root" >&2; exit 1; }

# podman pulls conmon, golang-github-containers-common and crun|runc; the rest are what a rootful
# `podman run` with networking needs here: netavark + aardvark-dns (podman 4 default network backend),
# the CNI plugins as the fallback backend, slirp4netns and uidmap for rootless-style setups, iptables for
# port publishing, and containerd (which brings its own ctr client and the runc shim v2).
packages=(
  podman conmon crun runc golang-github-containers-common
  netavark aardvark-dns containernetworking-plugins
  slirp4netns uidmap iptables
  containerd
  busybox-static
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-engines: all packages already installed"
else
  had_containerd=$(pgrep -x containerd || true)
  echo "install-engines: installing ${missing[*]}"
  apt-get update -qq
  # --no-install-recommends keeps docker-ish extras (e.g. buildah, fuse tooling) out; what we need is listed.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  now_containerd=$(pgrep -x containerd || true)
  if [ -n "$now_containerd" ] && [ "$now_containerd" != "$had_containerd" ]; then
    echo "install-engines: warning: the containerd package started a daemon (pid $now_containerd); the tests do not use it" >&2
  fi
fi

for tool in podman conmon containerd ctr containerd-shim-runc-v2 runc; do
  command -v "$tool" >/dev/null || { echo "install-engines: $tool missing after install" >&2; exit 1; }
done
# netavark is not on PATH: podman looks for it in its helper_binaries_dir.
[ -x /usr/lib/podman/netavark ] || { echo "install-engines: /usr/lib/podman/netavark missing after install" >&2; exit 1; }
printf 'install-engines: podman %s, containerd %s, conmon %s\n' \
  "$(podman --version | awk '{print $3}')" \
  "$(containerd --version | awk '{print $3}')" \
  "$(conmon --version | awk 'NR==1{print $3}')"
