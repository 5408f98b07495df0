#!/usr/bin/env bash
# Acceptance 3 (issue 3): a session with 3 images. REPORT LUNS lists 3; libiscsi reads
# each LUN's own base; writes to LUN 1 don't appear on LUN 0 or 2.
set -uo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/api.sh"

lab_api_images
api_lab_up
check "source images served on the guest's loopback" serve_dir "$SRC"
for i in 0 1 2; do
  api POST /api/images "{\"name\":\"lun$i\",\"url\":\"$SRC_URL/lun$i.img\"}"
  check "image lun$i registered (201)" [ "$API_CODE" = 201 ]
done
# Persistent, so the separate libiscsi logins below see one and the same session.
api POST /api/sessions '{"images":["lun0","lun1","lun2"],"persistent":true,"ttl_s":600}'
check "POST /api/sessions with 3 images → 201, lun_count 3" \
  bash -c '[ "$1" = 201 ] && [ "$2" = 3 ]' _ "$API_CODE" "$(json_field lun_count)"
IQN=$(json_field iqn); CU=$(json_field chap_user); CS=$(json_field chap_secret)
url="iscsi://$CU%$CS@127.0.0.1:$LAB_PORT/$IQN/0"
I=iqn.2025-01.test.scsipub:multilun

check "REPORT LUNS lists 3" "$PATTERN" -c a=$I "$url" a:luns:3
check "each LUN reads its own base (libiscsi)" "$PATTERN" -c a=$I "$url" \
  a:lun:0 a:file:0:2048:"$SRC/lun0.img" a:lun:1 a:file:0:2048:"$SRC/lun1.img" \
  a:lun:2 a:file:0:2048:"$SRC/lun2.img"
check "write a pattern to LUN 1 and read it back" "$PATTERN" -c a=$I "$url" \
  a:lun:1 a:w:0:64:77 a:sync a:r:0:64:77
check "LUN 0 and LUN 2 still read their own base at those LBAs; LUN 1 keeps the write" \
  "$PATTERN" -c a=$I "$url" a:lun:0 a:file:0:64:"$SRC/lun0.img" \
  a:lun:2 a:file:0:64:"$SRC/lun2.img" a:lun:1 a:r:0:64:77 a:file:64:1984:"$SRC/lun1.img"
SID=${IQN##*:s.}
api DELETE "/api/sessions/$SID"
check "DELETE /api/sessions/<id> → 204" [ "$API_CODE" = 204 ]
check "its configfs target is gone" lab_exec "[ ! -e /sys/kernel/config/target/iscsi/$IQN ]"
finish
