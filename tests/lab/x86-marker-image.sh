#!/usr/bin/env bash
# x86-marker-image.sh OUT.img: a small BIOS-bootable x86 disk image for the netboot
# lab test (issue 11, acceptance 6): a FAT "superfloppy" (no partition table) with
# SYSLINUX (Debian's syslinux + mtools: no loop device, no mount), Debian's amd64
# kernel from the lab guest (tests/lab/build-guest.sh) and a busybox-static
# initramfs whose /init prints SCSIPUB-X86-MARKER with the disk it booted from and
# powers off. Serial console on ttyS0 (SYSLINUX's too). Kept when it exists.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
out=$1
[ -s "$out" ] && exit 0
G=$("$TOP/tests/lab/build-guest.sh")
kernel=$G/vmlinuz
[ -f "$kernel" ] || kernel=$G/vmlinux
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
mkdir -p "$d/root/bin" "$d/root/proc" "$d/root/sys" "$d/root/dev"
cp /bin/busybox "$d/root/bin/busybox"
for a in sh mount cat echo poweroff sleep; do ln -s busybox "$d/root/bin/$a"; done
cat >"$d/root/init" <<'EOI'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo "SCSIPUB-X86-MARKER kernel=$(cat /proc/sys/kernel/osrelease) cmdline=$(cat /proc/cmdline)"
poweroff -f
EOI
chmod 0755 "$d/root/init"
(cd "$d/root" && find . | cpio -o -H newc --quiet | gzip -9) >"$d/initrd.gz"
cat >"$d/syslinux.cfg" <<'EOC'
SERIAL 0 115200
DEFAULT marker
PROMPT 0
TIMEOUT 0
LABEL marker
  KERNEL vmlinuz
  INITRD initrd.gz
  APPEND console=ttyS0 panic=-1 quiet scsipub.x86marker=1
EOC
truncate -s 24M "$d/disk.img"
mformat -i "$d/disk.img" -v SCSIPUBX86 ::
syslinux --install "$d/disk.img"
mcopy -i "$d/disk.img" "$kernel" ::vmlinuz
mcopy -i "$d/disk.img" "$d/initrd.gz" ::initrd.gz
mcopy -i "$d/disk.img" "$d/syslinux.cfg" ::syslinux.cfg
mv "$d/disk.img" "$out"
