#!/usr/bin/env bash
# build.sh OUT: build the Pi netboot shim from Debian 12 arm64 packages into OUT:
#   OUT/apt/          private apt configuration, lists and the downloaded .debs
#   OUT/sysroot/      the .debs unpacked (never installed)
#   OUT/initramfs/    the shim's root before packing
#   OUT/tftp/         the TFTP root (see README "Raspberry Pi fleet netboot")
# SERIALS="1234abcd ..." adds per-serial subdirectories (the Pi 4/5 EEPROM's default
# TFTP_PREFIX, and the Pi 3 boot ROM's bootcode.bin, look in <serial>/ first).
# SCSIPUB_SHIM_COMPRESS=xz|gzip|zstd picks the initramfs compression (default xz).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
comp=${SCSIPUB_SHIM_COMPRESS:-xz}

# ---- 1. packages -----------------------------------------------------------
# iscsistart and kexec are dynamically linked: their shared libraries come from
# these packages (the closure is checked below, so a missing one fails the build).
LIBS=(libc6 libkmod2 libopeniscsiusr libssl3 libzstd1 liblzma5 zlib1g
  libxenmisc4.17 libxentoollog1 libxencall1 libxenevtchn1 libxengnttab1
  libxenforeignmemory1 libxendevicemodel1 libxentoolcore1)
"$here/apt-fetch.sh" "$out/apt" linux-image-arm64 raspi-firmware busybox-static \
  open-iscsi kexec-tools "${LIBS[@]}" >/dev/null
kpkg=$(dpkg-deb -f "$out"/apt/debs/linux-image-arm64_*.deb Depends | grep -oE 'linux-image-[0-9][^ ,]*-arm64' | head -n1)
[ -n "$kpkg" ] || { echo "pi-shim: cannot tell which kernel linux-image-arm64 depends on" >&2; exit 1; }
"$here/apt-fetch.sh" "$out/apt" "$kpkg" >/dev/null
kdeb=$(ls "$out"/apt/debs/"$kpkg"_*.deb)

stamp=$out/sysroot/.debs
want=$(cd "$out/apt/debs" && ls | sort | tr '\n' ' ')
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  rm -rf "$out/sysroot"; mkdir -p "$out/sysroot"
  for d in "$out"/apt/debs/*.deb; do dpkg-deb -x "$d" "$out/sysroot"; done
  echo "$want" >"$stamp"
fi
sys=$out/sysroot
kver=${kpkg#linux-image-}
[ -f "$sys/lib/modules/$kver/modules.dep" ] || depmod -b "$sys" "$kver"

# ---- 2. initramfs ----------------------------------------------------------
# Rebuilt only when the shim's files, the packages or the compression changed.
root=$out/initramfs
istamp=$(cat "$here/build.sh" "$here/init" "$here/udhcpc.script" | sha256sum | cut -c1-16)-$comp-$(echo "$want" | sha256sum | cut -c1-16)
if [ -f "$out/initrd.img" ] && [ "$(cat "$out/initrd.stamp" 2>/dev/null)" = "$istamp" ]; then
  echo "pi-shim: initramfs up to date"
else
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,run,tmp,newroot,lib,usr/bin,usr/sbin,etc/iscsi}
cp "$sys/bin/busybox" "$root/bin/busybox"
# The applet list of the arm64 binary equals the host's busybox-static (same Debian
# source and config); the arm64 one cannot run here.
for a in $(busybox --list); do
  [ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"
done
# The kernel's request_module() runs /sbin/modprobe.
ln -s ../bin/busybox "$root/sbin/modprobe"
cp "$here/init" "$root/init"
cp "$here/udhcpc.script" "$root/etc/udhcpc.script"
chmod 0755 "$root/init" "$root/etc/udhcpc.script"
cp "$sys/sbin/iscsistart" "$root/sbin/"
cp "$sys/sbin/kexec" "$root/sbin/"

# Shared-library closure by the ELF NEEDED entries (readelf reads arm64 ELF here).
libdirs=("$sys/lib/aarch64-linux-gnu" "$sys/usr/lib/aarch64-linux-gnu" "$sys/lib")
mkdir -p "$root/lib/aarch64-linux-gnu"
queue=("$root/sbin/iscsistart" "$root/sbin/kexec")
declare -A seen=()
while ((${#queue[@]})); do
  f=${queue[0]}; queue=("${queue[@]:1}")
  for so in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    [ -n "${seen[$so]:-}" ] && continue
    seen[$so]=1
    src=
    for d in "${libdirs[@]}"; do [ -e "$d/$so" ] && { src=$d/$so; break; }; done
    [ -n "$src" ] || { echo "pi-shim: $so (needed by $(basename "$f")) is in none of the fetched packages" >&2; exit 1; }
    cp -L "$src" "$root/lib/aarch64-linux-gnu/$so"
    queue+=("$root/lib/aarch64-linux-gnu/$so")
  done
done
ln -s aarch64-linux-gnu/ld-linux-aarch64.so.1 "$root/lib/ld-linux-aarch64.so.1"

# Kernel modules: the NICs of the Pi 3/3B+/4 (smsc95xx, lan78xx over dwc2; genet),
# phy_generic (the Pi 3 dwc2 port's PHY in the device tree: usb-nop-xceiv), cdc_ether
# (USB Ethernet; QEMU's raspi3b has only a USB NIC, usb-net),
# virtio for the lab, the iSCSI initiator, root filesystems, the USB gadget (and
# usb_storage, the host side of a usb-disk bench check through dummy_hcd).
MODS=(virtio_net virtio_pci virtio_mmio
  genet mdio_bcm_unimac broadcom lan78xx microchip smsc95xx smsc phy_generic dwc2 cdc_ether
  iscsi_tcp sd_mod crc32c_generic ext4 vfat nls_cp437 nls_ascii
  libcomposite usb_f_mass_storage dummy_hcd usb_storage)
kmod_dir=$sys/lib/modules/$kver
mkdir -p "$root/lib/modules/$kver"
cp "$kmod_dir"/modules.builtin* "$kmod_dir/modules.order" "$root/lib/modules/$kver/"
declare -A kseen=()
for m in "${MODS[@]}"; do
  line=$(grep -E "(^|/)${m//_/[_-]}\.ko:" "$kmod_dir/modules.dep" || true)
  [ -n "$line" ] || { echo "pi-shim: module $m not in $kpkg" >&2; exit 1; }
  for ko in ${line/:/}; do
    [ -n "${kseen[$ko]:-}" ] && continue
    kseen[$ko]=1
    mkdir -p "$root/lib/modules/$kver/$(dirname "$ko")"
    cp "$kmod_dir/$ko" "$root/lib/modules/$kver/$ko"
  done
done
depmod -b "$root" "$kver"
echo "$kver" >"$root/etc/scsipub-shim-kernel"

mkdir -p "$out/tftp"
case $comp in
  xz) cz=(xz -9 --check=crc32 -T1) ;;
  gzip) cz=(gzip -9n) ;;
  zstd) cz=(zstd -19 -q) ;;
  *) echo "pi-shim: SCSIPUB_SHIM_COMPRESS=$comp: use xz, gzip or zstd" >&2; exit 1 ;;
esac
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | "${cz[@]}" >"$out/initrd.img.tmp"
mv "$out/initrd.img.tmp" "$out/initrd.img"
echo "$istamp" >"$out/initrd.stamp"
fi

# ---- 3. TFTP root ----------------------------------------------------------
"$here/mktftp.sh" "$out" "$sys" "$kver" ${SERIALS:-}
mkdir -p "$out/bin" && install -m 0755 "$here/scsipub-shim-set-target" "$out/bin/"

unpacked=$(du -sk --apparent-size "$root" | awk '{print $1}')
size=$(stat -c %s "$out/initrd.img")
crypto=$(stat -c %s "$root/lib/aarch64-linux-gnu/libcrypto.so.3")
xen=$(cat "$root"/lib/aarch64-linux-gnu/libxen*.so* | wc -c)
kos=$(find "$root/lib/modules" -name '*.ko' -printf '%s\n' | awk '{s+=$1} END {print s}')
echo "pi-shim: kernel $kver"
echo "pi-shim: initramfs $size bytes ($((size / 1024)) KiB, $comp) from $unpacked KiB unpacked;" \
  "of which libcrypto (iscsistart's CHAP digests) $((crypto / 1024)) KiB, kexec's Xen libraries" \
  "$((xen / 1024)) KiB, $(find "$root/lib/modules" -name '*.ko' | wc -l) modules $((kos / 1024)) KiB (unpacked)"
echo "pi-shim: TFTP root $out/tftp"
