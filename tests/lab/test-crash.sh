#!/usr/bin/env bash
# Acceptance 6 (issue 2): kill -9 of scsipub-tcmu after a SYNCHRONIZE CACHE; restart
# it; the synced data is there, and so is a write completed after that flush (its
# allocation bits live in the handler's tmpfs runtime directory until the next
# SYNCHRONIZE CACHE, and a restarted handler picks them up: cow.h) — both for the
# still-logged-in session (the handler re-attaches to the live TCMU device) and in
# the overlay file the portal keeps after logout (--keep-overlays). A re-login is a
# new connection and so gets a new, empty disk (issue 8: a kept overlay is never
# handed to another connection).
set -uo pipefail
source "$(dirname "$0")/common.sh"

lab_up
check "stack starts in the lab (portal with --keep-overlays)" start_stack --keep-overlays

url="iscsi://127.0.0.1:$LAB_PORT/$BLANK_IQN/0"
A=iqn.2025-01.test.scsipub:crash
pattern_bg -c a=$A "$url" a:w:100:64:7 a:w:5000:8:9:fua a:sync a:w:300:8:5 wait \
  a:r:100:64:7 a:r:5000:8:9 a:r:300:8:5 a:w:200:8:3 a:sync
check "write + FUA write + SYNCHRONIZE CACHE, then an unflushed first write, acknowledged" pattern_at_wait
check "the unflushed write's bits are in the handler's runtime directory" \
  lab_exec "ls /run/scsipub-tcmu/*.bits"
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
check "same session reads the synced data and the unflushed write after the restart, and writes again" pattern_join
check "session torn down after logout (overlay kept)" wait_until 60 guest_configfs_clean
check "overlay file kept for this session" lab_exec "ls $GUEST_STATE/overlays/*.ovl"
check "kill -9 and restart the handler again" restart_handler
# The kept overlay holds the synced blocks at their own offsets (LBA * 512), byte for
# byte as iscsi-pattern wrote them (its pattern_byte, recomputed here).
check "the kept overlay file holds the synced data" lab_exec "python3 -S -c '
import glob, sys
def pat(seed, lba, i):
    m = 0xffffffff
    x = ((seed * 2654435761) & m) ^ ((lba * 40503) & m) ^ ((i * 2246822519) & m)
    x ^= x >> 13
    return (x ^ seed) & 0xff
ovl = glob.glob(\"$GUEST_STATE/overlays/*.ovl\")
assert len(ovl) == 1, ovl
with open(ovl[0], \"rb\") as f:
    for lba0, n, seed in ((100, 64, 7), (5000, 8, 9), (200, 8, 3)):
        f.seek(lba0 * 512)
        got = f.read(n * 512)
        want = bytes(pat(seed, lba0 + b, i) for b in range(n) for i in range(512))
        assert got == want, (lba0, seed)
'"
check "re-login is a new connection: a new, empty disk, not the kept overlay" \
  "$PATTERN" -c a=$A "$url" a:z:100:64 a:z:5000:8
finish
