#!/usr/bin/env bash
# By hand, not in the suite: does this lab kernel's LIO survive an Extended CDB AHS
# (RFC 7143 §11.2.2.3) with AHSLength 0 sent to it directly, without the portal?
# Linux 6.0 added Extended CDB support to iscsit_setup_scsi_cmd, which copies
# AHSLength - 1 bytes from the AHS unchecked; AHSLength 0 overflows a kernel heap
# buffer. The portal refuses such a PDU (tls-proxy/pdufilter.h, test-portal-errors.sh);
# this shows why, and tells when a kernel has the fix. It boots its own lab VM, makes a
# fileio LUN on an open LIO target at 127.0.0.1:3270 (no scsipub daemons), sends one
# well-formed Extended CDB AHS (AHSLength 17) and then one with AHSLength 0, and
# prints the guest's verdict. The VM may die: that is the finding.
#   flock /tmp/scsipub-lab.lock bash tests/lab/probe-kernel-ahs.sh
set -uo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/peers.sh"

lab_up
IQN=iqn.2099-01.org.example:ahs-probe
PROBE="python3 -S -B $TOP/tests/lab/tools/session-probe.py"
kver=$(lab_exec "uname -r")
check "an open fileio target at 127.0.0.1:3270" lab_exec "set -e
  modprobe target_core_mod; modprobe iscsi_target_mod; modprobe target_core_file
  mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
  truncate -s 16M /tmp/ahs.img
  D=$CFS/core/fileio_0/ahs; mkdir -p \$D
  echo fd_dev_name=/tmp/ahs.img,fd_dev_size=16777216 >\$D/control; echo 1 >\$D/enable
  $(peer_lio_target "$IQN" 3270 "\$D")"
r=$(lab_exec "$PROBE ahs 3270 iqn.2099-01.org.example:probe $IQN 17" 2>&1)
check "AHSLength 17 is answered ($r)" grep -q "^opcode=21 " <<<"$r"
[ "$FAILED" -eq 0 ] || { echo "verdict: none (the well-formed case did not work)"; finish; exit 1; }
r=$(LAB_EXEC_TIMEOUT=60 lab_exec "$PROBE ahs 3270 iqn.2099-01.org.example:probe $IQN 0" 2>&1)
echo "AHSLength 0 straight to LIO: ${r:-no answer}"
if LAB_EXEC_TIMEOUT=30 lab_exec "! dmesg | grep -qE 'BUG:|Oops|general protection'" 2>/dev/null; then
  echo "verdict: kernel $kver survived an Extended CDB AHS with AHSLength 0"
else
  echo "verdict: kernel $kver did not survive it (oops or dead guest); the portal must refuse it"
  grep -m1 -A30 -E 'BUG:|Oops' "$LAB_RUN/console.log" 2>/dev/null | sed -n '1,25p'
fi
finish
