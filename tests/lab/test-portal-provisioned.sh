#!/usr/bin/env bash
# The portal's side of provisioned targets (issue 3, docs/provisioned.md), without the
# API: a session made with `scsipub-ctl session-create` (prov.h: demo-mode target
# iqn...:s.<id> with one-way CHAP, one COW LUN per image) is reached through the
# portal, which forwards the login to LIO (LIO checks CHAP); a wrong secret is
# refused; an s.<id> that configfs lacks gets 0x0203; SendTargets never lists s.*;
# the live connection shows up in <state>/portal/connections.json as "provisioned";
# session-destroy and the janitor leave configfs and the state directory clean.
# scsipub-tcmu is told LIO's CPU for the target's two disks while its connections
# agree on one, and the hint is withdrawn while they do not (provplace.h).
set -uo pipefail
source "$(dirname "$0")/common.sh"

lab_up
# --verbose: the portal logs LIO's CPU for each connection (the placement checks).
check "stack starts in the lab" start_stack --verbose

CTL=$TOP/build/configfs-manager/scsipub-ctl
IMG=$(make_test_image)
ID=labprov1
IQN=iqn.2025-01.pub.scsipub:s.$ID
U=user1
S=secret-123456
I=iqn.2025-01.test.scsipub:prov
url() { echo "iscsi://$1@127.0.0.1:$LAB_PORT/$IQN/0"; }

check "session-create: 2 LUNs (blank 8 MiB, the ext4 test image) with CHAP" \
  lab_exec "$CTL session-create $GUEST_STATE $ID $U $S blank:8M $IMG --limit 4M"
check "the target is in demo mode with CHAP" lab_exec \
  "T=/sys/kernel/config/target/iscsi/$IQN/tpgt_1; [ \$(cat \$T/attrib/generate_node_acls) = 1 ] && \
   [ \$(cat \$T/attrib/authentication) = 1 ] && [ \$(cat \$T/auth/userid) = $U ] && \
   [ \$(cat \$T/enable) = 1 ]"

out=$(iscsi-ls -s "iscsi://127.0.0.1:$LAB_PORT" 2>&1)
check "SendTargets does not list the provisioned target" bash -c "! grep -q ':s\\.' <<<'$out'"

pattern_bg -c a=$I "$(url "$U%$S")" a:luns:2 a:w:0:8:3 a:r:0:8:3 a:lun:1 a:file:0:64:"$IMG" \
  a:lun:0 wait a:r:0:8:3
check "CHAP login through the portal: REPORT LUNS 2, LUN 0 writable, LUN 1 reads its base" \
  pattern_at_wait
check "connections.json lists the live provisioned connection" wait_until 5 lab_exec \
  "grep -q '\"target\":\"$IQN\"' $GUEST_STATE/portal/connections.json && \
   grep -q '\"kind\":\"provisioned\"' $GUEST_STATE/portal/connections.json && \
   grep -q '\"initiator\":\"$I\"' $GUEST_STATE/portal/connections.json"
check "session-conns counts the initiator" lab_exec "[ \$($CTL session-conns $ID) = 1 ]"

# Placement (provplace.h). LIO's CPU for a connection, as the portal logged it.
lio_cpu() {
  lab_exec "cat /var/log/scsipub-portal.log" |
    sed -n "s/.*($1) to $IQN: LIO's threads for it run on CPU \([0-9]*\)$/\1/p" | tail -1
}
# The target's hints as the portal gave them, and as scsipub-tcmu took them for disk $1
# (each once per change): "<cpu>" or "-" (withdrawn), in order.
portal_hints() {
  lab_exec "cat /var/log/scsipub-portal.log" | sed -n \
    -e "s/.*$IQN: LIO's threads for its [0-9]* connections\{0,1\} run on CPU \([0-9]*\):.*/\1/p" \
    -e "s/.*$IQN: its [0-9]* connections run on several CPUs:.*/-/p" | xargs
}
handler_hints() {
  lab_exec "cat /var/log/scsipub-tcmu.log" | grep "/$1: " | sed -n \
    -e "s/.*LIO's CPU for its connection is \([0-9]*\)$/\1/p" \
    -e "s/.*its connections run on several CPUs: no CPU hint$/-/p" | xargs
}
# The portal's hints and both disks' records are all $1, and $1 is not empty.
hints_are() {
  [ -n "$1" ] && [ "$(portal_hints)" = "$1" ] && [ "$(handler_hints pv${ID}l0)" = "$1" ] &&
    [ "$(handler_hints pv${ID}l1)" = "$1" ]
}
CPU_A=$(lio_cpu "$I")
check "one connection: the portal told scsipub-tcmu its CPU ('$CPU_A') for both disks" \
  wait_until 10 hints_are "$CPU_A"
I2=iqn.2025-01.test.scsipub:prov2
check "a second connection (another initiator) reads what the first wrote" \
  "$PATTERN" -c b=$I2 "$(url "$U%$S")" b:r:0:8:3
CPU_B=$(lio_cpu "$I2")
# Both on one CPU: the hint stands. On two: withdrawn while both lived, then given
# again for the one left.
if [ "$CPU_A" = "$CPU_B" ]; then WANT=$CPU_A; else WANT="$CPU_A - $CPU_A"; fi
two_hints() { [ -n "$CPU_B" ] && wait_until 30 hints_are "$WANT"; }
check "two connections, LIO's CPUs '$CPU_A' and '$CPU_B': hints '$WANT' from the portal and in scsipub-tcmu for both disks" \
  two_hints
pattern_resume
check "the session kept working and logged out" pattern_join
check "connections.json is empty again" wait_until 30 lab_exec \
  "[ \"\$(cat $GUEST_STATE/portal/connections.json)\" = '[]' ]"

check "wrong CHAP secret → login refused" bash -c "! '$PATTERN' -c a=$I '$(url "$U%wrong-secret-99")' a:r:0:8:3"
check "a re-login sees the data written before (demo mode keeps the overlay)" \
  "$PATTERN" -c a=$I "$(url "$U%$S")" a:r:0:8:3
check "unknown s.<id> → refused, logged as unknown target" bash -c \
  "! '$PATTERN' -c a=$I 'iscsi://$U%$S@127.0.0.1:$LAB_PORT/iqn.2025-01.pub.scsipub:s.nope/0' a:r:0:1:1"
check "portal log names the unknown provisioned target" lab_exec \
  "grep -q 'unknown target iqn.2025-01.pub.scsipub:s.nope' /var/log/scsipub-portal.log"

check "session-destroy removes target, backstores and overlays" lab_exec \
  "$CTL session-destroy $GUEST_STATE $ID && [ ! -e /sys/kernel/config/target/iscsi/$IQN ] && \
   ! ls /sys/kernel/config/target/core/user_*/pv$ID* 2>/dev/null | grep -q . && \
   [ ! -e $GUEST_STATE/sessions/$ID ]"
check "janitor removes unknown sessions and keeps listed ones" lab_exec \
  "$CTL session-create $GUEST_STATE keep1 $U $S blank:1M && \
   $CTL session-create $GUEST_STATE drop1 $U $S blank:1M && \
   $CTL janitor $GUEST_STATE keep1 && [ -e /sys/kernel/config/target/iscsi/iqn.2025-01.pub.scsipub:s.keep1 ] && \
   [ ! -e /sys/kernel/config/target/iscsi/iqn.2025-01.pub.scsipub:s.drop1 ] && \
   $CTL janitor $GUEST_STATE && ! ls -d /sys/kernel/config/target/core/user_* 2>/dev/null | grep -q ."
finish
