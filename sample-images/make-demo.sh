#!/usr/bin/env bash
# Regenerates sample-images/demo.qcow2: a 32 MiB disk with an MBR partition table and one FAT16 partition
# holding a few files, written into qcow2 (zstd-compressed) by VirtioScope's own create and convert.
# Needs: dotnet, sfdisk (fdisk), mkfs.fat (dosfstools), mcopy (mtools).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vs=${VIRTIOSCOPE:-}
if [[ -z "$vs" ]]; then
  dotnet build -c Release "$here/../src/VirtioScope.Cli" -o "$here/.bin" >/dev/null
  vs="$here/.bin/virtioscope"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
raw="$tmp/disk.raw"
"$vs" create -q -f raw "$raw" 32M
# One primary FAT16 (LBA) partition from 1 MiB to the end.
printf 'label: dos\nlabel-id: 0x5653636f\nstart=2048, type=e, bootable\n' | sfdisk --no-reread --no-tell-kernel -q "$raw"
sectors=$(( (32 * 1024 * 1024 / 512) - 2048 ))
mkfs.fat -F 16 -n VSCOPE --offset 2048 -i 5653636f "$raw" $((sectors / 2)) >/dev/null
img="$raw@@1M"
printf 'Hello from VirtioScope.\nThis disk was built by sample-images/make-demo.sh.\n' > "$tmp/README.TXT"
printf '[virtioscope]\nqueue_size = 256\nnum_queues = 1\n' > "$tmp/CONFIG.INI"
seq 1 2000 | sed 's/^/sector /' > "$tmp/NUMBERS.TXT"
mmd -i "$img" ::/DOCS
mcopy -i "$img" "$tmp/README.TXT" ::/README.TXT
mcopy -i "$img" "$tmp/CONFIG.INI" ::/CONFIG.INI
mcopy -i "$img" "$tmp/NUMBERS.TXT" ::/DOCS/NUMBERS.TXT
rm -f "$here/demo.qcow2"
"$vs" convert -c -O qcow2 -o compression_type=zstd,cluster_size=64k "$raw" "$here/demo.qcow2"
"$vs" check "$here/demo.qcow2"
"$vs" info "$here/demo.qcow2"
