#!/usr/bin/env bash
# Issue 11: the default catalog a newcomer gets from scripts/run-service.sh holds real
# OS images besides blank. scripts/catalog-defaults.sh (what run-service.sh runs)
# fills a catalog directory with GRUB's rescue CD from Debian's grub-rescue-pc (a
# BIOS-bootable x86 ISO) and the arm64 root filesystem the pi-shim boots; a second
# run keeps what is there (cached, an operator's edits survive). In the lab, anonymous
# SendTargets lists them as image.<name>, and a login to each reads the image's own
# bytes (the ISO's El Torito boot record sector included).
set -uo pipefail
source "$(dirname "$0")/common.sh"
IMAGES=$TOP/build/lab/default-catalog     # start_stack serves this catalog
rm -rf "$IMAGES"
check "catalog-defaults.sh fills an empty catalog" "$TOP/scripts/catalog-defaults.sh" "$IMAGES"
check "… GRUB's rescue CD, an x86 ISO 9660 image with an El Torito boot record" bash -c \
  "file '$IMAGES/grub-rescue.iso' | grep -q 'ISO 9660.*(bootable)'"
check "… the arm64 root filesystem (ext4)" bash -c "file '$IMAGES/pi-arm64-demo.img' | grep -q 'ext4 filesystem'"
before=$(stat -c %Y "$IMAGES/grub-rescue.iso")
out=$("$TOP/scripts/catalog-defaults.sh" "$IMAGES")
echo "$out"
check "a second run leaves the files as they are" bash -c \
  '[ "$(grep -c "left as it is" <<<"$1")" = 2 ] && [ "$(stat -c %Y "$2")" = "$3" ]' _ "$out" \
  "$IMAGES/grub-rescue.iso" "$before"
check "run-service.sh fills the default catalog when SCSIPUB_IMAGES is not set" \
  grep -q 'scripts/catalog-defaults.sh "$SCSIPUB_IMAGES"' "$TOP/scripts/run-service.sh"

lab_up
check "stack starts in the lab on that catalog" start_stack
st=$(iscsi-ls "iscsi://127.0.0.1:$LAB_PORT" 2>&1)
echo "$st"
for n in grub-rescue pi-arm64-demo; do
  check "SendTargets lists image.$n" grep -q "iqn.2025-01.pub.scsipub:image.$n" <<<"$st"
done
check "a login to image.grub-rescue reads the ISO's first 40 KiB (boot record at sector 17)" \
  "$PATTERN" -c a=iqn.2025-01.test.scsipub:cat "iscsi://127.0.0.1:$LAB_PORT/iqn.2025-01.pub.scsipub:image.grub-rescue/0" \
  a:file:0:80:"$IMAGES/grub-rescue.iso"
check "a login to image.pi-arm64-demo reads the image's first 64 KiB" \
  "$PATTERN" -c a=iqn.2025-01.test.scsipub:cat "iscsi://127.0.0.1:$LAB_PORT/iqn.2025-01.pub.scsipub:image.pi-arm64-demo/0" \
  a:file:0:128:"$IMAGES/pi-arm64-demo.img"
check "sessions ended: overlays gone" wait_until 60 guest_overlays_gone
finish
