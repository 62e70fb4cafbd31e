#!/usr/bin/env bash
# Builds the busybox image the engine tests import, in two shapes: make-images.sh OUTDIR
#   OUTDIR/rootfs.tar   a plain rootfs tarball, for `podman import`
#   OUTDIR/oci.tar      an OCI image layout archive (oci-layout, index.json, blobs/sha256/...), for `ctr images import`
# There is no registry here, so the image is made from Debian's busybox-static the same way scripts/make-bundle.sh
# makes a bundle rootfs. Output is deterministic (fixed mtimes, sorted names) so digests are stable between runs.
set -euo pipefail
out=${1:?usage: make-images.sh OUTDIR}
mkdir -p "$out"
work=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
bash "$(dirname "$0")/../make-rootfs.sh" "$root"
mkdir -p "$root/www"
# A page for the port-publish test: the host fetches it through the published port.
echo 'hello from busybox httpd' >"$root/www/index.html"

# GNU tar flags that make the archive reproducible.
repro=(--sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime)
tar -C "$root" "${repro[@]}" -cf "$work/layer.tar" .
cp "$work/layer.tar" "$out/rootfs.tar"

# OCI layout: one uncompressed layer, a config whose diff_id is the layer digest, a manifest, an index whose
# annotation gives the image its name (ctr uses org.opencontainers.image.ref.name with --base-name / --index-name).
oci="$work/oci"
mkdir -p "$oci/blobs/sha256"
blob() { # blob FILE -> prints "digest size" and stores the file under blobs/sha256
  local d s
  d=$(sha256sum "$1" | cut -d' ' -f1)
  s=$(stat -c %s "$1")
  cp "$1" "$oci/blobs/sha256/$d"
  echo "$d $s"
}
read -r layer_digest layer_size < <(blob "$work/layer.tar")
cat >"$work/config.json" <<JSON
{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Cmd":["sh"],"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:$layer_digest"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"scripts/engines/make-images.sh"}]}
JSON
read -r config_digest config_size < <(blob "$work/config.json")
cat >"$work/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:$config_digest","size":$config_size},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:$layer_digest","size":$layer_size}]}
JSON
read -r manifest_digest manifest_size < <(blob "$work/manifest.json")
cat >"$oci/index.json" <<JSON
{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:$manifest_digest","size":$manifest_size,"annotations":{"org.opencontainers.image.ref.name":"localhost/busybox:latest","io.containerd.image.name":"localhost/busybox:latest"},"platform":{"architecture":"amd64","os":"linux"}}]}
JSON
echo '{"imageLayoutVersion":"1.0.0"}' >"$oci/oci-layout"
tar -C "$oci" "${repro[@]}" -cf "$out/oci.tar" oci-layout index.json blobs
echo "make-images: $out/rootfs.tar $out/oci.tar (layer sha256:$layer_digest)"
