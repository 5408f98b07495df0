#!/usr/bin/env bash
# Acceptance 7 (issue 3), against the real daemon in the lab: malformed requests (bad
# JSON, huge/negative numbers, wrong types, path traversal in names, missing or bad
# auth, oversized bodies) get only 4xx, the server keeps running, and no file appears
# outside the state directory. The 10 000-request in-process fuzz of the same handler
# is tests/unit/api-server (run by the unit suite); this sends 2 000 over the network.
set -uo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/api.sh"

api_lab_up
check "mark the time (files newer than this are checked afterwards)" lab_exec "touch /tmp/fuzz-mark"
out=$(python3 "$TOP/tests/lab/tools/api-fuzz.py" "127.0.0.1" "$LAB_API_PORT" "$API_KEY" 2000 2>&1)
echo "$out" | tail -n 15
check "every malformed request got a 4xx answer" grep -q '^non-4xx: 0$' <<<"$out"
check "no connection was refused or reset (the server kept running)" grep -q '^errors: 0$' <<<"$out"
check "scsipub-api is still running" lab_exec "pgrep -x scsipub-api >/dev/null"
api GET /api/sessions
check "and still answers a valid request (200)" [ "$API_CODE" = 200 ]
check "no file written outside the state directory and the logs" lab_exec "
  f=\$(find / /tmp /run -xdev -newer /tmp/fuzz-mark -type f 2>/dev/null | grep -v -e '^$GUEST_STATE/' -e '^/var/log/' -e '^/proc/' -e '^/tmp/fuzz-mark\$' | grep -v '^$TOP/build/lab/run')
  [ -z \"\$f\" ] || { echo \"\$f\"; false; }"
finish
