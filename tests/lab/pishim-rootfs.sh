#!/usr/bin/env bash
# pishim-rootfs.sh SYSROOT OUT.img: a small arm64 root filesystem image (ext4, 32 MiB)
# for the pi-shim lab test: busybox-static:arm64 from the shim's unpacked packages and
# an /sbin/init that reports where its root is, writes /written-by-pi.txt, reads it
# back past the page cache, prints SCSIPUB-PI-MARKER, waits for one line on the
# console (the test's go-ahead, bounded) and powers off.
set -euo pipefail
sys=$1 img=$2
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
mkdir -p "$d"/{bin,sbin,proc,sys,dev,tmp,run}
cp "$sys/bin/busybox" "$d/bin/busybox"
for a in sh mount umount echo cat sync poweroff uname awk ls grep sha256sum read sleep; do
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
echo "[$up] SCSIPUB-PI-ROOT root=$root iscsi_session=${sess:-none} arch=$(uname -m)"
echo "written by the arm64 image at uptime $up" >/written-by-pi.txt
sync
echo 3 >/proc/sys/vm/drop_caches
echo "SCSIPUB-PI-READBACK $(cat /written-by-pi.txt)"
echo "SCSIPUB-PI-MARKER"
read -r -t 300 go </dev/console
echo "SCSIPUB-PI-POWEROFF ($go)"
sync
poweroff -f
EOI
chmod 0755 "$d/sbin/init"
mkfs.ext4 -q -F -L piroot -d "$d" "$img.tmp" 32M
mv "$img.tmp" "$img"
