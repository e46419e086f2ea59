#!/usr/bin/env bash
# Regenerates sample-images/demo.qcow2 with VirtioScope's own image commands: a 32 MiB disk with an MBR partition
# table and one FAT16 partition holding a few files. Needs dosfstools, mtools and fdisk (tools/test.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
vs() { dotnet run --project src/VirtioScope.Cli -c Release -- "$@"; }

vs create -f raw "$work/demo.raw" 32M >/dev/null
# One primary partition from 1 MiB to the end, type 0x0e (FAT16 LBA), bootable.
printf 'label: dos\nlabel-id: 0x56534350\nstart=2048, type=e, bootable\n' | sfdisk --quiet "$work/demo.raw"
# --invariant keeps the volume id and timestamps fixed, so the image is reproducible.
mkfs.fat --invariant -F 16 -n VIRTIOSCOPE --offset 2048 "$work/demo.raw" $(( (32 * 1024 - 1024) )) >/dev/null

mkdir -p "$work/files/docs"
cat > "$work/files/README.TXT" <<'TXT'
This FAT partition lives in sample-images/demo.qcow2, made by tools/make-sample-image.sh.
Serve it to the sandboxed guest with `virtioscope run`, inspect it with `virtioscope debug`,
or mount it with `virtioscope mount`.
TXT
seq 1 2000 | sed 's/^/line /' > "$work/files/docs/NUMBERS.TXT"
printf 'virtio-blk request header: le32 type, le32 reserved, le64 sector\n' > "$work/files/docs/VIRTIO.TXT"
head -c 200000 /dev/zero | tr '\0' 'V' > "$work/files/BIG.BIN"
find "$work/files" -exec touch -d '2026-01-01 00:00:00 UTC' {} +
MTOOLS_SKIP_CHECK=1 mcopy -s -m -i "$work/demo.raw@@1M" "$work/files/README.TXT" "$work/files/BIG.BIN" "$work/files/docs" ::/

mkdir -p sample-images
vs convert -f raw -O qcow2 -c "$work/demo.raw" sample-images/demo.qcow2
vs check sample-images/demo.qcow2
echo "wrote sample-images/demo.qcow2"
