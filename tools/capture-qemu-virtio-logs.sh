#!/usr/bin/env bash
# Captures real virtio-mmio / virtio-blk trace logs from QEMU for the trace importer's test fixtures.
#
# Boots Debian's kernel on QEMU's microvm machine under TCG with one virtio-blk-device on virtio-mmio and a busybox
# initramfs that loads virtio_ring, virtio, virtio_mmio and virtio_blk, reads and writes /dev/vda and powers off.
# Runs twice: the default legacy (version 1) transport and the modern one (-global virtio-mmio.force-legacy=false).
#
# Needs: apt-get update && apt-get install -y qemu-system-x86 linux-image-amd64 busybox-static cpio
# Usage: tools/capture-qemu-virtio-logs.sh [OUTPUT_DIR]   (default tests/VirtioScope.Tracing.Tests/Fixtures)
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$here/tests/VirtioScope.Tracing.Tests/Fixtures}"
timeout_s="${CAPTURE_TIMEOUT:-180}"
tries="${CAPTURE_TRIES:-3}"
mkdir -p "$out"

kernel="$(ls /boot/vmlinuz-* | sort -V | tail -1)"
kver="${kernel#/boot/vmlinuz-}"
mods="/lib/modules/$kver/kernel/drivers"
busybox="$(command -v busybox)"
[ -x "$busybox" ] || { echo "capture: busybox-static is not installed" >&2; exit 2; }
file "$busybox" | grep -q "statically linked" || { echo "capture: $busybox is not statically linked" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# initramfs: busybox, the four modules, and an /init that exercises /dev/vda.
root="$work/root"
mkdir -p "$root"/{bin,dev,proc,sys,modules}
cp "$busybox" "$root/bin/busybox"
for m in virtio/virtio_ring virtio/virtio virtio/virtio_mmio block/virtio_blk; do
    cp "$mods/$m.ko" "$root/modules/"
done
cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_mmio virtio_blk; do insmod /modules/$m.ko; done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
echo "capture: /dev/vda $(cat /sys/block/vda/size 2>/dev/null) sectors"
dd if=/dev/vda of=/dev/null bs=4096 count=16 2>/dev/null && echo "capture: read ok"
echo "virtioscope capture" | dd of=/dev/vda bs=512 seek=64 conv=fsync 2>/dev/null && echo "capture: write ok"
dd if=/dev/vda bs=512 skip=64 count=1 iflag=direct 2>/dev/null | head -c 19; echo
sync
echo "capture: done"
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1 > "$work/initrd.gz")

mhz="$(awk -F: '/cpu MHz/ {printf "%d", $2; exit}' /proc/cpuinfo)"
khz=$(( ${mhz:-2000} * 1000 ))

capture() {
    local name="$1"; shift
    local log="$out/qemu-virtio-mmio-$name.log"
    local attempt
    for attempt in $(seq 1 "$tries"); do
        truncate -s 8M "$work/disk.img"
        printf 'VirtioScope fixture disk\n' | dd of="$work/disk.img" conv=notrunc 2>/dev/null
        rm -f "$log"
        if timeout "$timeout_s" qemu-system-x86_64 -M microvm -accel tcg -m 256 -smp 1 \
            -nodefaults -no-user-config -display none -monitor none -serial stdio -no-reboot \
            -kernel "$kernel" -initrd "$work/initrd.gz" \
            -append "console=ttyS0 panic=-1 quiet tsc_early_khz=$khz" \
            -drive id=d0,file="$work/disk.img",format=raw,if=none,cache=unsafe \
            -device virtio-blk-device,drive=d0 \
            -msg timestamp=on -trace 'virtio_mmio_*' -trace 'virtio_blk_*' -D "$log" \
            "$@" > "$work/console-$name.txt" 2>&1 \
            && grep -q "capture: done" "$work/console-$name.txt"; then
            grep "capture:" "$work/console-$name.txt" | sed "s/^/[$name] /"
            echo "[$name] $(wc -l < "$log") log lines -> $log"
            return 0
        fi
        echo "[$name] attempt $attempt failed; console tail:" >&2
        tail -5 "$work/console-$name.txt" >&2 || true
    done
    echo "capture: $name did not complete in $tries attempts" >&2
    return 1
}

capture legacy
capture modern -global virtio-mmio.force-legacy=false
