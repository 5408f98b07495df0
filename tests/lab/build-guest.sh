#!/usr/bin/env bash
# Build (once) and cache the lab guest under build/lab/guest/:
#   vmlinux (or vmlinuz)  Debian 12's stock kernel, linux-image-6.1.0-*-amd64
#   initrd.gz             busybox-static + the kernel modules the lab needs + /init
# The guest's /usr is the host's /usr over 9p (read-only), so every program built or
# installed on the host runs in the guest unchanged; the repo is shared over 9p at the
# same absolute path. A second run only rebuilds the initramfs when tests/lab/guest-*
# changed (a few hundred ms). Prints the guest directory on stdout.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
LAB=$TOP/build/lab
G=$LAB/guest
mkdir -p "$G" "$LAB/dl"
log() { echo "build-guest: $*" >&2; }

# 1. The kernel package: the version linux-image-amd64 depends on, downloaded once.
if [ ! -f "$G/kver" ]; then
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  [ -n "$pkg" ] || { log "cannot resolve linux-image-amd64 (apt-get update?)"; exit 1; }
  log "downloading $pkg"
  (cd "$LAB/dl" && apt-get download -q "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
  deb=$(ls "$LAB/dl/$pkg"_*.deb 2>/dev/null | head -n1)
  [ -n "$deb" ] || { log "download of $pkg failed"; exit 1; }
  rm -rf "$LAB/kroot"; mkdir -p "$LAB/kroot"
  dpkg-deb -x "$deb" "$LAB/kroot"
  kver=$(ls "$LAB/kroot/lib/modules" | head -n1)
  depmod -b "$LAB/kroot" "$kver"
  cp "$LAB/kroot/boot/vmlinuz-$kver" "$G/vmlinuz"
  # Uncompressed vmlinux boots ~3 s faster under TCG (QEMU loads it as a PVH ELF).
  rm -f "$G/vmlinux"
  for off in $(LC_ALL=C grep -aboP '\xfd7zXZ\x00' "$G/vmlinuz" | cut -d: -f1); do
    tail -c +$((off + 1)) "$G/vmlinuz" | xz -dc >"$G/vmlinux.tmp" 2>/dev/null || true
    if [ "$(head -c4 "$G/vmlinux.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
      mv "$G/vmlinux.tmp" "$G/vmlinux"; log "extracted vmlinux"; break
    fi
  done
  rm -f "$G/vmlinux.tmp"
  echo "$kver" >"$G/kver"
fi
kver=$(cat "$G/kver")
KROOT=$LAB/kroot

# 2. The initramfs, rebuilt when its inputs change.
MODS="virtio_pci virtio_net virtio_blk 9p 9pnet_virtio configfs target_core_mod target_core_file
  target_core_iblock target_core_user uio iscsi_target_mod crc32c_generic iscsi_tcp sd_mod sg
  ext4 isofs loop
  dummy_hcd libcomposite usb_f_fs usb-storage vfat nls_cp437 nls_ascii nls_utf8
  sch_prio sch_netem cls_u32
  tls gcm ctr ghash-generic chacha20poly1305 chacha_generic poly1305_generic aesni-intel
  ghash-clmulni-intel"
stamp=$(cat "$TOP/tests/lab/guest-init" "$TOP/tests/lab/build-guest.sh" | sha256sum | cut -c1-16)
if [ -f "$G/initrd.gz" ] && [ "$(cat "$G/initrd.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "$G"; exit 0
fi
log "building initramfs"
R=$(mktemp -d "$LAB/initrd.XXXXXX")
chmod 755 "$R"   # the guest's / : mktemp makes it 0700, which locks out non-root users (postgres)
trap 'rm -rf "$R"' EXIT
mkdir -p "$R"/{bin,sbin,dev,proc,sys,tmp,run,mnt,root,etc/iscsi,var/lib/iscsi,var/log,var/lib/scsipub,usr,lib/modules/"$kver"}
cp /bin/busybox "$R/bin/busybox"
for a in $("$R/bin/busybox" --list); do
  [ -e "$R/bin/$a" ] || ln -s busybox "$R/bin/$a"
done
ln -s ../bin/busybox "$R/sbin/init" 2>/dev/null || true
# Host libraries come from the 9p /usr: the multiarch dirs and the loader.
ln -s /usr/lib64 "$R/lib64"
ln -s /usr/lib/x86_64-linux-gnu "$R/lib/x86_64-linux-gnu"
cp /etc/ld.so.cache "$R/etc/ld.so.cache"
cp -r /etc/ld.so.conf /etc/ld.so.conf.d "$R/etc/" 2>/dev/null || true
# Kernel modules and their dependencies (resolved against the extracted package).
for m in $MODS; do
  modprobe -d "$KROOT" -S "$kver" --show-depends "$m" 2>/dev/null | awk '$1=="insmod"{print $2}'
done | sort -u | while read -r ko; do
  rel=${ko#"$KROOT"}
  mkdir -p "$R$(dirname "$rel")"
  cp "$ko" "$R$rel"
done
cp "$KROOT/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} "$R/lib/modules/$kver/" 2>/dev/null || true
depmod -b "$R" "$kver"
# Minimal /etc for iscsid, iscsiadm and friends.
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\n' >"$R/etc/group"
# PostgreSQL (issue 3) refuses to run as root: the host's postgres account, same ids,
# so files it makes in the guest and the host's /usr/lib/postgresql agree.
if pg=$(getent passwd postgres); then
  echo "$pg" | awk -F: '{print $1":x:"$3":"$4"::/var/lib/postgresql:/bin/sh"}' >>"$R/etc/passwd"
  getent group "$(echo "$pg" | cut -d: -f4)" | awk -F: '{print $1":x:"$3":"}' >>"$R/etc/group"
fi
printf 'hosts: files\n' >"$R/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n' >"$R/etc/hosts"
cp /etc/iscsi/iscsid.conf "$R/etc/iscsi/"
printf 'InitiatorName=iqn.2025-01.test.scsipub:lab-guest\n' >"$R/etc/iscsi/initiatorname.iscsi"
cp "$TOP/tests/lab/guest-init" "$R/init"
chmod 755 "$R/init"
(cd "$R" && find . | cpio -o -H newc --quiet | gzip -1) >"$G/initrd.gz.tmp"
mv "$G/initrd.gz.tmp" "$G/initrd.gz"
echo "$stamp" >"$G/initrd.stamp"
log "initramfs $(du -h "$G/initrd.gz" | cut -f1)"
echo "$G"
