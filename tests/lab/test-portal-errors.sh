#!/usr/bin/env bash
# The portal's error paths on the wire (issue 2, the portal): a login to an unknown
# target gets a Login Response with status "target not found" (class 2, detail 0x03,
# RFC 7143 §11.13.5) and is logged once per (IP, target) per 5 minutes; a login whose
# DataSegmentLength is over the cap gets "initiator error" (0x0200); a first PDU that
# is not a Login Request, and a connection that closes mid-PDU, are dropped; an
# Extended CDB AHS with AHSLength 0 closes the session before LIO sees it. After all
# of it the service still answers discovery and serves blank.
set -uo pipefail
source "$(dirname "$0")/common.sh"

lab_up
check "stack starts in the lab" start_stack

# login_pdu TARGET [DATALEN_OVERRIDE_HEX6]: a Login Request (opcode 0x03, immediate,
# T=1, CSG=1 → NSG=3) with InitiatorName/TargetName/SessionType, as printf escapes.
login_pdu() {
  local data="InitiatorName=iqn.2025-01.test.scsipub:errors\0TargetName=$1\0SessionType=Normal\0"
  local len; len=$(printf "$data" | wc -c)
  local pad=$(( (4 - len % 4) % 4 ))
  local dl=${2:-$(printf '%06x' "$len")}
  local hdr='\x43\x87\x00\x00\x00'
  hdr+="\\x${dl:0:2}\\x${dl:2:2}\\x${dl:4:2}"
  hdr+='\x40\x00\x01\x37\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01\x00\x00'
  hdr+='\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'
  printf "$hdr$data"
  head -c "$pad" /dev/zero
}

# send_recv BYTES_FILE: send the file to the portal, print the first 48 bytes of the
# reply as hex (empty when the portal closed without answering).
send_recv() {
  exec 3<>"/dev/tcp/127.0.0.1/$LAB_PORT" || return 1
  cat "$1" >&3
  timeout 20 head -c 48 <&3 | od -An -tx1 -v | tr -d ' \n'
  exec 3>&-
}

# Bytes 0 (opcode), 36 (status class) and 37 (status detail) of a Login Response.
resp_field() { echo "${1:$(($2 * 2)):2}"; }

d=$(mktemp -d)
login_pdu iqn.2025-01.pub.scsipub:image.no-such-image >"$d/unknown"
r1=$(send_recv "$d/unknown"); r2=$(send_recv "$d/unknown")
echo "unknown target responses: $r1 / $r2"
check "unknown target → Login Response 0x23, status 0x0203 (target not found)" \
  [ "$(resp_field "$r1" 0)$(resp_field "$r1" 36)$(resp_field "$r1" 37)" = 230203 ]
check "second attempt gets the same answer" [ "${r1:0:2}${r1:72:4}" = "${r2:0:2}${r2:72:4}" ]
check "unknown target logged once per (IP, target) per 5 minutes" lab_exec \
  "[ \$(grep -c 'unknown target iqn.2025-01.pub.scsipub:image.no-such-image' /var/log/scsipub-portal.log) -eq 1 ]"

login_pdu "$BLANK_IQN" ffffff >"$d/oversized"
r=$(send_recv "$d/oversized")
echo "oversized response: $r"
check "DataSegmentLength over the cap → Login Response status 0x0200 (initiator error)" \
  [ "$(resp_field "$r" 0)$(resp_field "$r" 36)$(resp_field "$r" 37)" = 230200 ]

head -c 48 /dev/zero | tr '\0' '\377' >"$d/garbage"
r=$(send_recv "$d/garbage")
check "a first PDU that is not a Login Request is dropped without an answer" [ -z "$r" ]

head -c 30 "$d/unknown" >"$d/short"
r=$(send_recv "$d/short")
check "a connection closed mid-PDU is dropped" [ -z "$r" ]
rm -rf "$d"

# An Extended CDB AHS (RFC 7143 §11.2.2.3) in Full Feature Phase: a well-formed one
# reaches LIO and the command is answered; one with AHSLength 0, which LIO since
# Linux 6.0 copies without a check (a kernel heap overflow), never reaches it: the
# portal closes the connection. Never sent to LIO's own port here.
PROBE="python3 -S -B $TOP/tests/lab/tools/session-probe.py"
r=$(lab_exec "$PROBE ahs $LAB_PORT iqn.2025-01.test.scsipub:ahs $BLANK_IQN 17" 2>&1)
echo "well-formed Extended CDB AHS: $r"
check "a well-formed Extended CDB AHS passes the portal: SCSI Response (21h)" \
  grep -q "^opcode=21 " <<<"$r"
r=$(lab_exec "$PROBE ahs $LAB_PORT iqn.2025-01.test.scsipub:ahs $BLANK_IQN 0" 2>&1)
echo "AHSLength 0: $r"
check "an Extended CDB AHS with AHSLength 0 is refused: connection closed" [ "$r" = closed ]
check "and the portal says why" lab_exec \
  "grep -q 'Extended CDB AHS with AHSLength 0' /var/log/scsipub-portal.log"
check "the guest kernel logged no oops" lab_exec "! dmesg | grep -qE 'BUG:|Oops|general protection'"

check "the portal process is still running" lab_exec "pgrep -x scsipub-portal >/dev/null"
out=$(iscsi-ls -s "iscsi://127.0.0.1:$LAB_PORT" 2>&1)
echo "$out"
check "discovery still works after the bad input" grep -q "Target:$BLANK_IQN Portal:127.0.0.1:$LAB_PORT,1" <<<"$out"
check "blank still serves I/O" "$PATTERN" -c a=iqn.2025-01.test.scsipub:errors-after \
  "iscsi://127.0.0.1:$LAB_PORT/$BLANK_IQN/0" a:w:0:8:1 a:r:0:8:1
check "no session objects left behind" wait_until 60 guest_configfs_clean
finish
