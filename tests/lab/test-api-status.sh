#!/usr/bin/env bash
# Acceptance 6 (issue 3): the status page renders in headless Chromium (a screenshot is
# taken and the rendered DOM has the live session's row); /status as JSON lists it;
# the admin page lists the live connection; /metrics parses as Prometheus text.
set -uo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/api.sh"

api_lab_up
api POST /api/sessions '{"images":["blank"],"persistent":true,"ttl_s":600}'
SID=$(json_field id); IQN=$(json_field iqn); CU=$(json_field chap_user); CS=$(json_field chap_secret)
check "a session exists" [ -n "$SID" ]
I=iqn.2025-01.test.scsipub:status
pattern_bg -c a=$I "iscsi://$CU%$CS@127.0.0.1:$LAB_PORT/$IQN/0" a:w:0:64:9 wait
check "an initiator is logged in and has written" pattern_at_wait
live() { api GET "/api/sessions/$SID" 2>/dev/null; grep -q '"state": *"live"' <<<"$API_BODY"; }
check "the session is live" wait_until 30 live

shots=$TOP/build/test-logs; mkdir -p "$shots"
prof=$(mktemp -d)
chrome=(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --user-data-dir="$prof" --window-size=1280,900)
dom=$(timeout 120 "${chrome[@]}" --dump-dom "http://127.0.0.1:$LAB_API_PORT/status" 2>/dev/null)
check "headless Chromium renders /status with the live session's row" \
  bash -c 'grep -q "<tr" <<<"$1" && grep -q "$2" <<<"$1"' _ "$dom" "$SID"
rm -f "$shots/status.png"
timeout 120 "${chrome[@]}" --screenshot="$shots/status.png" "http://127.0.0.1:$LAB_API_PORT/status" >/dev/null 2>&1
check "a screenshot of the status page is taken ($shots/status.png)" \
  bash -c '[ -s "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d " \n")" = 89504e470d0a1a0a ]' _ "$shots/status.png"
rm -rf "$prof"

st=$(curl -s -H 'Accept: application/json' "http://127.0.0.1:$LAB_API_PORT/status")
check "/status as JSON lists the session, uptime and versions" python3 -c '
import json, sys
s = json.loads(sys.argv[1])
assert any(x.get("id") == sys.argv[2] for x in s["sessions"]), s
assert s["uptime_s"] >= 0 and s["versions"]' "$st" "$SID"
API_AUTH=$ADMIN_KEY api GET /admin
check "the admin page lists the live connection with initiator and target" \
  bash -c '[ "$1" = 200 ] && grep -q "$2" <<<"$3" && grep -q "$4" <<<"$3"' _ "$API_CODE" "$I" "$API_BODY" "$IQN"
api GET /admin
check "the admin page refuses an account key (401/403)" bash -c '[ "$1" = 401 ] || [ "$1" = 403 ]' _ "$API_CODE"

metrics=$(curl -s "http://127.0.0.1:$LAB_API_PORT/metrics")
echo "$metrics" | head -20
check "/metrics parses as Prometheus text (prometheus_client's parser)" /usr/bin/python3 -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(sys.argv[1])}
assert "scsipub_sessions" in fams and "scsipub_uptime_seconds" in fams, sorted(fams)
assert sum(s.value for s in fams["scsipub_sessions"].samples) >= 1' "$metrics"
pattern_resume; pattern_join >/dev/null
finish
