#!/usr/bin/env bash
# catalog-defaults.sh DIR: fill the anonymous catalog a newcomer gets from
# scripts/run-service.sh (issue 11) with real OS images besides blank:
#   grub-rescue.iso     GRUB's rescue CD-ROM image from Debian's grub-rescue-pc
#                       (BIOS-bootable x86 ISO 9660 with El Torito): image.grub-rescue
#   pi-arm64-demo.img   the arm64 root filesystem the pi-shim boots in the lab
#                       (tests/lab/pishim-rootfs.sh over the shim's Debian arm64
#                       busybox): image.pi-arm64-demo
# Each is made once (apt-get download + dpkg-deb -x; the pi-shim build) and cached
# under build/catalog-cache; a file already in DIR is left as it is, so an operator's
# own images and edits survive. SCSIPUB_CATALOG_DEFAULTS="grub-rescue" (names,
# space-separated) limits what is added. Prints one line per image.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:?usage: catalog-defaults.sh DIR}
cache=$TOP/build/catalog-cache
want=${SCSIPUB_CATALOG_DEFAULTS:-grub-rescue pi-arm64-demo}
mkdir -p "$dir" "$cache"

grub_rescue() {
  local out=$cache/grub-rescue.iso tmp
  if [ ! -s "$out" ]; then
    tmp=$(mktemp -d "$cache/grub.XXXXXX")
    (cd "$tmp" && apt-get -o APT::Sandbox::User=root download -qq grub-rescue-pc >&2)
    dpkg-deb -x "$tmp"/grub-rescue-pc_*.deb "$tmp/x"
    cp "$tmp/x/usr/lib/grub-rescue/grub-rescue-cdrom.iso" "$out.tmp"
    mv "$out.tmp" "$out"
    rm -rf "$tmp"
  fi
  echo "$out"
}

pi_arm64_demo() {
  local out=$cache/pi-arm64-demo.img
  if [ ! -s "$out" ]; then
    make -s -C "$TOP/pi-shim" OUT="$TOP/build/pi-shim" >&2
    "$TOP/tests/lab/pishim-rootfs.sh" "$TOP/build/pi-shim/sysroot" "$out" >&2
  fi
  echo "$out"
}

for name in $want; do
  case $name in
    grub-rescue) dst=$dir/grub-rescue.iso; fn=grub_rescue ;;
    pi-arm64-demo) dst=$dir/pi-arm64-demo.img; fn=pi_arm64_demo ;;
    *) echo "catalog-defaults: unknown image '$name' (grub-rescue, pi-arm64-demo)" >&2; exit 2 ;;
  esac
  if [ -e "$dst" ]; then
    echo "catalog-defaults: $dst exists, left as it is"
    continue
  fi
  src=$($fn)
  cp "$src" "$dst.tmp" && mv "$dst.tmp" "$dst"
  echo "catalog-defaults: $dst ($(stat -c %s "$dst") bytes): iqn.2025-01.pub.scsipub:image.$name"
done
