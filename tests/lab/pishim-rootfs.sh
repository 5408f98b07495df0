#!/usr/bin/env bash
# pishim-rootfs.sh SYSROOT OUT.img: a small arm64 root filesystem image (ext4, 32 MiB)
# for the pi-shim lab test: busybox-static:arm64 from the shim's unpacked packages and
# an /sbin/init that reports where its root is, writes /written-by-pi.txt, reads it
# back past the page cache (with the board's MAC, SCSIPUB-PI-FOUND first if the file
# was there already), prints SCSIPUB-PI-MARKER, then reads console lines (bounded):
# "check" prints the file again (SCSIPUB-PI-SEES), anything else powers off.
# With KERNEL and INITRD (pishim-rootfs.sh SYSROOT OUT.img KERNEL INITRD) the image
# also holds them as /vmlinuz and /initrd.img (96 MiB): what scsipub.mode=kexec boots.
set -euo pipefail
sys=$1 img=$2 kernel=${3:-} initrd=${4:-} size=32M
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
mkdir -p "$d"/{bin,sbin,proc,sys,dev,tmp,run}
cp "$sys/bin/busybox" "$d/bin/busybox"
for a in sh mount umount echo cat sync poweroff uname awk ls grep sha256sum read sleep tr; do
  ln -s busybox "$d/bin/$a"
done
cat >"$d/sbin/init" <<'EOI'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
read -r up _ </proc/uptime
root=$(awk '$2 == "/" {print $1}' /proc/mounts | tail -n1)
sess=$(ls /sys/class/iscsi_session 2>/dev/null | head -n1)
model=$(tr -d '\0' </sys/firmware/devicetree/base/model 2>/dev/null | tr ' ' _)
echo "[$up] SCSIPUB-PI-ROOT root=$root iscsi_session=${sess:-none} arch=$(uname -m) model=${model:-none}"
mac=none
for n in /sys/class/net/*; do [ "${n##*/}" = lo ] || { mac=$(cat "$n/address"); break; }; done
[ -e /written-by-pi.txt ] && echo "SCSIPUB-PI-FOUND $(cat /written-by-pi.txt)"
echo "written by the arm64 image at uptime $up mac=$mac" >/written-by-pi.txt
sync
echo 3 >/proc/sys/vm/drop_caches
echo "SCSIPUB-PI-READBACK $(cat /written-by-pi.txt)"
echo "SCSIPUB-PI-MARKER"
# "check": print the file again (past the page cache); anything else: power off.
while read -r -t 300 go </dev/console && [ "$go" = check ]; do
  echo 3 >/proc/sys/vm/drop_caches
  echo "SCSIPUB-PI-SEES $(cat /written-by-pi.txt)"
done
echo "SCSIPUB-PI-POWEROFF ($go)"
sync
poweroff -f
EOI
chmod 0755 "$d/sbin/init"
if [ -n "$kernel" ]; then
  cp "$kernel" "$d/vmlinuz"
  cp "$initrd" "$d/initrd.img"
  size=96M
fi
mkfs.ext4 -q -F -L piroot -d "$d" "$img.tmp" $size
mv "$img.tmp" "$img"
