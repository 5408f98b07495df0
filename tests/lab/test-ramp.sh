#!/usr/bin/env bash
# Issue 10, acceptance 4 and goal 3: RAMP concurrent anonymous sessions in one
# 2-vCPU lab VM of LAB_MEM MiB, each logged in through the portal and doing a 4 KiB
# WRITE(10) + READ(10) on its own copy-on-write disk (blank), all held at once and
# serviced (NOP-In answered) while the guest's memory is read, then each reads its
# 4 KiB again (every session wrote a different pattern at the same LBA: per-connection
# isolation at full scale) and logs out; then RAMP sessions at once on one read-only
# shared export (ro.testfs) read the same first 4 KiB, which equal the image's.
# tools/session-ramp.c runs inside the guest against the portal at 127.0.0.1.
#
# The configured limit is the only refusal: scsipub-cfgd runs with --max-sessions RAMP,
# so session RAMP + 1 is refused at login with "out of resources" (RFC 7143 §11.13.5,
# 0x0302) while the others stay up, and the portal's per-address limits are off (all
# logins come from one address).
#
# Printed figures (not asserted): ramp seconds and login latency p50/p99/max, and the
# guest's memory per session: the fall of MemAvailable from before the ramp to the
# hold, less the initiator process's own resident memory (the initiator's kernel socket
# buffers stay in, so this overstates the target's share).
#
# Short form (the suite's): RAMP=200. Long form, by hand (issue 10 acceptance 4, about
# 10 min under TCG): RAMP=1000 tests/lab/test-ramp.sh. CONC (50) logins in flight at
# once. LAB_MEM (2048 MiB) is the guest's memory.
set -uo pipefail
export LAB_MEM=${LAB_MEM:-2048}  # before common.sh: lab.sh reads it when sourced
source "$(dirname "$0")/common.sh"

RAMP=${RAMP:-200}
CONC=${CONC:-50}
RAMPTOOL=$TOP/build/tools/session-ramp
LT=$TOP/build/tools/login-time
P=iqn.2025-01.pub.scsipub
CFS=/sys/kernel/config/target
RUNDIR=/run/ramp

make_test_image >/dev/null
lab_up
LAB_EXEC_TIMEOUT=900
check "stack starts in the lab (per-address limits off, --max-sessions $RAMP)" \
  start_stack --max-conn-per-ip 0 --login-rate 0 --max-conn-per-net4 0 --net-login-rate 0 \
  --max-sessions "$RAMP"

# meminfo FIELD: the guest's /proc/meminfo value in KiB.
meminfo() { lab_exec "awk '/^$1:/ {print \$2}' /proc/meminfo" | tr -d '[:space:]'; }
settle() { lab_exec "sync; echo 3 >/proc/sys/vm/drop_caches" >/dev/null; }

# ramp_start TARGET MODE: start session-ramp in the guest in the background, its stdin
# a fifo the test writes "go" into; ramp_held waits (bounded) for its "holding" line.
ramp_start() {
  # stdin opened read-write: no wait for a writer, and no end of file between writers.
  lab_exec "rm -rf $RUNDIR; mkdir -p $RUNDIR; mkfifo $RUNDIR/in; ulimit -n 65536
    setsid sh -c 'exec $RAMPTOOL 127.0.0.1:$LAB_PORT $1 $RAMP $CONC $2 \
      iqn.2025-01.test.scsipub:ramp <>$RUNDIR/in >$RUNDIR/out 2>$RUNDIR/err' &
    echo \$! >$RUNDIR/pid" >/dev/null
}
ramp_held() {
  wait_until 900 lab_exec "grep -q '^holding' $RUNDIR/out || ! kill -0 \$(cat $RUNDIR/pid) 2>/dev/null" \
    >/dev/null
  lab_exec "cat $RUNDIR/out; head -n 12 $RUNDIR/err"
}
ramp_go() {
  lab_exec "echo go >$RUNDIR/in" >/dev/null
  wait_until 900 lab_exec "! kill -0 \$(cat $RUNDIR/pid) 2>/dev/null" >/dev/null
  lab_exec "grep '^verify' $RUNDIR/out; head -n 12 $RUNDIR/err"
}
field() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" <<<"$2" | head -n 1; }

# ---- RAMP private sessions on blank ----
settle
avail0=$(meminfo MemAvailable) slab0=$(meminfo Slab) vm0=$(meminfo VmallocUsed)
ramp_start "$BLANK_IQN" rw
out=$(ramp_held); echo "$out"
check "blank: $RAMP sessions logged in, each wrote and read back its 4 KiB, all held at once" \
  test "$(field passed_io "$out")" = "$RAMP"
check "blank: $RAMP LIO sessions and $RAMP TCMU backstores live at once" \
  test "$(lab_exec "ls $CFS/iscsi/$BLANK_IQN/tpgt_1/acls | wc -l; ls -d $CFS/core/user_*/sp* | wc -l" | tr -d '\n ')" \
  = "$RAMP$RAMP"
# LIO sizes each session's command pool from its ACL's CmdSN depth: our TPGs make
# ACLs with 32 (configfs-manager/cfs_target.c), not LIO's 64.
depth=$(lab_exec "cat $CFS/iscsi/$BLANK_IQN/tpgt_1/attrib/default_cmdsn_depth
  cat \$(ls -d $CFS/iscsi/$BLANK_IQN/tpgt_1/acls/* | head -n 1)/cmdsn_depth" | tr '\n' ' ')
check "blank: the TPG's default CmdSN depth and a session ACL's are 32 ($depth)" \
  test "$depth" = "32 32 "
settle
avail1=$(meminfo MemAvailable) slab1=$(meminfo Slab) vm1=$(meminfo VmallocUsed)
rss=$(lab_exec "awk '/^VmRSS:/ {print \$2}' /proc/\$(cat $RUNDIR/pid)/status" | tr -d '[:space:]')
per=$(( (avail0 - avail1 - ${rss:-0}) / RAMP ))
echo "memory with $RAMP sessions: MemAvailable $avail0 → $avail1 KiB, initiator RSS ${rss:-?} KiB," \
  "Slab +$((slab1 - slab0)) KiB, VmallocUsed +$((vm1 - vm0)) KiB: ≈ $per KiB per session"
# The configured limit, and only it: one more session is refused, the others stay.
extra=$(lab_exec "$LT 127.0.0.1:$LAB_PORT $BLANK_IQN 1 1 iqn.2025-01.test.scsipub:ramp-extra" 2>&1)
echo "$extra" | tail -n 2
check "blank: session $((RAMP + 1)) refused at the configured --max-sessions $RAMP" \
  bash -c "grep -q 'ok=0 failed=1' <<<\"\$1\"" _ "$extra"
check "portal logged the refusal as the session limit (out of resources)" \
  lab_exec "grep -q 'ramp-extra.*out of resources' /var/log/scsipub-portal.log"
out=$(ramp_go); echo "$out"
check "blank: all $RAMP sessions still up, each reads back its own pattern (isolation), then log out" \
  bash -c "grep -q '^verify: held=$RAMP ok=$RAMP lost=0 mismatched=0' <<<\"\$1\"" _ "$out"
check "blank: every session's LIO objects gone after logout" wait_until 600 guest_configfs_clean
check "blank: every session's overlay file gone after logout" wait_until 60 guest_overlays_gone

# ---- RAMP sessions on one read-only shared export ----
ramp_start "$P:ro.testfs" "ro:$RUNDIR/ref.bin"
out=$(ramp_held); echo "$out"
check "ro.testfs: $RAMP sessions logged in and read the same first 4 KiB, all held at once" \
  test "$(field passed_io "$out")" = "$RAMP"
check "ro.testfs: what they read is the image's first 4 KiB" \
  lab_exec "cmp -n 4096 $RUNDIR/ref.bin $IMAGES/testfs.img"
n=$(lab_exec "ls -d $CFS/core/user_*/spro* | wc -l; ls $CFS/iscsi/$P:ro.testfs/tpgt_1/acls | wc -l; \
  grep -lx 1 $CFS/iscsi/$P:ro.testfs/tpgt_1/acls/*/lun_0/write_protect | wc -l" | tr '\n' ' ')
echo "ro.testfs with $RAMP sessions: shared backstores, ACLs, write-protected ACLs: $n"
check "ro.testfs: one shared backstore, $RAMP ACLs, each write_protect=1" test "$n" = "1 $RAMP $RAMP "
out=$(ramp_go); echo "$out"
check "ro.testfs: all $RAMP sessions still up and read the shared bytes again, then log out" \
  bash -c "grep -q '^verify: held=$RAMP ok=$RAMP lost=0 mismatched=0' <<<\"\$1\"" _ "$out"
check "ro.testfs: shared backstore and ACLs gone after the last logout" \
  wait_until 600 lab_exec "! ls -d $CFS/core/user_*/spro* 2>/dev/null | grep -q . && \
    [ -z \"\$(ls $CFS/iscsi/$P:ro.testfs/tpgt_1/acls)\" ]"
finish
