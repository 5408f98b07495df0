#!/usr/bin/env bash
# Acceptance 1 and 2 (issue 3): the CI flow with curl. POST /api/images from URLs on
# the lab's loopback (a raw ext4 image, an .img.xz and a .qcow2) answers 201 only when
# the image is ready; a wrong sha256 → 422 and nothing registered. A session on the
# image: open-iscsi logs in with CHAP and mounts it; DELETE /api/images while mounted
# → 409, after logout → 204. Over the account's byte budget → 413. A wrong CHAP secret
# is refused; the private IQN is absent from an anonymous SendTargets.
set -uo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/api.sh"

lab_api_images
sha_raw=$(sha256sum "$SRC/fs.img" | cut -d' ' -f1)
sha_xz=$(sha256sum "$SRC/fs.img.xz" | cut -d' ' -f1)
api_lab_up
check "source images served on the guest's loopback" serve_dir "$SRC"

api POST /api/images "{\"name\":\"ci-raw\",\"url\":\"$SRC_URL/fs.img\",\"sha256\":\"$sha_raw\"}"
check "POST /api/images (raw, sha256) → 201 when ready" [ "$API_CODE" = 201 ]
check "… with size_bytes and sha256" bash -c '[ "$1" = 16777216 ] && [ "$2" = "$3" ]' _ \
  "$(json_field size_bytes)" "$(json_field sha256)" "$sha_raw"
api POST /api/images "{\"name\":\"ci-xz\",\"url\":\"$SRC_URL/fs.img.xz\",\"sha256\":\"$sha_xz\"}"
check "POST /api/images (.img.xz) → 201, decompressed to 16 MiB" \
  bash -c '[ "$1" = 201 ] && [ "$2" = 16777216 ]' _ "$API_CODE" "$(json_field size_bytes)"
api POST /api/images "{\"name\":\"ci-qcow\",\"url\":\"$SRC_URL/fs.qcow2\"}"
check "POST /api/images (.qcow2) → 201, converted to raw 16 MiB" \
  bash -c '[ "$1" = 201 ] && [ "$2" = 16777216 ]' _ "$API_CODE" "$(json_field size_bytes)"
api POST /api/images "{\"name\":\"ci-bad\",\"url\":\"$SRC_URL/fs.img\",\"sha256\":\"$(printf '0%.0s' $(seq 64))\"}"
check "wrong sha256 → 422" [ "$API_CODE" = 422 ]
api GET /api/images/ci-bad
check "… and nothing registered (GET → 404)" [ "$API_CODE" = 404 ]
SMALL_KEY=$(lab_exec "DATABASE_URL=\$($TOP/scripts/pg-local.sh url $GUEST_STATE/pg) \
  $TOP/build/api-server/scsipub-api account-create small --image-budget 1048576" | tail -n1)
API_AUTH=$SMALL_KEY api POST /api/images "{\"name\":\"too-big\",\"url\":\"$SRC_URL/fs.img\"}"
check "an image over the account's byte budget → 413 with a clear message" \
  bash -c '[ "$1" = 413 ] && grep -qi budget <<<"$2"' _ "$API_CODE" "$API_BODY"
API_AUTH=$SMALL_KEY api GET /api/images/too-big
check "… and nothing registered" [ "$API_CODE" = 404 ]
api GET /api/images/ci-raw
check "GET /api/images/ci-raw shows it ready" bash -c 'grep -q "\"ready\"" <<<"$1"' _ "$API_BODY"

api POST /api/sessions '{"images":["ci-raw"]}'
check "POST /api/sessions → 201" [ "$API_CODE" = 201 ]
IQN=$(json_field iqn); CU=$(json_field chap_user); CS=$(json_field chap_secret); SID=$(json_field id)
echo "session $SID iqn=$IQN chap_user=$CU"
check "the session has an s.<id> IQN, one LUN and CHAP credentials" \
  bash -c '[[ "$1" == iqn.2025-01.pub.scsipub:s.* ]] && [ "$2" = 1 ] && [ -n "$3" ] && [ -n "$4" ]' _ \
  "$IQN" "$(json_field lun_count)" "$CU" "$CS"

st=$(iscsi-ls "iscsi://127.0.0.1:$LAB_PORT" 2>&1)
echo "$st"
check "anonymous SendTargets does not list the private IQN" bash -c '! grep -q ":s\." <<<"$1"' _ "$st"
check "a wrong CHAP secret is refused" bash -c '! "$1" -c a=iqn.2025-01.test.scsipub:wrong \
  "iscsi://$2%wrong-secret-123@127.0.0.1:$3/$4/0" a:cap:16777216' _ "$PATTERN" "$CU" "$LAB_PORT" "$IQN"

check "open-iscsi logs in with CHAP" lab_exec "
  pgrep -x iscsid >/dev/null || iscsid
  iscsiadm -m node -o new -T $IQN -p 127.0.0.1:$LAB_PORT >/dev/null &&
  iscsiadm -m node -T $IQN -p 127.0.0.1:$LAB_PORT -o update -n node.session.auth.authmethod -v CHAP &&
  iscsiadm -m node -T $IQN -p 127.0.0.1:$LAB_PORT -o update -n node.session.auth.username -v '$CU' &&
  iscsiadm -m node -T $IQN -p 127.0.0.1:$LAB_PORT -o update -n node.session.auth.password -v '$CS' &&
  iscsiadm -m node -T $IQN -p 127.0.0.1:$LAB_PORT --login"
check "the image mounts and its files read" lab_exec "$GUEST_DISK
  session_disk_wait; dev=\$(session_disk)
  mkdir -p /mnt/p && mount -t ext4 \$dev /mnt/p && grep -qx 'hello from the scsipub base image' /mnt/p/hello.txt"
api DELETE /api/images/ci-raw
check "DELETE /api/images while mounted → 409" [ "$API_CODE" = 409 ]
check "unmount and log out" lab_exec "umount /mnt/p && iscsiadm -m node -T $IQN -p 127.0.0.1:$LAB_PORT --logout"
del_ok() { api DELETE /api/images/ci-raw 2>/dev/null; [ "$API_CODE" = 204 ]; }
check "after logout (the session ends) DELETE /api/images → 204" wait_until 60 del_ok
api GET /api/sessions/"$SID"
check "the non-persistent session is gone after logout" [ "$API_CODE" = 404 ]
check "its configfs target and overlays are gone" lab_exec \
  "[ ! -e /sys/kernel/config/target/iscsi/$IQN ] && [ ! -e $GUEST_STATE/sessions/$SID ]"
finish
