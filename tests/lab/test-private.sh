#!/usr/bin/env bash
# Issue 8, acceptance 1 and 2: private means private.
# Anonymous sessions that collide in every way a client can make them collide each get
# their own disk: the same InitiatorName at once (different ISIDs, and the same ISID:
# one I_T nexus claimed twice), the same name from a second process while the first
# is logged in, the same name in other letter case (LIO lowercases IQNs); each reads
# zeros where the other wrote, and the first one's data is gone once it logged out.
# A login naming an existing session (TSIH != 0) gets 0x0206; key spellings LIO reads
# differently from us (SessionTypeX=, InitiatorName2=, TargetNameX=) get 0x0200.
# open-iscsi in the guest with two ifaces carrying the same InitiatorName: two
# sessions, two private disks. SendTargets inside a Normal session (RFC 7143 §11.10):
# what LIO answers on its loopback portal (printed), and through the portal only the
# session's own target at the public address.
set -uo pipefail
source "$(dirname "$0")/common.sh"

lab_up
check "stack starts in the lab" start_stack

url="iscsi://127.0.0.1:$LAB_PORT/$BLANK_IQN/0"
V=iqn.2099-01.x:victim
VU=IQN.2099-01.X:VICTIM
CONNS=$GUEST_STATE/portal/connections.json
PROBE="python3 -S -B $TOP/tests/lab/tools/session-probe.py"
TPG=/sys/kernel/config/target/iscsi/$BLANK_IQN/tpgt_1

# 1. The same name twice at once, different ISIDs (libiscsi picks them).
check "same InitiatorName twice at once: each reads zeros where the other wrote" \
  "$PATTERN" -c a=$V -c b=$V "$url" \
    a:w:0:64:11 b:z:0:64 b:w:0:64:22 a:r:0:64:11 b:r:0:64:22 a:z:64:8 b:z:64:8
check "and both are torn down" wait_until 60 guest_configfs_clean

# 2. The same name and the same ISID at once: to LIO the same I_T nexus would have
#    meant session reinstatement (the first connection dropped) or a shared disk.
check "same InitiatorName and same ISID at once: two private disks, neither dropped" \
  "$PATTERN" -I -c a=$V -c b=$V "$url" \
    a:w:0:64:11 b:z:0:64 b:w:0:64:22 a:r:0:64:11 b:r:0:64:22
check "and both are torn down" wait_until 60 guest_configfs_clean

# 3. Other letter case (LIO would lowercase it to the same ACL).
check "same name in other letter case: private disks" \
  "$PATTERN" -c a=$V -c b=$VU "$url" a:w:0:64:11 b:z:0:64 b:w:0:64:22 a:r:0:64:11
check "and both are torn down" wait_until 60 guest_configfs_clean

# 4. A second process with the same name while the first is logged in; then the first
#    one's data is gone once it logged out.
pattern_bg -c a=$V "$url" a:w:0:128:11 a:w:131000:72:11 wait a:r:0:128:11 a:r:131000:72:11
check "first process logged in and wrote" pattern_at_wait
check "while it is logged in, each connection has its own ACL and overlay; connections.json names the client's InitiatorName and is not world-readable" wait_until 5 lab_exec "
  [ \$(ls $TPG/acls | grep -c '^iqn\.2025-01\.pub\.scsipub:anon\.[0-9a-f]\{32\}\$') -eq 1 ] &&
  grep -q '\"initiator\":\"$V\"' $CONNS && grep -q '\"lio_initiator\":\"iqn.2025-01.pub.scsipub:anon.' $CONNS &&
  [ \$(stat -c %a $CONNS) = 640 ] && [ \$(stat -c %a \$(dirname $CONNS)) = 750 ]"
check "a second process with the same name reads zeros where the first wrote, and writes its own" \
  "$PATTERN" -c b=$V "$url" b:z:0:128 b:z:131000:72 b:w:0:128:22 b:r:0:128:22
pattern_resume
check "the first process still reads its own data (not dropped, not overwritten)" pattern_join
check "after logout its configfs objects are gone" wait_until 60 guest_configfs_clean
check "after logout its overlay and bitmap files are gone" wait_until 60 guest_overlays_gone
check "the same name logging in again reads zeros: the data went with the connection" \
  "$PATTERN" -c a=$V "$url" a:z:0:128 a:z:131000:72
check "and is torn down again" wait_until 60 guest_configfs_clean

# 5. Logins the portal refuses: TSIH != 0, and key spellings LIO reads by prefix.
for m in tsih SessionTypeX=Discovery InitiatorName2=$V TargetNameX=$BLANK_IQN; do
  case $m in tsih) want=0206 ;; *) want=0200 ;; esac
  got=$(lab_exec "$PROBE status $LAB_PORT $V $BLANK_IQN $m")
  echo "login with $m: $got"
  check "login with $m is refused with status $want" [ "$got" = "status=$want" ]
done
check "nothing was provisioned for the refused logins" guest_configfs_clean

# 6. open-iscsi: two ifaces with the same InitiatorName log in to blank.
check "open-iscsi: two ifaces with the same InitiatorName log in to blank" lab_exec "
  pgrep -x iscsid >/dev/null || iscsid
  for i in same1 same2; do
    iscsiadm -m iface -I \$i -o new >/dev/null 2>&1 || true
    iscsiadm -m iface -I \$i -o update -n iface.initiatorname -v $V >/dev/null || exit 1
    iscsiadm -m node -o new -T $BLANK_IQN -p 127.0.0.1:$LAB_PORT -I \$i >/dev/null || exit 1
    iscsiadm -m node -T $BLANK_IQN -p 127.0.0.1:$LAB_PORT -I \$i --login >/dev/null || exit 1
  done
  [ \$(iscsiadm -m session | grep -c $BLANK_IQN) -eq 2 ]"
check "open-iscsi: the two disks are private (each reads back its own pattern, zeros elsewhere)" lab_exec "$GUEST_DISK
  session_disk_wait same1 same2
  d1=\$(session_disk same1); d2=\$(session_disk same2); echo \"same1=\$d1 same2=\$d2\"; [ \"\$d1\" != \"\$d2\" ] || exit 1
  head -c 1048576 /dev/urandom >/tmp/p1; head -c 1048576 /dev/urandom >/tmp/p2
  dd if=/tmp/p1 of=\$d1 bs=1M oflag=direct status=none && dd if=/tmp/p2 of=\$d2 bs=1M oflag=direct status=none &&
  dd if=\$d1 of=/tmp/r1 bs=1M count=1 iflag=direct status=none && cmp /tmp/r1 /tmp/p1 &&
  dd if=\$d2 of=/tmp/r2 bs=1M count=1 iflag=direct status=none && cmp /tmp/r2 /tmp/p2 &&
  head -c 1048576 /dev/zero >/tmp/z1 &&
  dd if=\$d1 of=/tmp/r3 bs=1M skip=1 count=1 iflag=direct status=none && cmp /tmp/r3 /tmp/z1"
check "open-iscsi: both log out; everything is torn down" lab_exec "
  iscsiadm -m node -T $BLANK_IQN -p 127.0.0.1:$LAB_PORT --logout >/dev/null"
check "configfs clean after the open-iscsi logouts" wait_until 60 guest_configfs_clean

# 7. SendTargets inside a Normal session. A provisioned target exists too, so LIO has
#    something else to tell.
CTL=$TOP/build/configfs-manager/scsipub-ctl
check "a provisioned target s.stprobe exists" \
  lab_exec "$CTL session-create $GUEST_STATE stprobe user1 secret-123456 blank:8M"
pattern_bg -c a=$V "$url" a:w:0:8:5 wait a:r:0:8:5
check "an anonymous session is live" pattern_at_wait
wait_until 5 lab_exec "grep -q '\"initiator\":\"$V\"' $CONNS"  # written at most once a second
lio_name=$(lab_exec "$PROBE lio-name $CONNS $V")
echo "the live session's LIO name: $lio_name"
direct=$(lab_exec "$PROBE sendtargets 3262 $lio_name $BLANK_IQN" 2>&1)
echo "--- what LIO itself answers to SendTargets=All in a Normal session (loopback portal):"
echo "$direct"
check "LIO itself would tell a Normal session its loopback portal (what the portal must hide)" \
  grep -q 'TargetAddress=127.0.0.1:3262' <<<"$direct"
via=$(lab_exec "$PROBE sendtargets $LAB_PORT iqn.2099-01.x:probe $BLANK_IQN" 2>&1)
echo "--- what the same request gets through the portal:"
echo "$via"
check "through the portal: exactly one TargetName, the session's own" \
  bash -c '[ "$(grep -c "^TargetName=" <<<"$1")" = 1 ] && grep -qx "TargetName=$2" <<<"$1"' _ "$via" "$BLANK_IQN"
check "through the portal: only the public address, never LIO's loopback portal or s.* targets" \
  bash -c 'grep -qx "TargetAddress=127.0.0.1:$2,1" <<<"$1" && ! grep -q ":3262,\|:s\\." <<<"$1" &&
           [ "$(grep -c "^TargetAddress=" <<<"$1")" = 1 ]' _ "$via" "$LAB_PORT"
pattern_resume
check "the live session still reads its data afterwards" pattern_join
check "s.stprobe destroyed" lab_exec "$CTL session-destroy $GUEST_STATE stprobe"
finish
