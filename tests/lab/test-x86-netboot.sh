#!/usr/bin/env bash
# Issue 11, acceptance 6: x86 netboot of a catalog image through the portal. The image
# (tests/lab/x86-marker-image.sh: SYSLINUX on FAT, Debian's amd64 kernel, an initramfs
# that prints SCSIPUB-X86-MARKER and powers off) is exported by the lab VM's portal as
# the anonymous catalog target image.x86-marker (per-connection overlay). On this host,
# qemu-system-x86_64 (TCG, SeaBIOS) boots it three ways and each prints the marker:
#   local      the image file itself (the reference)
#   qemu-iscsi QEMU's own iSCSI block driver (libiscsi, Debian's qemu-block-extra):
#              -drive file=iscsi://127.0.0.1:PORT/IQN/0
#              Both disks are virtio-blk, which SeaBIOS reads a whole INT 13h request at
#              a time. On IDE, SeaBIOS's PIO READ SECTORS makes QEMU read the disk 512
#              bytes at a time, one iSCSI round trip each (about 70 a second here, so
#              four minutes for SYSLINUX to load the kernel, against 15 s on virtio).
#   ipxe       the iPXE ROM QEMU network-boots (Debian's ipxe-qemu), fetching a script
#              from QEMU's own TFTP server: dhcp, then sanboot iscsi:10.0.2.2::PORT:0:IQN
# From the service side: each network boot's login reached scsipub-cfgd under the
# initiator name it was given, its overlay is gone after power-off, and the catalog
# image is unchanged. Boot times printed as ratios to the local boot.
set -uo pipefail
source "$(dirname "$0")/common.sh"
IMAGES=$TOP/build/lab/x86-images     # this test's own catalog (start_stack reads it)
NAME=x86-marker
IQN=iqn.2025-01.pub.scsipub:image.$NAME
X_TIMEOUT=${X_TIMEOUT:-240}

mkdir -p "$IMAGES"
check "x86 marker image built (SYSLINUX, Debian's amd64 kernel, busybox initramfs)" \
  "$TOP/tests/lab/x86-marker-image.sh" "$IMAGES/$NAME.img"
base_sha=$(sha256sum "$IMAGES/$NAME.img" | cut -d' ' -f1)
lab_up
X_DIR=$(mktemp -d "$TOP/build/lab/x86.XXXXXX")
X_PID=
trap '[ -z "$X_PID" ] || kill "$X_PID" 2>/dev/null; [ "$FAILED" -eq 0 ] || { for f in "$X_DIR"/*.log; do echo "--- $f"; tail -n 30 "$f"; done; lab_logs; }; lab_stop; rm -rf "$X_DIR"' EXIT
check "stack starts in the lab (catalog: $NAME)" start_stack

# x86_boot NAME QEMU-ARGS...: boot a PC (serial console to $X_DIR/NAME.log) and wait,
# bounded, until it printed the marker and powered itself off; X_MARK and X_MS get the
# wall times to the marker and to QEMU's exit.
x86_boot() {
  local n=$1 t0
  shift
  t0=$(date +%s%N)
  qemu-system-x86_64 -accel tcg -m 512 -nographic -no-reboot -monitor none -display none \
    -serial "file:$X_DIR/$n.log" "$@" </dev/null >"$X_DIR/$n.qemu" 2>&1 &
  X_PID=$!
  wait_until "$X_TIMEOUT" bash -c "grep -qs SCSIPUB-X86-MARKER '$X_DIR/$n.log' || ! kill -0 $X_PID 2>/dev/null"
  X_MARK=$(( ($(date +%s%N) - t0) / 1000000 ))
  wait_until "$X_TIMEOUT" bash -c "! kill -0 $X_PID 2>/dev/null"
  kill "$X_PID" 2>/dev/null
  wait "$X_PID" 2>/dev/null
  X_PID=
  X_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
  grep -qs SCSIPUB-X86-MARKER "$X_DIR/$n.log"
}

# The reference, beside the same lab VM as the network boots.
check "local: the image boots from its file and prints the marker" \
  x86_boot local -drive "file=$IMAGES/$NAME.img,format=raw,if=virtio,snapshot=on"
t_local=$X_MS m_local=$X_MARK

check "qemu-iscsi: QEMU's iSCSI block driver boots $IQN through the portal" \
  x86_boot qemu-iscsi -iscsi initiator-name=iqn.2025-01.test.scsipub:qemu-x86 \
    -drive "file=iscsi://127.0.0.1:$LAB_PORT/$IQN/0,format=raw,if=virtio"
t_qemu=$X_MS m_qemu=$X_MARK
check "qemu-iscsi: its login reached scsipub-cfgd as a session on $IQN" lab_exec \
  "grep 'session create: initiator iqn.2025-01.test.scsipub:qemu-x86 ' /var/log/scsipub-cfgd.log | grep -q 'target $IQN '"
check "qemu-iscsi: overlay gone after power-off" wait_until 60 guest_overlays_gone
check "qemu-iscsi: one login for the whole boot (no reconnect)" lab_exec \
  "[ \$(grep -c 'session create: initiator iqn.2025-01.test.scsipub:qemu-x86 ' /var/log/scsipub-cfgd.log) = 1 ]"

mkdir -p "$X_DIR/tftp"
printf '#!ipxe\nset initiator-iqn iqn.2025-01.test.scsipub:ipxe-x86\ndhcp\nsanboot iscsi:10.0.2.2::%s:0:%s\n' \
  "$LAB_PORT" "$IQN" >"$X_DIR/tftp/boot.ipxe"
check "ipxe: iPXE's sanboot boots $IQN through the portal" \
  x86_boot ipxe -netdev "user,id=n0,tftp=$X_DIR/tftp,bootfile=boot.ipxe" \
    -device virtio-net-pci,netdev=n0 -boot n
t_ipxe=$X_MS m_ipxe=$X_MARK
check "ipxe: its login reached scsipub-cfgd as a session on $IQN" lab_exec \
  "grep 'session create: initiator iqn.2025-01.test.scsipub:ipxe-x86 ' /var/log/scsipub-cfgd.log | grep -q 'target $IQN '"
check "ipxe: overlay gone after power-off" wait_until 60 guest_overlays_gone
check "the catalog image is unchanged" [ "$(sha256sum "$IMAGES/$NAME.img" | cut -d' ' -f1)" = "$base_sha" ]
grep -h SCSIPUB-X86-MARKER "$X_DIR"/*.log
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
echo "timings (TCG, wall from QEMU start to the marker / to QEMU's exit): local" \
  "$m_local / $t_local ms; QEMU iscsi:// $m_qemu / $t_qemu ms ($(ratio "$m_qemu" "$m_local")x" \
  "local to the marker); iPXE sanboot $m_ipxe / $t_ipxe ms ($(ratio "$m_ipxe" "$m_local")x)"
finish
