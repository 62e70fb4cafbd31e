#!/usr/bin/env bash
# Makes a root filesystem from Debian's busybox-static: make-rootfs.sh DIR
# The busybox binary, one symlink per applet, the usual top-level directories, /etc/passwd and /etc/group with
# root, a `tester` user (uid 1000, so --user can be tested by name) and nobody. Used by make-bundle.sh (demo,
# tests) and the engine images.
set -euo pipefail
root=${1:?usage: make-rootfs.sh DIR}
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "make-rootfs: $busybox missing: apt-get install busybox-static" >&2; exit 1; }
mkdir -p "$root"/{bin,dev,etc,proc,sys,tmp,root,run,var/tmp}
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
mkdir -p "$root/usr" && ln -sfn ../bin "$root/usr/bin" && ln -sfn ../bin "$root/sbin" && ln -sfn ../bin "$root/usr/sbin"
chmod 1777 "$root/tmp" "$root/var/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\ntester:x:1000:1000:tester:/tmp:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\ntester:x:1000:\nnogroup:x:65534:\n' >"$root/etc/group"
