#!/usr/bin/env bash
# Issue 11 (pi-shim, pivot_root mode; acceptance 3): an emulated arm64 board
# (qemu-system-aarch64 -M virt, TCG; then -M raspi3b with Debian's bcm2837-rpi-3-b.dtb
# and its USB NIC) boots the shim's kernel + initramfs from build/pi-shim with the
# cmdline.txt that scsipub-shim-set-target wrote, logs in through the lab VM's
# forwarded portal (the arm64 guest reaches the host at 10.0.2.2) to the anonymous
# catalog target iqn.2025-01.pub.scsipub:image.pi-arm64 (an arm64 root filesystem
# built here), switch_roots, and the image's init prints a marker and writes a file.
# Checked from both sides: the console; the portal's connections.json (the shim's
# MAC-derived InitiatorName, a per-connection LIO name) and the session's overlay while
# the board is up; overlay gone after power-off; base image unchanged. Then the
# bounded retry: an unknown IQN (login refused) and a closed port (unreachable) each
# give a clear console message and the board powers off. Boot timings printed.
# Both QEMU machines run inside the one lab lock the caller holds.
set -uo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/pishim.sh"
OUT=$TOP/build/pi-shim
IMAGES=$TOP/build/lab/pishim-images   # this test's own catalog (start_stack reads it)
NAME=pi-arm64
IQN=iqn.2025-01.pub.scsipub:image.$NAME
PI_TIMEOUT=${PI_TIMEOUT:-240}

make -s -C "$TOP/pi-shim" OUT="$OUT" || { fail "make -C pi-shim"; finish; exit 1; }
mkdir -p "$IMAGES"
check "arm64 root filesystem image built" "$TOP/tests/lab/pishim-rootfs.sh" "$OUT/sysroot" "$IMAGES/$NAME.img"
base_sha=$(sha256sum "$IMAGES/$NAME.img" | cut -d' ' -f1)

pi_lab_up
# The board's cmdline.txt, written as the CI pipeline does, in the TFTP root TROOT.
check "scsipub-shim-set-target writes the board's cmdline.txt" \
  "$OUT/bin/scsipub-shim-set-target" "$IQN" --tftp-root "$TROOT" --serial 52540012 \
  --portal "10.0.2.2:$LAB_PORT" --mode pivot_root
# On -M virt the console is the PL011 (ttyAMA0), not the Pi's mini UART.
cmdline=$(sed 's/console=[^ ]* *//g' "$TROOT/52540012/cmdline.txt")
cmdline="console=ttyAMA0 panic=-1 quiet $cmdline scsipub.retries=3 scsipub.retry_delay=2 scsipub.on_fail=poweroff"
echo "cmdline: $cmdline"

echo "== boot 1: pivot_root into $IQN"
pi_boot ok "$cmdline"
if pi_wait_log ok SCSIPUB-PI-MARKER; then
  pass "the board logs in, switch_roots and the image's init prints its marker"
else
  fail "the board logs in, switch_roots and the image's init prints its marker"; finish; exit 1
fi
t_marker=$(ms_since)
log=$PI_DIR/ok.log
check "shim: InitiatorName from the MAC (no serial on -M virt)" \
  grep -q "scsipub-shim: InitiatorName iqn.2025-01.pub.scsipub:shim.525400123456" "$log"
check "shim: logged in to $IQN" grep -q "scsipub-shim: logged in to $IQN at 10.0.2.2:$LAB_PORT" "$log"
check "the image's init runs on the iSCSI disk (root /dev/sd*, an iSCSI session, aarch64)" \
  grep -Eq 'SCSIPUB-PI-ROOT root=/dev/sd[a-z]+ iscsi_session=session[0-9]+ arch=aarch64' "$log"
check "the file the image wrote reads back after dropping the page cache" \
  grep -q "SCSIPUB-PI-READBACK written by the arm64 image" "$log"
check "portal: the board's connection, its InitiatorName and a per-connection LIO name" wait_until 5 lab_exec "
  python3 -c 'import json,sys; c=json.load(open(\"$GUEST_STATE/portal/connections.json\"));
e=[x for x in c if x.get(\"initiator\")==\"iqn.2025-01.pub.scsipub:shim.525400123456\" and x.get(\"target\")==\"$IQN\"];
print(e); sys.exit(0 if len(e)==1 and e[0].get(\"lio_initiator\",\"\").startswith(\"iqn.2025-01.pub.scsipub:anon.\") else 1)'"
check "the board's writes are in its session's overlay" lab_exec "
  b=\$(ls $GUEST_STATE/overlays/*.bitmap) && od -An -tx1 \$b | grep -q '[1-9a-f]'"
echo go >"$PI_DIR/ok.in"
check "the board powers off" pi_wait_off
t_off=$(ms_since)
pi_stop
check "connection closed: overlay gone" wait_until 60 guest_overlays_gone
check "base image unchanged" [ "$(sha256sum "$IMAGES/$NAME.img" | cut -d' ' -f1)" = "$base_sha" ]
grep -E '^\[[0-9.]+\] (scsipub-shim|SCSIPUB)' "$log"

echo "== boot 1b: the same on QEMU's Raspberry Pi 3 Model B (-M raspi3b, Debian's bcm2837-rpi-3-b.dtb)"
PI_MACHINE=raspi3b pi_boot rpi3 "$cmdline"
if pi_wait_log rpi3 SCSIPUB-PI-MARKER; then
  pass "raspi3b: the shim brings up the USB NIC (dwc2), logs in, switch_roots, the image's init runs"
else
  fail "raspi3b: the shim brings up the USB NIC (dwc2), logs in, switch_roots, the image's init runs"
fi
t_rpi3=$(ms_since)
check "raspi3b: the image's init sees Debian's Pi 3 device tree" \
  grep -q "SCSIPUB-PI-ROOT .* model=Raspberry_Pi_3_Model_B" "$PI_DIR/rpi3.log"
check "raspi3b: network over the USB NIC, logged in to $IQN" bash -c \
  "grep -q 'scsipub-shim: network: usb0 ' '$PI_DIR/rpi3.log' && grep -q 'scsipub-shim: logged in to $IQN' '$PI_DIR/rpi3.log'"
check "raspi3b: the image's init on the iSCSI disk, its file read back" bash -c \
  "grep -Eq 'SCSIPUB-PI-ROOT root=/dev/sd[a-z]+ iscsi_session=session[0-9]+ arch=aarch64' '$PI_DIR/rpi3.log' && grep -q 'SCSIPUB-PI-READBACK written by the arm64 image' '$PI_DIR/rpi3.log'"
# The plug is pulled: typed console input never reached the image's init on QEMU's
# raspi3b in the lab (it does on -M virt), and that machine halts rather than exits on
# power-off. The portal sees the connection end.
pi_stop
check "raspi3b: plug pulled: connection closed, overlay gone" wait_until 90 guest_overlays_gone

echo "== boot 2: unknown IQN (the portal refuses the login)"
bad=${cmdline/scsipub.iqn=$IQN/scsipub.iqn=iqn.2025-01.pub.scsipub:image.no-such-image}
pi_boot refused "$bad scsipub.login_timeout=15"
check "board gives up after a bounded retry and powers off" pi_wait_off
t_refused=$(ms_since)
pi_stop
check "console: 'LOGIN FAILED, attempt 1/3: the target refused the login'" \
  grep -q "LOGIN FAILED, attempt 1/3: the target refused the login" "$PI_DIR/refused.log"
check "console: 'GIVING UP: no iSCSI login after 3 attempts'" \
  grep -q "GIVING UP: no iSCSI login after 3 attempts" "$PI_DIR/refused.log"
grep "scsipub-shim: \(LOGIN\|GIVING\)" "$PI_DIR/refused.log"

echo "== boot 3: closed port (unreachable)"
closed=$(free_port)
pi_boot unreach "${cmdline/10.0.2.2:$LAB_PORT/10.0.2.2:$closed}"
check "board gives up after a bounded retry and powers off" pi_wait_off
t_unreach=$(ms_since)
pi_stop
check "console: 'portal 10.0.2.2:$closed unreachable', 3 attempts" \
  bash -c "[ \$(grep -c 'LOGIN FAILED, attempt [123]/3: portal 10.0.2.2:$closed unreachable' '$PI_DIR/unreach.log') = 3 ]"
check "no overlay left by the failed boots" guest_overlays_gone

echo "timings (TCG, wall, from QEMU start): marker $t_marker ms, power-off $t_off ms;" \
  "raspi3b marker $t_rpi3 ms ($(awk -v a="$t_rpi3" -v b="$t_marker" 'BEGIN{printf "%.2f", a/b}')x virt);" \
  "refused x3 $t_refused ms; unreachable x3 $t_unreach ms"
finish
