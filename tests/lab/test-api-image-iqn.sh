#!/usr/bin/env bash
# Issue 11, "private images by IQN": the IQN POST /api/images hands out is one you log
# in to. iqn.2025-01.pub.scsipub:p.<account>.<name> through the portal: one-way CHAP
# with the account's credentials (GET /api/account/iscsi) required, checked by LIO;
# each connection gets its own copy-on-write overlay of the image, gone when it
# closes; never listed by SendTargets; a wrong secret, no CHAP, another account's
# credentials and a rotated-away secret are refused; DELETE while a connection is
# logged in → 409 with a clear message, after logout → 204, and a login to the deleted
# image gets 0x0203; nothing is left in configfs or the state directory.
set -uo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/api.sh"

lab_api_images
IMG=$SRC/fs.img
sha=$(sha256sum "$IMG" | cut -d' ' -f1)
api_lab_up
check "source images served on the guest's loopback" serve_dir "$SRC"

api POST /api/images "{\"name\":\"ci-pi-abc123\",\"url\":\"$SRC_URL/fs.img\",\"sha256\":\"$sha\"}"
IQN=$(json_field iqn)
check "POST /api/images → 201 with the image's own IQN (p.<account>.<name>)" \
  bash -c '[ "$1" = 201 ] && [[ "$2" =~ ^iqn\.2025-01\.pub\.scsipub:p\.[1-9][0-9]*\.ci-pi-abc123$ ]]' \
  _ "$API_CODE" "$IQN"
api GET /api/images/ci-pi-abc123
check "GET /api/images/<name> returns the same IQN" [ "$(json_field iqn)" = "$IQN" ]
api GET /api/account/iscsi
CU=$(json_field chap_user); CS=$(json_field chap_secret)
check "GET /api/account/iscsi → 200: CHAP user (the account's name) and a secret" \
  bash -c '[ "$1" = 200 ] && [ "$2" = ci ] && [[ "$3" =~ ^[A-Za-z0-9]{24}$ ]] && [[ "$4" == "${5%ci-pi-abc123}" ]]' \
  _ "$API_CODE" "$CU" "$CS" "$(json_field iqn_prefix)" "$IQN"
api GET /api/account/iscsi
check "… the same secret when asked again" bash -c '[ -n "$1" ] && [ "$1" = "$2" ]' _ "$(json_field chap_secret)" "$CS"
check "the credentials file scsipub-cfgd reads is private (0600)" lab_exec \
  "f=\$(ls $GUEST_STATE/images/*/iscsi-chap); [ \$(stat -c %a \$f) = 600 ]"

url() { echo "iscsi://$1@127.0.0.1:$LAB_PORT/$IQN/0"; }
I=iqn.2025-01.test.scsipub:pi
st=$(iscsi-ls "iscsi://127.0.0.1:$LAB_PORT" 2>&1)
check "anonymous SendTargets does not list the private image" bash -c '! grep -q ":p\." <<<"$1"' _ "$st"
check "a wrong CHAP secret is refused" bash -c '! "$1" -c a=$2 "$3" a:cap:16777216' _ \
  "$PATTERN" "$I" "$(url "$CU%wrong-secret-123")"
check "a login without CHAP is refused" bash -c '! "$1" -c a=$2 "$3" a:cap:16777216' _ \
  "$PATTERN" "$I" "iscsi://127.0.0.1:$LAB_PORT/$IQN/0"
OTHER_KEY=$(lab_exec "DATABASE_URL=\$($TOP/scripts/pg-local.sh url $GUEST_STATE/pg) \
  $TOP/build/api-server/scsipub-api account-create other --image-budget 1048576" | tail -n1)
API_AUTH=$OTHER_KEY api GET /api/account/iscsi
OU=$(json_field chap_user); OS=$(json_field chap_secret)
check "another account's valid credentials are refused" bash -c '[ "$1" = other ] && \
  ! "$2" -c a=$3 "$4" a:cap:16777216' _ "$OU" "$PATTERN" "$I" "$(url "$OU%$OS")"
check "no refused login left a session behind" wait_until 30 lab_exec \
  "[ ! -e /sys/kernel/config/target/iscsi/$IQN ] && [ -z \"\$(ls -A $GUEST_STATE/overlays)\" ]"

# Two connections at once, the same InitiatorName (a rack of cloned Pis): each writes
# its own pattern over the image and reads the other's LBAs as the image's bytes.
check "two CHAP logins at once: 16 MiB each, private overlays over the image" \
  "$PATTERN" -c a=$I -c b=$I "$(url "$CU%$CS")" a:cap:16777216 b:cap:16777216 \
    a:file:0:64:"$IMG" a:w:0:64:11 b:file:0:64:"$IMG" b:w:64:8:22 a:r:0:64:11 \
    a:file:64:8:"$IMG" b:r:64:8:22
pattern_bg -c a=$I "$(url "$CU%$CS")" a:w:0:8:5 a:r:0:8:5 wait a:r:0:8:5
check "a connection holds the image (written, read back)" pattern_at_wait
check "connections.json lists it with the client's name" wait_until 5 lab_exec \
  "grep -q '\"target\":\"$IQN\"' $GUEST_STATE/portal/connections.json"
check "the TPG asks for CHAP; the session's ACL carries the account's" lab_exec \
  "T=/sys/kernel/config/target/iscsi/$IQN/tpgt_1; [ \$(cat \$T/attrib/authentication) = 1 ] && \
   a=\$(ls \$T/acls) && [ \$(echo \"\$a\" | wc -l) = 1 ] && [ \$(cat \$T/acls/\$a/auth/userid) = $CU ]"
api DELETE /api/images/ci-pi-abc123
check "DELETE while a connection is logged in → 409 naming the IQN" \
  bash -c '[ "$1" = 409 ] && grep -q "log them out" <<<"$2" && grep -qF "$3" <<<"$2"' _ \
  "$API_CODE" "$API_BODY" "$IQN"
api POST /api/account/iscsi '{"rotate": true}'
NS=$(json_field chap_secret)
check "POST /api/account/iscsi {\"rotate\": true} → a new secret" \
  bash -c '[ "$1" = 200 ] && [[ "$2" =~ ^[A-Za-z0-9]{24}$ ]] && [ "$2" != "$3" ]' _ "$API_CODE" "$NS" "$CS"
check "the old secret is refused after the rotation" bash -c '! "$1" -c a=$2 "$3" a:cap:16777216' _ \
  "$PATTERN" "$I" "$(url "$CU%$CS")"
check "the new one logs in and reads the image, not the held session's writes" \
  "$PATTERN" -c a=$I "$(url "$CU%$NS")" a:file:0:8:"$IMG"
pattern_resume
check "the session logged in before the rotation keeps running" pattern_join
api POST /api/account/iscsi '{"rotate": false}'
check "POST /api/account/iscsi without rotate: true → 400" [ "$API_CODE" = 400 ]
del_ok() { api DELETE /api/images/ci-pi-abc123 2>/dev/null; [ "$API_CODE" = 204 ]; }
check "after logout DELETE /api/images → 204" wait_until 60 del_ok
out=$("$PATTERN" -c a=$I "$(url "$CU%$NS")" a:cap:16777216 2>&1); rc=$?
echo "$out"
check "a login to the deleted image is refused: target not found (0x0203)" \
  bash -c '[ "$1" != 0 ] && grep -qi "target not found" <<<"$2"' _ "$rc" "$out"
# The last session's teardown runs in scsipub-cfgd's worker after its release: wait for it.
check "nothing left: no target, no backstore, no overlay, no image file" wait_until 30 lab_exec \
  "[ ! -e /sys/kernel/config/target/iscsi/$IQN ] && \
   ! ls -d /sys/kernel/config/target/core/user_*/sp* 2>/dev/null | grep -q . && \
   [ -z \"\$(ls -A $GUEST_STATE/overlays)\" ] && ! ls $GUEST_STATE/images/*/ci-pi-abc123.img 2>/dev/null"
check "no log of the stack holds a CHAP secret" lab_exec \
  "! grep -rqF -e '$CS' -e '$NS' -e '$OS' /var/log/scsipub* $GUEST_STATE/*.log 2>/dev/null"
finish
