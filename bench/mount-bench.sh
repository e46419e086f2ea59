#!/usr/bin/env bash
# Side-by-side read benchmark of `virtioscope mount` against qcowmount (libqcow-utils) and qemu-storage-daemon's FUSE
# export (qemu-system-common) on one 1 GiB fully allocated qcow2 image. Run as root (or a user allowed to mount FUSE):
#   bash bench/mount-bench.sh [SIZE_MIB]      (default 1024)
# Prints one line per measurement. Not a test: figures depend on the machine and its load.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
for tool in qemu-img qcowmount qemu-storage-daemon fio fusermount3 dotnet; do
  command -v "$tool" >/dev/null || { echo "mount-bench: $tool is missing (apt-get install qemu-utils libqcow-utils qemu-system-common fio fuse3)" >&2; exit 1; }
done
. bench/tool.sh
vs_bin=$(vs_tool)
vs() { "$vs_bin" "$@"; }

work=$(mktemp -d)
qsd_pid=
cleanup() {
  for m in "$work/vs" "$work/qcow" "$work/qsd.raw"; do
    mountpoint -q "$m" 2>/dev/null && { fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; }
  done
  [ -n "$qsd_pid" ] && kill "$qsd_pid" 2>/dev/null && wait "$qsd_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/vs" "$work/qcow"

echo "mount-bench: making a ${size_mib} MiB fully allocated qcow2 (random data)" >&2
head -c "$((size_mib << 20))" /dev/urandom > "$work/src.raw"
qemu-img convert -f raw -O qcow2 "$work/src.raw" "$work/image.qcow2"
rm "$work/src.raw"
cat "$work/image.qcow2" > /dev/null # the image file itself warm in the host page cache for every contender

seq_read() { # $1 name, $2 file: dd bs=1M of the whole file, MB/s from dd's own figure
  local out
  out=$(dd if="$2" of=/dev/null bs=1M 2>&1 | tail -1)
  echo "seq-read  $1: $out"
}
rand_read() { # $1 name, $2 file: fio 4 KiB random reads, psync, 2 jobs, O_DIRECT (no page cache), 15 s
  local iops
  iops=$(fio --name=rr --filename="$2" --rw=randread --bs=4k --ioengine=psync --numjobs=2 --direct=1 \
    --time_based --runtime=15 --group_reporting --readonly --output-format=terse | awk -F';' '{print $8}')
  echo "rand-read $1: ${iops} IOPS (4 KiB, psync, 2 jobs, direct)"
}

vs mount "$work/image.qcow2" "$work/vs"
seq_read "virtioscope mount     " "$work/vs/disk"
rand_read "virtioscope mount     " "$work/vs/disk"
vs unmount "$work/vs"

qcowmount "$work/image.qcow2" "$work/qcow" >/dev/null
seq_read "qcowmount             " "$work/qcow/qcow1"
rand_read "qcowmount             " "$work/qcow/qcow1"
fusermount3 -u "$work/qcow"

touch "$work/qsd.raw"
qemu-storage-daemon --blockdev "driver=file,node-name=file,filename=$work/image.qcow2,read-only=on" \
  --blockdev driver=qcow2,node-name=disk,file=file,read-only=on \
  --export "type=fuse,id=exp,node-name=disk,mountpoint=$work/qsd.raw,writable=off" &
qsd_pid=$!
for _ in $(seq 1 100); do mountpoint -q "$work/qsd.raw" && break; sleep 0.1; done
mountpoint -q "$work/qsd.raw" || { echo "mount-bench: qemu-storage-daemon did not export" >&2; exit 1; }
seq_read "qemu-storage-daemon   " "$work/qsd.raw"
rand_read "qemu-storage-daemon   " "$work/qsd.raw"
