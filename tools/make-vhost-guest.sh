#!/usr/bin/env bash
# Builds and boots the real Linux guest of the vhost-user-blk tests (see docs in README "serve").
#
#   tools/make-vhost-guest.sh build OUTDIR [--reader BIN]
#       Writes OUTDIR/initramfs.cpio.gz (busybox + Debian's virtio_pci/virtio_blk modules + a test /init),
#       OUTDIR/pattern.bin (256 KiB the guest writes at 1 MiB, and again at 2 MiB after a reboot) and
#       OUTDIR/marker.bin (the 4 KiB block the guest writes to the disk's last block before rebooting).
#       --reader adds bench/guest-reader.c's static binary as /reader for boot --bench.
#   tools/make-vhost-guest.sh boot OUTDIR SOCKET CONSOLE_LOG [--reboot] [--queues N] [--packed] [--stress] [--reconnect] [--bench] [--timeout S]
#       Boots qemu-system-x86_64 -M q35 under TCG with memfd-backed shared memory and a vhost-user-blk-pci device
#       on SOCKET. The console goes to CONSOLE_LOG. A boot that never reaches /init within the timeout (TCG can stall
#       calibrating the TSC) is retried once; exit 0 when the guest printed "VSTEST DONE". --stress: the guest only
#       writes the pattern 160 times (fsync each) over 1..3 MiB, then reads the 8 copies back. --reconnect: QEMU
#       reconnects to SOCKET when the back-end goes away (for killing and restarting the server). --bench: the guest
#       runs /reader (15 s of 1 MiB sequential reads, 15 s of 4 KiB random reads with 8 threads) and powers off.
#
# What the guest does, printing "VSTEST ..." lines: md5 of the whole disk; writes pattern.bin at 1 MiB with O_DIRECT
# and fsync (a FLUSH); reads it back; discards 4 MiB..5 MiB (blkdiscard) and prints that range's md5; with --reboot it
# writes the marker, reboots, and after the reboot reads the pattern again and writes it at 2 MiB; then powers off.
# Needs: qemu-system-x86 linux-image-amd64 busybox-static cpio.
set -euo pipefail

kernel_version() {
  # The newest kernel that has both its image in /boot and the virtio_blk module (a running kernel's /lib/modules
  # directory may exist without either).
  local v
  for v in $(ls /lib/modules 2>/dev/null | sort -Vr); do
    if [ -f "/boot/vmlinuz-$v" ] && [ -f "/lib/modules/$v/kernel/drivers/block/virtio_blk.ko" ]; then
      echo "$v"
      return
    fi
  done
  echo "make-vhost-guest: no kernel with virtio_blk.ko in /boot and /lib/modules (install linux-image-amd64)" >&2
  exit 1
}

build() {
  local out=$1 reader=${2:-} kv root
  kv=$(kernel_version)
  command -v busybox >/dev/null || { echo "make-vhost-guest: busybox not found (install busybox-static)" >&2; exit 1; }
  mkdir -p "$out"
  root=$(mktemp -d)
  trap 'rm -rf "$root"' RETURN
  mkdir -p "$root"/{bin,dev,proc,sys,lib/modules}
  cp "$(command -v busybox)" "$root/bin/busybox"
  for m in virtio/virtio_ring virtio/virtio virtio/virtio_pci_legacy_dev virtio/virtio_pci_modern_dev virtio/virtio_pci block/virtio_blk; do
    cp "/lib/modules/$kv/kernel/drivers/$m.ko" "$root/lib/modules/"
  done
  # Deterministic test data: the test reads the same files to check the image afterwards.
  python3 -c "import random,sys; r=random.Random(9); sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range(262144)))" > "$out/pattern.bin"
  { printf 'VSTEST-BOOT1'; head -c 4084 /dev/zero; } > "$out/marker.bin"
  cp "$out/pattern.bin" "$out/marker.bin" "$root/"
  [ -z "$reader" ] || cp "$reader" "$root/reader"
  cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "VSTEST START"
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do
  insmod /lib/modules/$m.ko || echo "VSTEST FAIL insmod $m"
done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
if [ ! -b /dev/vda ]; then echo "VSTEST FAIL no /dev/vda"; poweroff -f; fi
size=$(blockdev --getsize64 /dev/vda)
echo "VSTEST SIZE $size"
echo "VSTEST QUEUES $(ls /sys/block/vda/mq | wc -l)"
last=$((size / 4096 - 1))
want=$(md5sum < /pattern.bin | cut -d' ' -f1)
blocks=$(( $(wc -c < /pattern.bin) / 65536 ))
readback() { # $1: offset in 64 KiB blocks
  got=$(dd if=/dev/vda bs=65536 skip=$1 count=$blocks iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
  if [ "$got" = "$want" ]; then echo "VSTEST READBACK $1 OK"; else echo "VSTEST READBACK $1 BAD $got"; fi
}
if grep -q vstest.bench=1 /proc/cmdline && [ -x /reader ]; then
  /reader seq /dev/vda 15
  /reader rand /dev/vda 15 8
  echo "VSTEST DONE"
  poweroff -f
fi
if grep -q vstest.stress=1 /proc/cmdline; then
  # Many small durable writes, for killing the server in the middle: 8 copies of the pattern from 1 MiB to 3 MiB.
  echo "VSTEST STRESS"
  i=0
  while [ $i -lt 160 ]; do
    dd if=/pattern.bin of=/dev/vda bs=65536 seek=$((16 + (i % 8) * 4)) oflag=direct conv=fsync 2>/dev/null || echo "VSTEST WRITE-ERROR $i"
    i=$((i+1))
  done
  for k in 0 1 2 3 4 5 6 7; do readback $((16 + k * 4)); done
  echo "VSTEST DONE"
  poweroff -f
fi
mark=$(dd if=/dev/vda bs=4096 skip=$last count=1 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
if [ "$mark" = "$(md5sum < /marker.bin | cut -d' ' -f1)" ]; then
  echo "VSTEST PHASE2"
  readback 16
  dd if=/pattern.bin of=/dev/vda bs=65536 seek=32 oflag=direct conv=fsync 2>/dev/null && echo "VSTEST WROTE 32"
  readback 32
  sync
  echo "VSTEST DONE"
  poweroff -f
fi
echo "VSTEST MD5 $(md5sum < /dev/vda | cut -d' ' -f1)"
dd if=/pattern.bin of=/dev/vda bs=65536 seek=16 oflag=direct conv=fsync 2>/dev/null && echo "VSTEST WROTE 16"
readback 16
if [ "$(cat /sys/block/vda/queue/discard_max_bytes)" != "0" ]; then
  blkdiscard -o 4194304 -l 1048576 /dev/vda && echo "VSTEST DISCARDED"
  echo "VSTEST DISCARD-MD5 $(dd if=/dev/vda bs=65536 skip=64 count=16 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)"
fi
sync
if grep -q vstest.reboot=1 /proc/cmdline; then
  dd if=/marker.bin of=/dev/vda bs=4096 seek=$last oflag=direct conv=fsync 2>/dev/null && echo "VSTEST REBOOT"
  reboot -f
fi
echo "VSTEST DONE"
poweroff -f
INIT
  chmod +x "$root/init"
  (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out/initramfs.cpio.gz"
  echo "$out/initramfs.cpio.gz"
}

boot() {
  local out=$1 socket=$2 log=$3
  shift 3
  local reboot=0 queues=1 packed=off timeout=150 stress=0 reconnect= bench=0
  while [ $# -gt 0 ]; do
    case $1 in
      --reboot) reboot=1 ;;
      --queues) queues=$2; shift ;;
      --packed) packed=on ;;
      --stress) stress=1 ;;
      --bench) bench=1 ;;
      --reconnect) reconnect=",reconnect=1" ;;
      --timeout) timeout=$2; shift ;;
      *) echo "make-vhost-guest: unknown boot option $1" >&2; exit 2 ;;
    esac
    shift
  done
  local kv khz
  kv=$(kernel_version)
  # Without a TSC frequency the kernel can spend minutes calibrating against the PIT under TCG.
  khz=$(awk -F: '/^cpu MHz/ {printf "%d", $2 * 1000; exit}' /proc/cpuinfo)
  khz=${khz:-2000000}
  local args=(-M q35 -accel tcg -smp 2 -m 512M
    -object memory-backend-memfd,id=mem,size=512M,share=on -numa node,memdev=mem
    -nodefaults -no-user-config -display none -monitor none -serial "file:$log"
    -kernel "/boot/vmlinuz-$kv" -initrd "$out/initramfs.cpio.gz"
    -append "console=ttyS0 panic=-1 tsc_early_khz=$khz vstest.reboot=$reboot vstest.stress=$stress vstest.bench=$bench"
    -chardev "socket,id=vu,path=$socket$reconnect" -device "vhost-user-blk-pci,chardev=vu,num-queues=$queues,packed=$packed")
  [ "$reboot" = 1 ] || args+=(-no-reboot)
  for attempt in 1 2; do
    : > "$log"
    local status=0
    timeout --kill-after=5 "$timeout" qemu-system-x86_64 "${args[@]}" </dev/null || status=$?
    if grep -q "VSTEST DONE" "$log"; then
      return 0
    fi
    if grep -q "VSTEST START" "$log"; then
      echo "make-vhost-guest: the guest did not finish (qemu exit $status); console in $log" >&2
      return 1
    fi
    echo "make-vhost-guest: attempt $attempt never reached /init (qemu exit $status)" >&2
  done
  return 1
}

case ${1:-} in
  build)
    if [ $# -eq 2 ]; then build "$2"
    elif [ $# -eq 4 ] && [ "$3" = --reader ]; then build "$2" "$4"
    else echo "usage: $0 build OUTDIR [--reader BIN]" >&2; exit 2; fi ;;
  boot) [ $# -ge 4 ] || { echo "usage: $0 boot OUTDIR SOCKET CONSOLE_LOG [--reboot] [--queues N] [--packed] [--stress] [--reconnect] [--bench] [--timeout S]" >&2; exit 2; }; shift; boot "$@" ;;
  *) echo "usage: $0 build OUTDIR | boot OUTDIR SOCKET CONSOLE_LOG [options]" >&2; exit 2 ;;
esac
