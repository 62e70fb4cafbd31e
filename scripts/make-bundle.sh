#!/usr/bin/env bash
# Makes an OCI bundle whose rootfs is Debian's busybox-static: make-bundle.sh DIR [ARG...]
# The process defaults to `sh`; extra arguments replace it. terminal is off so the bundle runs unattended.
set -euo pipefail
dir=${1:?usage: make-bundle.sh DIR [ARG...]}
shift
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "make-bundle: $busybox missing: apt-get install busybox-static" >&2; exit 1; }
file -L "$busybox" 2>/dev/null | grep -q 'statically linked' || true
root="$dir/rootfs"
mkdir -p "$root"/{bin,dev,etc,proc,sys,tmp,root,run,var/tmp}
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
mkdir -p "$root/usr" && ln -sfn ../bin "$root/usr/bin" && ln -sfn ../bin "$root/sbin" && ln -sfn ../bin "$root/usr/sbin"
chmod 1777 "$root/tmp" "$root/var/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
echo stasis >"$root/etc/hostname"
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/bin/stasis" spec --bundle "$dir"
node -e '
  const fs = require("fs");
  const file = process.argv[1] + "/config.json";
  const spec = JSON.parse(fs.readFileSync(file, "utf8"));
  const args = process.argv.slice(2);
  spec.process.terminal = false;
  spec.root.readonly = false; // demos and tests write into their rootfs
  if (args.length) spec.process.args = args;
  fs.writeFileSync(file, JSON.stringify(spec, null, 2));
' "$dir" "$@"
