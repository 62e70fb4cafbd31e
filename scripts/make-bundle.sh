#!/usr/bin/env bash
# Makes an OCI bundle whose rootfs is Debian's busybox-static: make-bundle.sh DIR [ARG...]
# The process defaults to `sh`; extra arguments replace it. terminal is off so the bundle runs unattended.
set -euo pipefail
dir=${1:?usage: make-bundle.sh DIR [ARG...]}
shift
root="$dir/rootfs"
bash "$(dirname "$0")/make-rootfs.sh" "$root"
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
