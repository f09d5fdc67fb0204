#!/bin/bash
# oci_image.sh OUT.tar NAME: an OCI image layout tarball with busybox-static as /bin/busybox
# and its applets as hard links (mode 0755), for engines to import offline.
set -euo pipefail
out=$1 name=$2
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
bb=$(command -v busybox)
mkdir -p "$w/root/bin" "$w/root/etc" "$w/root/tmp" "$w/root/proc" "$w/root/sys" "$w/root/dev" "$w/oci/blobs/sha256"
install -m 0755 "$bb" "$w/root/bin/busybox"
for a in $("$bb" --list); do
  [ "$a" = busybox ] || ln "$w/root/bin/busybox" "$w/root/bin/$a"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$w/root/etc/passwd"
echo 'root:x:0:' > "$w/root/etc/group"
chmod 1777 "$w/root/tmp"
tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$w/root" -cf "$w/layer.tar" .
blob() { local d; d=$(sha256sum "$1" | cut -d' ' -f1); mv "$1" "$w/oci/blobs/sha256/$d"; echo "$d"; }
ld=$(blob "$w/layer.tar"); ls=$(stat -c %s "$w/oci/blobs/sha256/$ld")
printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$ld" > "$w/config.json"
cd2=$(blob "$w/config.json"); cs=$(stat -c %s "$w/oci/blobs/sha256/$cd2")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' "$cd2" "$cs" "$ld" "$ls" > "$w/manifest.json"
md=$(blob "$w/manifest.json"); ms=$(stat -c %s "$w/oci/blobs/sha256/$md")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' "$md" "$ms" "$name" "${name##*:}" > "$w/oci/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$w/oci/oci-layout"
tar --numeric-owner --owner=0 --group=0 -C "$w/oci" -cf "$out" oci-layout index.json blobs
