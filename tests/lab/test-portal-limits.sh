#!/usr/bin/env bash
# Acceptance 6 (issue 4, hardening): per-address connection limits — LIMIT+200
# connections from 127.0.0.2 inside the guest, the 200 beyond the limit closed at once
# and logged once, while another address (127.0.0.3, and the host through the
# forwarded port) still logs in; slow-loris logins (a leading Login PDU dripped a byte
# a second, and a discovery session dripping its operational-stage PDU) dropped after
# --login-timeout, measured; a half-open session (logged in through the portal, then
# never answering LIO's NOP-In) gone from connections.json within nopin interval +
# timeout + margin; CRC32C header and data digests: a discovery session with both
# through the portal, and open-iscsi negotiating both with LIO through the portal and
# writing and reading back a pattern. One VM boot. Clients: tools/portal-limits.py.
set -uo pipefail
source "$(dirname "$0")/common.sh"

LIMIT=16
LOGIN_TIMEOUT=6
NOPIN=3          # --nopin-interval and --nopin-timeout, LIO's minimum
TOOL=$TOP/tests/lab/tools/portal-limits.py
LOG=/var/log/scsipub-portal.log
CONNS=$GUEST_STATE/portal/connections.json
TPG=/sys/kernel/config/target/iscsi/$BLANK_IQN/tpgt_1

lab_up
check "stack starts in the lab" start_stack --max-conn-per-ip $LIMIT --login-rate 10 \
  --login-burst 40 --login-timeout $LOGIN_TIMEOUT --nopin-interval $NOPIN --nopin-timeout $NOPIN
check "the portal logs the hardening options" lab_exec \
  "grep -q 'option max-conn-per-ip=$LIMIT' $LOG && grep -q 'option login-timeout=$LOGIN_TIMEOUT' $LOG && \
   grep -q 'option nopin-interval=$NOPIN' $LOG"

# float_between VALUE LOW HIGH
float_between() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v != "" && v >= lo && v <= hi) }'; }
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2" | head -n1; }

# ---- per-address connection limit ----
echo "[${SECONDS}s] per-address connection limit"
REL=/tmp/limits-release
lab_exec "rm -f $REL; setsid python3 -S -B $TOOL flood $LAB_PORT $LIMIT 200 $REL >/tmp/flood.out 2>&1 </dev/null &"
wait_until 90 lab_exec "grep -q '^holding\|^error' /tmp/flood.out"
out=$(lab_exec "cat /tmp/flood.out"); echo "$out"
check "$LIMIT connections from 127.0.0.2 log in, the 200 beyond the limit are refused" \
  grep -q "^admitted=$LIMIT refused=200 first_refused=$LIMIT\$" <<<"$out"
check "meanwhile 127.0.0.3 runs a whole discovery session" grep -q '^other=ok targets=' <<<"$out"
ls_out=$(timeout 60 iscsi-ls -s "iscsi://127.0.0.1:$LAB_PORT" 2>&1); echo "$ls_out"
check "meanwhile the host (another address) discovers" \
  grep -q "Target:$BLANK_IQN Portal:127.0.0.1:$LAB_PORT,1" <<<"$ls_out"
check "meanwhile the host logs in to blank, writes and reads" "$PATTERN" \
  -c a=iqn.2025-01.test.scsipub:limits-host "iscsi://127.0.0.1:$LAB_PORT/$BLANK_IQN/0" \
  a:w:0:8:1 a:r:0:8:1
lab_exec "touch $REL"
wait_until 40 lab_exec "grep -q '^still_open=\|^error' /tmp/flood.out"
out=$(lab_exec "cat /tmp/flood.out"); echo "$out" | tail -n1
check "the $LIMIT admitted connections were still open" grep -q "^still_open=$LIMIT\$" <<<"$out"
check "the 200 refusals were logged once, not per connection" lab_exec \
  "[ \$(grep -c 'connection from 127.0.0.2 refused' $LOG) -eq 1 ]"

# ---- slow-loris logins, a half-open session, digests in discovery: all at once ----
echo "[${SECONDS}s] slow-loris, half-open, discovery digests"
check "the anonymous target offers CRC32C digests" lab_exec \
  "[ \"\$(cat $TPG/param/HeaderDigest)\" = CRC32C,None ] && [ \"\$(cat $TPG/param/DataDigest)\" = CRC32C,None ]"
HI=iqn.2025-01.test.scsipub:halfopen
out=$(lab_exec "timeout 120 python3 -S -B $TOOL together $LAB_PORT $HI $BLANK_IQN $CONNS $TPG/acls/$HI 2>&1")
echo "$out"
t1=$(field closed_after "$(grep '^loris-normal:' <<<"$out")")
t2=$(field closed_after "$(grep '^loris-discovery:' <<<"$out")")
# The accept loop looks every second; the client notices within its 1 s read.
check "a leading Login PDU dripped a byte a second is dropped after ~${LOGIN_TIMEOUT} s (${t1:-never})" \
  float_between "$t1" $((LOGIN_TIMEOUT - 1)) $((LOGIN_TIMEOUT + 4))
check "a discovery login dripping its second PDU is dropped after ~${LOGIN_TIMEOUT} s (${t2:-never})" \
  float_between "$t2" $((LOGIN_TIMEOUT - 1)) $((LOGIN_TIMEOUT + 4))
check "login timeouts are logged" lab_exec \
  "grep -q 'connection from 127.0.0.4 dropped: login not done within $LOGIN_TIMEOUT s' $LOG && \
   grep -q 'connection from 127.0.0.5 dropped: login not done within $LOGIN_TIMEOUT s' $LOG"
check "the half-open client logged in through the portal and was listed" \
  grep -q '^halfopen: listed' <<<"$out"
check "its ACL carries the NOP-In settings ($NOPIN s, $NOPIN s)" \
  grep -q "^halfopen: acl_nopin=$NOPIN,$NOPIN\$" <<<"$out"
tg=$(field gone_after "$(grep '^halfopen:' <<<"$out")")
# LIO's NOP-In after NOPIN idle seconds, NOPIN more for the answer; margin for TCG.
check "a session that stops answering is gone within nopin interval + timeout + margin (${tg:-never} s)" \
  float_between "$tg" 1 $((NOPIN + NOPIN + 10))
check "its LIO objects are torn down" wait_until 30 guest_configfs_clean
check "discovery with HeaderDigest=CRC32C and DataDigest=CRC32C through the portal" \
  grep -q '^crc: digests=CRC32C,CRC32C targets=[1-9]' <<<"$out"

# ---- CRC32C digests ----
echo "[${SECONDS}s] CRC32C digests"
check "open-iscsi: a node with HeaderDigest=CRC32C, DataDigest=CRC32C logs in" lab_exec "
  pgrep -x iscsid >/dev/null || iscsid
  iscsiadm -m discovery -t sendtargets -p 127.0.0.1:$LAB_PORT >/dev/null &&
  iscsiadm -m node -T $BLANK_IQN -p 127.0.0.1:$LAB_PORT -o update -n node.conn[0].iscsi.HeaderDigest -v CRC32C &&
  iscsiadm -m node -T $BLANK_IQN -p 127.0.0.1:$LAB_PORT -o update -n node.conn[0].iscsi.DataDigest -v CRC32C &&
  iscsiadm -m node -T $BLANK_IQN -p 127.0.0.1:$LAB_PORT --login >/dev/null &&
  iscsiadm -m session -P 2 >/tmp/session.txt"
out=$(lab_exec "cat /tmp/session.txt"); echo "$out" | grep -i digest
check "the session negotiated CRC32C header and data digests" \
  bash -c "grep -q 'HeaderDigest: CRC32C' <<<'$out' && grep -q 'DataDigest: CRC32C' <<<'$out'"
check "dd writes a 4 MiB pattern and reads it back with digests on" lab_exec "$GUEST_DISK
  session_disk_wait; dev=\$(session_disk)
  head -c 4194304 /dev/urandom >/tmp/pat &&
  dd if=/tmp/pat of=\$dev bs=1M oflag=direct status=none &&
  dd if=\$dev of=/tmp/back bs=1M count=4 iflag=direct status=none && cmp /tmp/pat /tmp/back"
check "no digest errors counted by LIO" lab_exec \
  "for f in $TPG/acls/*/fabric_statistics/iscsi_sess_stats/conn_digest_errors; do
     [ -e \"\$f\" ] || continue; [ \"\$(cat \$f)\" = 0 ] || exit 1; done"
check "open-iscsi logs out" lab_exec "iscsiadm -m node -T $BLANK_IQN -p 127.0.0.1:$LAB_PORT --logout"
check "no session objects left behind" wait_until 60 guest_configfs_clean
check "the portal process is still running" lab_exec "pgrep -x scsipub-portal >/dev/null"
echo "[${SECONDS}s] done"
finish
