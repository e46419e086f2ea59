#!/usr/bin/env bash
# Mounts a FAT file system with a real Linux kernel's vfat driver, for hosts whose kernel has no vfat (such as the
# CI machine's): boots Debian's kernel under QEMU/TCG with DISK as a read-only virtio-blk disk; the guest mounts it
# with `mount -t vfat -o ro` and prints one line per file, "VSFAT FILE <path> <size> <md5>", then "VSFAT DONE".
#
#   tools/fat-guest.sh DISK CONSOLE_LOG [--timeout S]
#
# Needs: qemu-system-x86 linux-image-amd64 busybox-static cpio.
set -euo pipefail
disk=$1 log=$2 timeout=120
[ "${3:-}" = --timeout ] && timeout=$4

kv=
for v in $(ls /lib/modules 2>/dev/null | sort -Vr); do
  if [ -f "/boot/vmlinuz-$v" ] && [ -f "/lib/modules/$v/kernel/fs/fat/vfat.ko" ]; then kv=$v; break; fi
done
[ -n "$kv" ] || { echo "fat-guest: no kernel with vfat.ko in /boot and /lib/modules (install linux-image-amd64)" >&2; exit 1; }
command -v busybox >/dev/null || { echo "fat-guest: busybox not found (install busybox-static)" >&2; exit 1; }
command -v qemu-system-x86_64 >/dev/null || { echo "fat-guest: qemu-system-x86_64 not found (install qemu-system-x86)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,mnt,lib/modules}
cp "$(command -v busybox)" "$root/bin/busybox"
m=/lib/modules/$kv/kernel
for ko in drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_legacy_dev \
  drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci drivers/block/virtio_blk fs/fat/fat fs/fat/vfat \
  fs/nls/nls_cp437 fs/nls/nls_ascii fs/nls/nls_iso8859-1 fs/nls/nls_utf8; do
  [ -f "$m/$ko.ko" ] && cp "$m/$ko.ko" "$root/lib/modules/"
done
cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for mod in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk fat vfat nls_cp437 nls_ascii nls_iso8859-1 nls_utf8; do
  [ -f /lib/modules/$mod.ko ] && insmod /lib/modules/$mod.ko
done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
if mount -t vfat -o ro /dev/vda /mnt; then
  cd /mnt
  find . -type f | sort | while read -r f; do
    echo "VSFAT FILE ${f#./} $(wc -c < "$f") $(md5sum < "$f" | cut -d' ' -f1)"
  done
  cd /
  umount /mnt
else
  echo "VSFAT FAIL mount"
fi
echo "VSFAT DONE"
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.cpio.gz"

# Without a TSC frequency the kernel can spend minutes calibrating against the PIT under TCG.
khz=$(awk -F: '/^cpu MHz/ {printf "%d", $2 * 1000; exit}' /proc/cpuinfo)
for attempt in 1 2; do
  : > "$log"
  if timeout "$timeout" qemu-system-x86_64 -M q35 -accel tcg -m 256M -nodefaults -no-user-config -display none \
      -monitor none -serial "file:$log" -no-reboot -kernel "/boot/vmlinuz-$kv" -initrd "$work/initramfs.cpio.gz" \
      -append "console=ttyS0 panic=-1 quiet tsc_early_khz=${khz:-2000000}" \
      -drive "file=$disk,format=raw,if=none,id=d,readonly=on,file.locking=off" -device virtio-blk-pci,drive=d \
      && grep -q "VSFAT DONE" "$log"; then
    exit 0
  fi
  echo "fat-guest: attempt $attempt did not finish; console:" >&2
  tail -5 "$log" >&2
done
exit 1
