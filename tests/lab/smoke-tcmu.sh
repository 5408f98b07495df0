#!/usr/bin/env bash
# Smoke test of scsipub-tcmu against the real kernel (LIO + target_core_user) in the
# lab VM. Re-runnable; prints PASS/FAIL lines and exits non-zero on any failure.
#
#   1. start the handler; it resets netlink waiters, opens TCM-USER, logs "ready"
#   2. create a user backstore (dev_config cow/...) by hand in configfs and enable it:
#      the enable returns success once the handler has answered ADDED_DEVICE
#   3. export it over iSCSI (LIO iscsi target on 127.0.0.1:3260 inside the guest) and
#      do I/O with build/tools/iscsi-pattern (libiscsi): capacity, write, sync, read
#   4. RECONFIG: emulate_write_cache accepted, a different dev_size refused, the same
#      dev_size accepted; a bad cow dev_config makes enable fail cleanly; a foreign
#      subtype (qcow) is left unanswered for its own daemon (tcmu-runner): its enable
#      waits until a netlink reset fails it
#   5. kill -9 the handler while the device exists, restart it: it re-attaches, says
#      ready, and the data written before is read back
#   6. tear everything down in reverse order: REMOVED_DEVICE is handled (rmdir does
#      not hang); SIGTERM stops the handler, after which enabling a backstore with no
#      daemon does not block (replies were switched off)
# Needs: make -C tcmu-handler, build/tools/iscsi-pattern (make -C tests/lab/tools or
# the top-level build).
set -uo pipefail
source "$(dirname "$0")/common.sh"

BIN=$TOP/build/tcmu-handler/scsipub-tcmu
LOG=/var/log/scsipub-tcmu.log
CFS=/sys/kernel/config/target
DEV=$CFS/core/user_0/t1
IQN=iqn.2025-01.pub.scsipub:smoke
INI=iqn.2025-01.test.scsipub:smoke
URL=iscsi://127.0.0.1:3260/$IQN/0
SIZE=67108864
CONFIG="cow/size=$SIZE;overlay=/tmp/t1.ovl;bitmap=/tmp/t1.bm"

[ -x "$BIN" ] || { echo "FAIL: $BIN not built (make -C tcmu-handler)"; exit 1; }
[ -x "$PATTERN" ] || { echo "FAIL: $PATTERN not built"; exit 1; }

g() { lab_exec "$*"; }

# Wait (bounded) until the handler's log matches an extended regex.
log_has() { # REGEX [TIMEOUT_S]
  g "for i in \$(seq $((${2:-10} * 10))); do grep -Eq '$1' $LOG && exit 0; sleep 0.1; done
     echo '--- log:'; tail -n 20 $LOG; exit 1"
}

start_handler() {
  g "setsid $BIN --verbose >>$LOG 2>&1 </dev/null &
     for i in \$(seq 100); do [ \$(grep -c 'scsipub-tcmu: ready' $LOG) -ge $1 ] && exit 0; sleep 0.1; done
     cat $LOG; exit 1"
}

# Run a configfs write that may block in the kernel; fail if it takes > 20 s.
bounded() { # DESC SHELL-CMD
  g "( $2 ) & p=\$!; for i in \$(seq 200); do kill -0 \$p 2>/dev/null || { wait \$p; exit \$?; }; sleep 0.1; done
     echo 'still blocked after 20 s'; exit 124"
}

lab_up

check "LIO modules load and configfs mounts" g "
  mkdir -p /etc/target/pr
  modprobe target_core_user && modprobe iscsi_target_mod || exit 1
  mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
  [ -d $CFS ] || mkdir $CFS 2>/dev/null; [ -d $CFS/core ]"
g "rm -f /tmp/t1.ovl /tmp/t1.bm $LOG; : >$LOG"

check "handler starts and logs ready" start_handler 1
check "netlink left unblocked after the reset" \
  g "grep -qx unblocked /sys/module/target_core_user/parameters/block_netlink"

# --- 2. a cow backstore by hand -----------------------------------------------------
check "create user_0/t1 and write control" g "mkdir -p $DEV &&
  echo -n 'dev_size=$SIZE,dev_config=$CONFIG,hw_block_size=512,hw_max_sectors=1024' >$DEV/control"
check "enable returns success" bounded enable "echo 1 >$DEV/enable"
check "handler logged the device with label and size" \
  log_has "device added: user_0/t1 \\(uio[0-9]+, $SIZE bytes\\)"
check "uio name carries the dev_config" g "grep -l 'tcm-user/0/t1/cow/' /sys/class/uio/uio*/name"

# --- 3. I/O over iSCSI --------------------------------------------------------------
check "export over an iSCSI target on 127.0.0.1:3260" g "
  T=$CFS/iscsi/$IQN/tpgt_1
  mkdir -p \$T/lun/lun_0 && ln -s $DEV \$T/lun/lun_0/port0 &&
  mkdir \$T/np/127.0.0.1:3260 &&
  echo 1 >\$T/attrib/generate_node_acls && echo 0 >\$T/attrib/demo_mode_write_protect &&
  echo 0 >\$T/attrib/authentication && echo 1 >\$T/enable"
check "INQUIRY over iSCSI" g "iscsi-inq -i $INI $URL"
check "READ CAPACITY, write, SYNCHRONIZE CACHE, read back, zeros elsewhere" \
  g "$PATTERN -c a=$INI $URL a:cap:$SIZE a:w:100:64:7 a:w:131000:8:3:fua a:sync \
     a:r:100:64:7 a:r:131000:8:3 a:z:5000:16"
check "the overlay holds the data" g "[ \$(tr -d '\\000' </tmp/t1.bm | wc -c) -gt 0 ]"

# --- 4. RECONFIG and refusals -------------------------------------------------------
check "emulate_write_cache=1 accepted (RECONFIG WRITECACHE)" \
  bounded wce "echo 1 >$DEV/attrib/emulate_write_cache"
check "handler applied the write cache" log_has "user_0/t1: write cache on"
check "a different dev_size is refused" bounded size "! echo 1048576 2>/dev/null >$DEV/attrib/dev_size"
check "the same dev_size is accepted" bounded size2 "echo $SIZE >$DEV/attrib/dev_size"
check "a bad cow dev_config: control accepted" g "mkdir -p $CFS/core/user_1/bad &&
  echo -n 'dev_size=4096,dev_config=cow/size=100,hw_block_size=512' >$CFS/core/user_1/bad/control"
check "a bad cow dev_config makes enable fail (not hang)" \
  bounded badenable "! echo 1 2>/dev/null >$CFS/core/user_1/bad/enable"
check "bad backstore removed" bounded rmbad "rmdir $CFS/core/user_1/bad && rmdir $CFS/core/user_1"
# A foreign subtype is tcmu-runner's to answer (README "Coexistence with tcmu-runner"):
# with no tcmu-runner here its enable waits, until a netlink reset fails it.
check "a foreign subtype (qcow): control accepted" g "mkdir -p $CFS/core/user_2/q &&
  echo -n 'dev_size=4096,dev_config=qcow/x.qcow2,hw_block_size=512' >$CFS/core/user_2/q/control"
check "foreign enable is not answered by the handler (still waiting after 3 s)" g "
  ( echo 1 >$CFS/core/user_2/q/enable ) 2>/tmp/qen.err & echo \$! >/tmp/qen.pid
  sleep 3; kill -0 \$(cat /tmp/qen.pid)"
check "handler logged that it left it unanswered" \
  log_has 'ADDED_DEVICE for user_2/q \(subtype "qcow"\): not ours, not answered'
check "a netlink reset fails the waiting enable" g "
  P=/sys/module/target_core_user/parameters
  echo 1 >\$P/block_netlink; echo 1 >\$P/reset_netlink; echo 0 >\$P/block_netlink
  for i in \$(seq 50); do kill -0 \$(cat /tmp/qen.pid) 2>/dev/null || break; sleep 0.1; done
  ! kill -0 \$(cat /tmp/qen.pid) 2>/dev/null && cat /tmp/qen.err"
check "foreign backstore removed" bounded rmq "rmdir $CFS/core/user_2/q && rmdir $CFS/core/user_2"

# --- 5. kill -9 and re-attach ------------------------------------------------------
check "kill -9 the handler while the device exists" g "
  pkill -9 -x scsipub-tcmu; for i in \$(seq 50); do pgrep -x scsipub-tcmu >/dev/null || exit 0; sleep 0.1; done; exit 1"
check "restarted handler logs ready" start_handler 2
check "it re-attached user_0/t1" log_has "device re-attached: user_0/t1 \\(uio[0-9]+, $SIZE bytes\\)"
check "data written before the crash reads back; new I/O works" \
  g "$PATTERN -c a=$INI $URL a:r:100:64:7 a:r:131000:8:3 a:w:200:8:9 a:r:200:8:9 a:sync"

# --- 6. teardown -------------------------------------------------------------------
check "iSCSI target removed" bounded rmtgt "
  T=$CFS/iscsi/$IQN/tpgt_1
  echo 0 >\$T/enable; rm \$T/lun/lun_0/port0 && rmdir \$T/lun/lun_0 && rmdir \$T/np/127.0.0.1:3260 &&
  rmdir \$T && rmdir $CFS/iscsi/$IQN"
check "rmdir of the backstore returns (REMOVED_DEVICE answered)" \
  bounded rmdev "rmdir $DEV && rmdir $CFS/core/user_0"
check "handler logged the removal" log_has "device removed: user_0/t1 \\(uio[0-9]+, $SIZE bytes, removed by the kernel\\)"
# A device removed while netlink is blocked: no REMOVED_DEVICE; the worker sees the
# uio device vanish and the main loop closes it.
check "device removed while netlink is blocked: rmdir returns" bounded gone "
  D=$CFS/core/user_3/t3; mkdir -p \$D &&
  echo -n 'dev_size=4096,dev_config=cow/size=4096;overlay=/tmp/t3.ovl;bitmap=/tmp/t3.bm' >\$D/control &&
  echo 1 >\$D/enable &&
  echo 1 >/sys/module/target_core_user/parameters/block_netlink &&
  rmdir \$D; r=\$?; echo 0 >/sys/module/target_core_user/parameters/block_netlink
  [ \$r = 0 ] && rmdir $CFS/core/user_3"
check "handler noticed the uio device was gone and closed it" \
  log_has "device removed: user_3/t3 \\(uio[0-9]+, 4096 bytes, uio device gone\\)"
check "SIGTERM stops the handler cleanly" g "
  pkill -TERM -x scsipub-tcmu; for i in \$(seq 50); do pgrep -x scsipub-tcmu >/dev/null || exit 0; sleep 0.1; done; exit 1"
check "handler logged stopped" log_has "scsipub-tcmu: stopped"
check "with no daemon, enable and rmdir do not block (replies switched off)" bounded nodaemon "
  mkdir -p $CFS/core/user_0/t2 &&
  echo -n 'dev_size=4096,dev_config=cow/size=4096;overlay=/tmp/t2.ovl;bitmap=/tmp/t2.bm' >$CFS/core/user_0/t2/control &&
  echo 1 >$CFS/core/user_0/t2/enable && rmdir $CFS/core/user_0/t2 && rmdir $CFS/core/user_0"
check "no unexpected error lines in the handler log" g "! grep 'error:' $LOG | grep -v 'user_1/bad: bad dev_config'"
[ "$FAILED" -eq 0 ] || g "echo '--- dmesg'; dmesg | tail -n 30"
finish
