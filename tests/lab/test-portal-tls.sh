#!/usr/bin/env bash
# Acceptance of issue 4, "TLS terminator on 3261": the portal's TLS listener, reached
# through stunnel in client mode on the host (accepting plain iSCSI on a local port,
# speaking TLS to the forwarded TLS port), serves the same service as 3260:
#  - iscsi-ls through stunnel lists blank at the TLS public address (--tls-public =
#    the stunnel address, so SendTargets redirects stay inside TLS) and logs in;
#  - login + write/read of a pattern (1 MiB) through stunnel, the portal's sending side
#    in kernel TLS (tls(7): OpenSSL's SSL_OP_ENABLE_KTLS; the relay splices into it);
#  - the certificate files replaced under a live session: `openssl s_client` sees the
#    new certificate within the reload interval (2 s here; default 60 s, asserted by
#    the options unit test) while the session keeps its connection and its I/O works;
#    a broken certificate file afterwards keeps the new one in service;
#  - TLS 1.1 (s_client -tls1_1 at SECLEVEL=0, so the client really offers it) gets a
#    protocol_version alert; TLS 1.2 and 1.3 are accepted;
#  - a plain-TCP Login PDU sent to the TLS port gets no iSCSI answer, and the portal
#    keeps serving.
set -uo pipefail
source "$(dirname "$0")/common.sh"
trap '' PIPE # a resume written to an initiator that already failed must not end the test

command -v stunnel >/dev/null || { fail "stunnel installed (scripts/deps.sh: stunnel4)"; finish; exit 1; }

LAB_TLS_PORT=$(free_port)
while [ "$LAB_TLS_PORT" = "${LAB_PORT:-}" ]; do LAB_TLS_PORT=$(free_port); done
export LAB_TLS_PORT
lab_up
[ "$LAB_TLS_PORT" != "$LAB_PORT" ] || { fail "distinct forwarded ports"; finish; exit 1; }

SPORT=$(free_port)
while [ "$SPORT" = "$LAB_PORT" ] || [ "$SPORT" = "$LAB_TLS_PORT" ]; do SPORT=$(free_port); done
TLSDIR=$GUEST_STATE/tls
STUN=$(mktemp -d)
STUNNEL_PID=
trap '[ -z "$STUNNEL_PID" ] || kill "$STUNNEL_PID" 2>/dev/null; rm -rf "$STUN"; [ "$FAILED" -eq 0 ] || { cat "$STUN/stunnel.log" 2>/dev/null; lab_logs; }; lab_stop' EXIT

# The session held across the certificate swap idles at "wait": no NOP-In pings
# within the test (LIO would drop an initiator that is blocked on its stdin).
check "stack starts in the lab with the TLS listener" start_stack \
  --tls-public "127.0.0.1:$SPORT" --tls-reload-interval 2 --nopin-interval 60 --nopin-timeout 60
listening() { # PORT (guest)
  lab_exec "grep -q ':$(printf '%04X' "$1") 00000000:0000 0A' /proc/net/tcp" >/dev/null
}
check "the TLS listener is up" wait_until 30 listening "$LAB_TLS_PORT"
# The certificate provision.sh generated (its fingerprint), and the portal's log line.
old=$(lab_exec "grep -q 'TLS listening on 0.0.0.0:$LAB_TLS_PORT' /var/log/scsipub-portal.log && \
  [ -s $TLSDIR/portal.key ] && openssl x509 -in $TLSDIR/portal.crt -noout -fingerprint -sha256" |
  cut -d= -f2)
check "provision generated a self-signed certificate, the portal serves TLS with it" [ -n "$old" ]

cat >"$STUN/stunnel.conf" <<EOF
foreground = yes
pid =
output = $STUN/stunnel.log
debug = 5
[iscsi-tls]
client = yes
accept = 127.0.0.1:$SPORT
connect = 127.0.0.1:$LAB_TLS_PORT
EOF
stunnel "$STUN/stunnel.conf" >/dev/null 2>&1 &
STUNNEL_PID=$!
host_listening() { grep -qi ":$(printf '%04X' "$SPORT") 00000000:0000 0A" /proc/net/tcp; }
check "stunnel (client mode) accepts on 127.0.0.1:$SPORT" wait_until 20 host_listening

# --- discovery and I/O through stunnel ---
out=$(iscsi-ls -s "iscsi://127.0.0.1:$SPORT" 2>&1)
echo "$out"
check "iscsi-ls through stunnel lists blank at the TLS public address" \
  grep -q "Target:$BLANK_IQN Portal:127.0.0.1:$SPORT,1" <<<"$out"
check "iscsi-ls through stunnel logs in to blank (LUN 0 listed)" \
  bash -c "grep -A3 'Target:$BLANK_IQN' <<<\"\$1\" | grep -q 'Lun:0'" _ "$out"
out=$(iscsi-ls -s "iscsi://127.0.0.1:$LAB_PORT" 2>&1)
check "plain 3260 discovery still advertises the plain address" \
  grep -q "Target:$BLANK_IQN Portal:127.0.0.1:$LAB_PORT,1" <<<"$out"
check "login + write/read of a 1 MiB pattern through stunnel" "$PATTERN" \
  -c a=iqn.2025-01.test.scsipub:tls-a "iscsi://127.0.0.1:$SPORT/$BLANK_IQN/0" \
  a:w:0:2048:7 a:r:0:2048:7 a:w:4096:8:8 a:r:4096:8:8 a:r:0:2048:7
# Kernel TLS (the tls module, loaded by scsipub-ctl load-modules): OpenSSL gave the
# sending side of the portal's sockets to the kernel, so the 1 MiB reads above went
# LIO socket -> pipe -> TLS socket by splice and were encrypted by the kernel; the
# pattern tool checked every byte. tls(7) counts such sockets in TlsTxSw.
tls_tx_sockets() { lab_exec "awk '/^TlsTxSw/ {print \$2}' /proc/net/tls_stat"; }
check "kernel TLS carried what the portal sent (tls_stat TlsTxSw > 0)" \
  bash -c '[ "${1:-0}" -gt 0 ]' _ "$(tls_tx_sockets)"

# --- certificate swap under a live session ---
served_fpr() {
  timeout 15 openssl s_client -connect "127.0.0.1:$LAB_TLS_PORT" </dev/null 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2
}
now=$(served_fpr)
echo "certificate in the guest: $old; served: $now"
same_nonempty() { [ -n "$1" ] && [ "$1" = "$2" ]; }
check "the served certificate is the generated one" same_nonempty "$old" "$now"

IB=iqn.2025-01.test.scsipub:tls-held
pattern_bg -c b=$IB "iscsi://127.0.0.1:$SPORT/$BLANK_IQN/0" \
  b:w:0:256:9 wait b:r:0:256:9 b:w:256:256:10 b:r:256:256:10 b:r:0:256:9 wait
check "held session: logged in through stunnel and wrote" pattern_at_wait
held_peer() { # the portal's peer address of the held session's (only) connection
  lab_exec "grep -o '{[^}]*}' $GUEST_STATE/portal/connections.json | \
    grep '\"initiator\":\"$IB\"' | grep -o '\"peer\":\"[^\"]*\"'" | tr '\n' ' ' | sed 's/ $//'
}
held_listed() { [ -n "$(held_peer)" ]; }
wait_until 5 held_listed  # the portal writes connections.json at most once a second
peer_before=$(held_peer)
echo "held session's connection: $peer_before"
check "held session is one relayed connection" [ "$(wc -w <<<"$peer_before")" = 1 ]

new=$(lab_exec "cd $TLSDIR && openssl req -config req.cnf -x509 -newkey ec \
  -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=replaced.test \
  -keyout new.key -out new.crt 2>/dev/null && \
  chgrp scsipub new.key new.crt && chmod 0640 new.key && \
  mv new.key portal.key && mv new.crt portal.crt && \
  openssl x509 -in portal.crt -noout -fingerprint -sha256" | cut -d= -f2)
echo "replacement certificate: $new"
check "the replacement certificate differs" bash -c '[ -n "$1" ] && [ "$1" != "$2" ]' _ "$new" "$old"
served_is() { [ -n "$1" ] && [ "$(served_fpr)" = "$1" ]; }
t0=$SECONDS
check "s_client sees the new certificate without a restart (reload interval 2 s)" \
  wait_until 30 served_is "$new"
echo "switched after about $((SECONDS - t0)) s"
check "the portal logged the reload, and was not restarted" lab_exec \
  "grep -q 'TLS certificate reloaded from $TLSDIR/portal.crt (subject /CN=replaced.test' \
   /var/log/scsipub-portal.log && [ \$(grep -c 'TLS listening on' /var/log/scsipub-portal.log) -eq 1 ]"

pattern_resume
waited_twice() { [ "$(grep -c '^waiting' "$PAT_DIR/out")" -ge 2 ] || ! kill -0 "$PAT_PID" 2>/dev/null; }
wait_until 120 waited_twice
check "held session: read/write after the swap succeeded" \
  bash -c "[ \$(grep -c '^waiting' '$PAT_DIR/out') -ge 2 ]"
peer_after=$(held_peer)
echo "held session's connection after the swap: $peer_after"
check "held session kept its connection (no reconnect)" same_nonempty "$peer_after" "$peer_before"
pattern_resume
check "held session ends cleanly" pattern_join

# A broken certificate file: logged, the replacement stays in service.
lab_exec "printf -- '-----BEGIN CERTIFICATE-----\nbroken\n' >$TLSDIR/portal.crt.tmp && \
  mv $TLSDIR/portal.crt.tmp $TLSDIR/portal.crt"
check "a broken certificate file is logged" wait_until 30 lab_exec \
  "grep -q 'TLS certificate/key changed but cannot be used' /var/log/scsipub-portal.log"
check "... and the previous certificate stays in service" served_is "$new"

# --- protocol versions ---
out=$(timeout 15 openssl s_client -connect "127.0.0.1:$LAB_TLS_PORT" -tls1_1 \
  -cipher 'DEFAULT@SECLEVEL=0' </dev/null 2>&1)
rc=$?
echo "$out" | head -n 3
check "TLS 1.1 is refused by the portal (protocol_version alert)" \
  bash -c "[ $rc -ne 0 ] && grep -q 'alert protocol version' <<<\"\$1\"" _ "$out"
out=$(timeout 15 openssl s_client -connect "127.0.0.1:$LAB_TLS_PORT" -tls1_2 </dev/null 2>&1)
check "TLS 1.2 is accepted" grep -q 'New, TLSv1.2' <<<"$out"
out=$(timeout 15 openssl s_client -connect "127.0.0.1:$LAB_TLS_PORT" -tls1_3 </dev/null 2>&1)
check "TLS 1.3 is accepted" grep -q 'New, TLSv1.3' <<<"$out"

# --- plain iSCSI on the TLS port ---
# A Login Request (opcode 0x43, T=1, CSG=1 → NSG=3) for blank, as printf escapes.
login_pdu() {
  local data="InitiatorName=iqn.2025-01.test.scsipub:plain\0TargetName=$BLANK_IQN\0SessionType=Normal\0"
  local len; len=$(printf "$data" | wc -c)
  local hdr='\x43\x87\x00\x00\x00'
  hdr+="\\x$(printf '%02x' $((len >> 16)))\\x$(printf '%02x' $(((len >> 8) & 255)))\\x$(printf '%02x' $((len & 255)))"
  hdr+='\x40\x00\x01\x37\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01\x00\x00'
  hdr+='\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'
  printf "$hdr$data"
  head -c $(( (4 - len % 4) % 4 )) /dev/zero
}
plain_reply() {
  exec 3<>"/dev/tcp/127.0.0.1/$LAB_TLS_PORT" || return 1
  login_pdu >&3
  timeout 20 head -c 48 <&3 2>/dev/null | od -An -tx1 -v | tr -d ' \n'
  exec 3>&-
}
r=$(plain_reply)
echo "plain login on the TLS port got: ${r:-nothing}"
check "a plain Login PDU on the TLS port gets no Login Response" [ "${r:0:2}" != 23 ]
check "... at most a TLS alert record" bash -c "[ -z '$r' ] || [ '${r:0:2}' = 15 ]"
check "the portal process is still running" lab_exec "pgrep -x scsipub-portal >/dev/null"
out=$(iscsi-ls -s "iscsi://127.0.0.1:$SPORT" 2>&1)
check "discovery through stunnel still works afterwards" \
  grep -q "Target:$BLANK_IQN Portal:127.0.0.1:$SPORT,1" <<<"$out"
check "no session objects left behind" wait_until 60 guest_configfs_clean
finish
