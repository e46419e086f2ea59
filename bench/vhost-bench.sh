#!/usr/bin/env bash
# Side-by-side vhost-user-blk benchmark: `virtioscope serve` against `qemu-storage-daemon --export
# type=vhost-user-blk` on the same image, each serving a real Linux guest (QEMU q35 under TCG, Debian's virtio_blk)
# that runs bench/guest-reader.c: 15 s of 1 MiB sequential O_DIRECT reads, then 15 s of 4 KiB random reads with 8
# threads. Also reports each server's own CPU time per guest request (utime+stime from /proc, from the moment the
# server is listening to the guest's power-off), since under TCG the guest itself is the bottleneck.
#   bash bench/vhost-bench.sh [SIZE_MIB] [FORMAT]     (defaults: 256, qcow2)
# Run as root. Needs qemu-system-x86 (qemu-storage-daemon, qemu-system-x86_64), qemu-utils, linux-image-amd64,
# busybox-static, cpio, gcc. Not a test: the figures depend on the machine and its load.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-256}
format=${2:-qcow2}
for tool in qemu-img qemu-storage-daemon qemu-system-x86_64 gcc dotnet; do
  command -v "$tool" >/dev/null || { echo "vhost-bench: $tool is missing" >&2; exit 1; }
done
. bench/tool.sh
vs_bin=$(vs_tool)
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

gcc -O2 -static -pthread -o "$work/reader" bench/guest-reader.c
bash tools/make-vhost-guest.sh build "$work/guest" --reader "$work/reader" >/dev/null
echo "vhost-bench: making a ${size_mib} MiB fully allocated $format image (random data)" >&2
head -c "$((size_mib << 20))" /dev/urandom > "$work/src.raw"
qemu-img convert -f raw -O "$format" "$work/src.raw" "$work/image.$format"
rm "$work/src.raw"
ticks=$(getconf CLK_TCK)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run NAME: boots the guest against the server the caller started, prints one result line. The server's CPU time
# is sampled when the guest prints its sequential result, so each phase gets its own CPU per request.
run() {
  local name=$1 console="$work/$1.console" before mid after boot_pid
  for _ in $(seq 600); do [ -S "$work/vu.sock" ] && break; sleep 0.1; done
  [ -S "$work/vu.sock" ] || { echo "vhost-bench: $name never listened" >&2; exit 1; }
  sleep 1
  before=$(cpu_ticks "$server_pid")
  bash tools/make-vhost-guest.sh boot "$work/guest" "$work/vu.sock" "$console" --queues 2 --bench --timeout 300 &
  boot_pid=$!
  mid=
  while kill -0 "$boot_pid" 2>/dev/null; do
    if [ -z "$mid" ] && grep -q "VSBENCH seq" "$console" 2>/dev/null; then mid=$(cpu_ticks "$server_pid"); fi
    sleep 0.05
  done
  wait "$boot_pid" || { echo "vhost-bench: the $name guest failed; console:" >&2; cat "$console" >&2; exit 1; }
  after=$(cpu_ticks "$server_pid")
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
  rm -f "$work/vu.sock"
  awk -v name="$name" -v c1="$(( mid - before ))" -v c2="$(( after - mid ))" -v hz="$ticks" '
    /VSBENCH seq/ { split($3, o, "="); split($4, b, "="); split($5, s, "="); seqmb = b[2] / 1048576 / s[2]; seqops = o[2] }
    /VSBENCH rand/ { split($3, o, "="); split($5, s, "="); iops = o[2] / s[2]; randops = o[2] }
    END { printf "%-20s seq 1M: %7.1f MiB/s %6.1f us CPU/request | rand 4K x8: %6.0f IOPS %5.1f us CPU/request\n",
          name, seqmb, c1 / hz * 1e6 / seqops, iops, c2 / hz * 1e6 / randops }' "$console" | tee "$work/$name.result"
}

# Page cache warm for both: each server reads the same file.
cat "$work/image.$format" > /dev/null
"$vs_bin" serve --vhost-user-blk "$work/vu.sock" --num-queues 2 \
  "$work/image.$format" 2>"$work/vs.log" &
server_pid=$!
run virtioscope
qemu-storage-daemon --blockdev "driver=file,node-name=file,filename=$work/image.$format,cache.direct=off" \
  --blockdev "driver=$format,node-name=disk,file=file" \
  --export "type=vhost-user-blk,id=exp,node-name=disk,addr.type=unix,addr.path=$work/vu.sock,writable=on,num-queues=2" \
  2>"$work/qsd.log" &
server_pid=$!
run qemu-storage-daemon
awk '{ s[NR] = $4; sc[NR] = $6; r[NR] = $13; rc[NR] = $15 }
  END { printf "ratio virtioscope/qsd: seq %.2fx (CPU/request %.2fx), rand %.2fx (CPU/request %.2fx); CPU: lower is better\n", s[1] / s[2], sc[1] / sc[2], r[1] / r[2], rc[1] / rc[2] }' \
  "$work/virtioscope.result" "$work/qemu-storage-daemon.result"
