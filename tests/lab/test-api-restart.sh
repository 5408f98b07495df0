#!/usr/bin/env bash
# Acceptance 5 (issue 3): kill -9 of scsipub-api and the portal mid-session; restart:
# the session comes back from PostgreSQL into configfs before the portal accepts
# logins, and its data is there; the janitor leaves no leaked overlay or backstore.
set -uo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/api.sh"

api_lab_up
api POST /api/sessions '{"images":["blank"],"persistent":true,"ttl_s":600}'
check "persistent session → 201" [ "$API_CODE" = 201 ]
SID=$(json_field id); IQN=$(json_field iqn); CU=$(json_field chap_user); CS=$(json_field chap_secret)
url="iscsi://$CU%$CS@127.0.0.1:$LAB_PORT/$IQN/0"
I=iqn.2025-01.test.scsipub:restart
pattern_bg -c a=$I "$url" a:w:2000:16:51 a:sync wait a:r:2000:16:51
check "logged in, written and synced" pattern_at_wait
# A leak for the janitor: a pv* backstore and overlay directory no session owns.
check "plant a leaked pv backstore and overlay directory" lab_exec "
  $TOP/build/configfs-manager/scsipub-ctl backstore-create pvdeadbeefl0 1048576 \
    'cow/size=1048576;overlay=/tmp/leak.ovl;bitmap=/tmp/leak.bm' &&
  mkdir -p $GUEST_STATE/sessions/deadbeef && touch $GUEST_STATE/sessions/deadbeef/lun0.ovl"
check "kill -9 scsipub-api and scsipub-portal mid-session" lab_exec \
  "pkill -9 -x scsipub-api; pkill -9 -x scsipub-portal
   while pidof scsipub-api scsipub-portal >/dev/null; do sleep 0.1; done"
kill "$PAT_PID" 2>/dev/null; pattern_join >/dev/null   # its connection died with the portal
# Lose the session's configfs objects too (as a reboot would); overlay files stay.
check "remove the session's target and backstore from configfs" lab_exec "
  $TOP/build/configfs-manager/scsipub-ctl target-remove $IQN &&
  $TOP/build/configfs-manager/scsipub-ctl backstore-remove pv${SID}l0 &&
  [ ! -e /sys/kernel/config/target/iscsi/$IQN ]"
check "restart both (the api restores sessions before the portal starts)" lab_exec "
  SCSIPUB_PORT=$LAB_PORT SCSIPUB_PUBLIC=127.0.0.1:$LAB_PORT SCSIPUB_IMAGES=$IMAGES \
  SCSIPUB_API_LISTEN=0.0.0.0:$LAB_API_PORT SCSIPUB_API_ARGS='--janitor-interval 2' \
  SCSIPUB_START_DAEMONS=1 $TOP/vagrant/provision.sh restart-control"
api GET "/api/sessions/$SID"
check "the session is back (GET /api/sessions/<id> → 200)" [ "$API_CODE" = 200 ]
check "its target and backstore are in configfs again (restored from PostgreSQL)" lab_exec "[ -d /sys/kernel/config/target/iscsi/$IQN/tpgt_1/lun/lun_0 ] &&
  ls -d /sys/kernel/config/target/core/user_*/pv${SID}l0"
check "re-login: the synced data is there" "$PATTERN" -c a=$I "$url" a:r:2000:16:51
swept() { lab_exec "! ls -d /sys/kernel/config/target/core/user_*/pvdeadbeefl0 2>/dev/null | grep -q . &&
  [ ! -e $GUEST_STATE/sessions/deadbeef ]" >/dev/null; }
check "the janitor removed the leaked backstore and overlay directory" wait_until 60 swept
check "the live session's objects survived the janitor" lab_exec "[ -e $GUEST_STATE/sessions/$SID/lun0.ovl ]"
finish
