#!/usr/bin/env bash
# Acceptance 6 (issue 2): kill -9 of scsipub-tcmu after a SYNCHRONIZE CACHE; restart
# it; the synced data is there — both for the still-logged-in session (the handler
# re-attaches to the live TCMU device) and after a re-login (the portal runs with
# --keep-overlays, so this session's overlay is kept across logout).
set -uo pipefail
source "$(dirname "$0")/common.sh"

lab_up
check "stack starts in the lab (portal with --keep-overlays)" start_stack --keep-overlays

url="iscsi://127.0.0.1:$LAB_PORT/$BLANK_IQN/0"
A=iqn.2025-01.test.scsipub:crash
pattern_bg -c a=$A "$url" a:w:100:64:7 a:w:5000:8:9:fua a:sync wait a:r:100:64:7 a:r:5000:8:9 a:w:200:8:3 a:sync
check "write + FUA write + SYNCHRONIZE CACHE acknowledged" pattern_at_wait
# kill -9 the handler, start it again and wait (bounded) for its "ready" log line.
restart_handler() {
  lab_exec "pkill -9 -x scsipub-tcmu; while pgrep -x scsipub-tcmu >/dev/null; do sleep 0.1; done
    : >/var/log/scsipub-tcmu.restart.log
    setsid $TOP/build/tcmu-handler/scsipub-tcmu >/var/log/scsipub-tcmu.restart.log 2>&1 </dev/null &
    for i in \$(seq 150); do grep -q 'ready' /var/log/scsipub-tcmu.restart.log && exit 0; sleep 0.2; done
    cat /var/log/scsipub-tcmu.restart.log; exit 1"
}
check "kill -9 scsipub-tcmu and restart it (re-attaches to the live device)" restart_handler
pattern_resume
check "same session reads the synced data after the restart, and writes again" pattern_join
check "session torn down after logout (overlay kept)" wait_until 60 guest_configfs_clean
check "overlay file kept for this session" lab_exec "ls $GUEST_STATE/overlays/*.ovl"
check "kill -9 and restart the handler again" restart_handler
check "re-login: the synced data is there" "$PATTERN" -c a=$A "$url" a:r:100:64:7 a:r:5000:8:9 a:r:200:8:3
finish
