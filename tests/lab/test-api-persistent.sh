#!/usr/bin/env bash
# Acceptance 4 (issue 3): a persistent session keeps its overlays across a disconnect
# (suspended); a re-login with the same credentials sees the same data; after its TTL
# it is evicted: overlay files removed, configfs clean. A non-persistent session is
# destroyed when its connection closes.
set -uo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/api.sh"

api_lab_up
api POST /api/sessions '{"images":["blank"],"persistent":true,"ttl_s":15}'
check "persistent session on blank → 201" [ "$API_CODE" = 201 ]
SID=$(json_field id); IQN=$(json_field iqn); CU=$(json_field chap_user); CS=$(json_field chap_secret)
url="iscsi://$CU%$CS@127.0.0.1:$LAB_PORT/$IQN/0"
I=iqn.2025-01.test.scsipub:persistent
check "write and sync, then disconnect" "$PATTERN" -c a=$I "$url" a:w:1000:32:41 a:sync
state_is() { api GET "/api/sessions/$SID" 2>/dev/null; grep -q "\"state\": *\"$1\"" <<<"$API_BODY"; }
check "after the disconnect the session is suspended, not destroyed" wait_until 30 state_is suspended
check "its overlay is kept while suspended" lab_exec "ls $GUEST_STATE/sessions/$SID/lun0.ovl"
check "re-login with the same credentials: the data is still there" \
  "$PATTERN" -c a=$I "$url" a:r:1000:32:41
gone() { api GET "/api/sessions/$SID" 2>/dev/null; [ "$API_CODE" = 404 ]; }
check "after the TTL the session is evicted" wait_until 90 gone
check "overlay files removed, configfs clean" lab_exec \
  "[ ! -e $GUEST_STATE/sessions/$SID ] && [ ! -e /sys/kernel/config/target/iscsi/$IQN ] &&
   ! ls -d /sys/kernel/config/target/core/user_*/pv* 2>/dev/null | grep -q ."

api POST /api/sessions '{"images":["blank"]}'
SID=$(json_field id); IQN=$(json_field iqn); CU=$(json_field chap_user); CS=$(json_field chap_secret)
check "non-persistent session: write, then disconnect" "$PATTERN" -c a=$I \
  "iscsi://$CU%$CS@127.0.0.1:$LAB_PORT/$IQN/0" a:w:0:8:3
check "a non-persistent session is destroyed when its connection closes" wait_until 30 gone
finish
