#!/usr/bin/env bash
# Issue 11, acceptance 2: the shim's other two modes, on the same kind of emulated
# arm64 board as test-pishim-boot.sh (qemu-system-aarch64 -M virt, TCG), through the
# lab VM's forwarded portal, on a catalog image holding an arm64 root filesystem plus
# the shim's kernel and initramfs as /vmlinuz and /initrd.img.
#  - scsipub.mode=kexec (LONG=1, by hand: about 100 s under TCG, most of it between
#    kexec -e and the second kernel's first message): the shim logs in, finds
#    /vmlinuz + /initrd.img on the disk and kexecs them, handing over open-iscsi's
#    ISCSI_* parameters; the second kernel's initramfs (the shim again) logs in with
#    them, switch_roots and the image's init prints its marker. Two logins, one per
#    kernel; both overlays gone after power-off.
#  - scsipub.mode=usb-disk with scsipub.udc=dummy_udc.0: the shim presents the iSCSI
#    disk as a USB mass-storage gadget; dummy_hcd's host side in the same kernel
#    enumerates it as a USB disk (usb_storage) and its sha256 equals the iSCSI disk's
#    and the catalog image's (typed into the shim's bench shell, scsipub.shell=1).
set -uo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/pishim.sh"
OUT=$TOP/build/pi-shim
IMAGES=$TOP/build/lab/pishim-modes-images   # this test's own catalog (start_stack reads it)
NAME=pi-kexec
IQN=iqn.2025-01.pub.scsipub:image.$NAME
PI_TIMEOUT=${PI_TIMEOUT:-300}

make -s -C "$TOP/pi-shim" OUT="$OUT" || { fail "make -C pi-shim"; finish; exit 1; }
mkdir -p "$IMAGES"
check "arm64 root filesystem image with the shim's kernel and initramfs built" \
  "$TOP/tests/lab/pishim-rootfs.sh" "$OUT/sysroot" "$IMAGES/$NAME.img" \
  "$OUT/tftp/kernel8.img" "$OUT/tftp/initrd.img"
base_sha=$(sha256sum "$IMAGES/$NAME.img" | cut -d' ' -f1)

pi_lab_up
# cmdline MODE [WORDS]: what scsipub-shim-set-target writes for MODE, for -M virt.
cmdline() {
  "$OUT/bin/scsipub-shim-set-target" "$IQN" --tftp-root "$TROOT" --serial 52540012 \
    --portal "10.0.2.2:$LAB_PORT" --mode "$1" >/dev/null || return 1
  echo "console=ttyAMA0 panic=-1 quiet $(sed 's/console=[^ ]* *//g' "$TROOT/52540012/cmdline.txt") scsipub.retries=3 scsipub.retry_delay=2 scsipub.on_fail=poweroff ${2:-}"
}

t_kx_load= t_kx=
if [ "${LONG:-0}" = 1 ]; then
echo "== kexec"
c=$(cmdline kexec) || fail "scsipub-shim-set-target --mode kexec"
echo "cmdline: $c"
PI_SMP=1 pi_boot kx "$c"
pi_wait_log kx "scsipub-shim: kexec: loaded" && t_kx_load=$(ms_since)
if pi_wait_log kx SCSIPUB-PI-MARKER; then pass "kexec: the second kernel boots the image's init"
else fail "kexec: the second kernel boots the image's init"; finish; exit 1; fi
t_kx=$(ms_since)
log=$PI_DIR/kx.log
check "kexec: the first kernel's shim loads /vmlinuz and /initrd.img from the disk" \
  grep -q "scsipub-shim: kexec /newroot/vmlinuz (initrd /newroot/initrd.img)" "$log"
check "kexec: the second kernel's shim takes the handed-over ISCSI_* parameters" \
  grep -q "scsipub-shim: kernel .*, target $IQN at 10.0.2.2:$LAB_PORT, mode pivot_root" "$log"
check "kexec: two logins to $IQN, one per kernel" \
  bash -c "[ \$(grep -c 'scsipub-shim: logged in to $IQN' '$log') = 2 ]"
check "kexec: the image's init runs on the iSCSI disk" \
  grep -Eq 'SCSIPUB-PI-ROOT root=/dev/sd[a-z]+ iscsi_session=session[0-9]+ arch=aarch64' "$log"
pi_say kx go
check "kexec: the board powers off" pi_wait_off kx
pi_stop
# The first kernel's session was never logged out: LIO's NOP-In timeout ends it.
check "kexec: both sessions' overlays gone" wait_until 90 guest_overlays_gone
fi

echo "== usb-disk (dummy_hcd)"
c=$(cmdline usb-disk "scsipub.udc=dummy_udc.0 scsipub.shell=1") || fail "scsipub-shim-set-target --mode usb-disk"
echo "cmdline: $c"
PI_SMP=1 pi_boot usb "$c"
check "usb-disk: the gadget is bound to dummy_udc.0 and the shell is up" \
  pi_wait_log usb "scsipub.shell=1: a shell on the console"
t_usb=$(ms_since)
check "usb-disk: the gadget's strings name the IQN" \
  grep -q "scsipub-shim: USB mass-storage gadget on dummy_udc.0 serves /dev/sd" "$PI_DIR/usb.log"
pi_say usb 'for i in $(seq 100); do ls /sys/block/*/device 2>/dev/null | grep -q . && [ $(ls -d /sys/block/sd* | wc -l) -ge 2 ] && break; sleep 0.2; done; for d in /sys/block/sd*; do n=${d##*/}; t=iscsi; readlink -f $d/device | grep -q usb && t=usb; echo "DISK $n $t $(sha256sum /dev/$n | cut -d" " -f1)"; done'
re_usb="DISK sd[a-z] usb [0-9a-f]{64}"
check "usb-disk: dummy_hcd's host side enumerates the gadget as a USB disk" \
  wait_until "$PI_TIMEOUT" grep -Eq "$re_usb" "$PI_DIR/usb.log"
grep -E "DISK sd[a-z] (usb|iscsi) [0-9a-f]{64}" "$PI_DIR/usb.log"
usb_sum=$(grep -Eo "$re_usb" "$PI_DIR/usb.log" | head -n1 | awk '{print $4}')
iscsi_sum=$(grep -Eo "DISK sd[a-z] iscsi [0-9a-f]{64}" "$PI_DIR/usb.log" | head -n1 | awk '{print $4}')
check "usb-disk: the USB disk's sha256 equals the iSCSI disk's and the image's" \
  bash -c '[ -n "$1" ] && [ "$1" = "$2" ] && [ "$1" = "$3" ]' _ "$usb_sum" "$iscsi_sum" "$base_sha"
pi_say usb 'poweroff -f'
check "usb-disk: the board powers off" pi_wait_off usb
pi_stop
check "usb-disk: overlay gone" wait_until 90 guest_overlays_gone
check "base image unchanged" [ "$(sha256sum "$IMAGES/$NAME.img" | cut -d' ' -f1)" = "$base_sha" ]
[ ! -e "$PI_DIR/kx.log" ] || grep -hE '^\[[0-9.]+\] scsipub-shim' "$PI_DIR/kx.log"
[ -z "$t_kx" ] || echo "timings (TCG, wall from QEMU start, 1 vCPU): kexec mode, kernel +" \
  "initrd loaded ${t_kx_load:-?} ms, the second kernel's image init $t_kx ms"
echo "timings (TCG, wall from QEMU start, 1 vCPU): usb-disk mode, gadget up $t_usb ms"
finish
