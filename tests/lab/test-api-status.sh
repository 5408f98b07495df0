#!/usr/bin/env bash
# Acceptance 6 (issue 3) and 4 (issue 8 §3) against the real daemon:
#  - two accounts, each with a private image and a persistent session (one logged in
#    and written to);
#  - /status without a key, as HTML (rendered by headless Chromium, with a screenshot)
#    and as JSON: health, counts and the catalog, but no account name, session id,
#    private image name or session row; with an account's key only that account's
#    rows (both accounts, HTML and JSON); with the admin key every row;
#  - the admin page lists the live connection and refuses an account key; /metrics
#    parses as Prometheus text and names no account, session or image;
#  - HTTPS of the API with the portal's certificate: curl --cacert <the portal's
#    certificate> succeeds, the served certificate's fingerprint is the portal's; the
#    files replaced: the new certificate is served within the reload interval (2 s);
#    a broken certificate file keeps it.
set -uo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/api.sh"

LAB_HTTPS_PORT=$(free_port); export LAB_HTTPS_PORT
# Image sources are served on the guest's loopback: let the fetch reach it.
allow=
"$TOP/build/api-server/scsipub-api" --help 2>/dev/null | grep -q -- --fetch-allow-net &&
  allow="--fetch-allow-net 127.0.0.0/8"
STACK_API_ARGS="--tls-reload-interval 2 $allow"
api_lab_up
[ "$LAB_HTTPS_PORT" != "$LAB_API_PORT" ] && [ "$LAB_HTTPS_PORT" != "$LAB_PORT" ] ||
  { fail "distinct forwarded ports"; finish; exit 1; }
WORK=$(mktemp -d)

KEY_B=$(lab_exec "DATABASE_URL=\$($TOP/scripts/pg-local.sh url $GUEST_STATE/pg) \
  $TOP/build/api-server/scsipub-api account-create bob-acct --image-budget 268435456" | tail -n1)
check "a second account (bob-acct)" bash -c '[[ "$1" =~ ^[0-9a-f]{32,}$ ]]' _ "$KEY_B"
lab_exec "mkdir -p /tmp/src && head -c 1048576 /dev/urandom >/tmp/src/secret.img" >/dev/null
check "an image source on the guest's loopback" serve_dir /tmp/src
api POST /api/images "{\"name\":\"ci-hidden-img\",\"url\":\"$SRC_URL/secret.img\"}"
check "account ci has a private image (201)" [ "$API_CODE" = 201 ]
API_AUTH=$KEY_B api POST /api/images "{\"name\":\"bob-hidden-img\",\"url\":\"$SRC_URL/secret.img\"}"
check "account bob-acct has a private image (201)" [ "$API_CODE" = 201 ]

api POST /api/sessions '{"images":["ci-hidden-img","blank"],"persistent":true,"ttl_s":600}'
SID=$(json_field id); IQN=$(json_field iqn); CU=$(json_field chap_user); CS=$(json_field chap_secret)
check "a session of ci exists" [ -n "$SID" ]
API_AUTH=$KEY_B api POST /api/sessions '{"images":["bob-hidden-img"],"persistent":true,"ttl_s":600}'
SID_B=$(json_field id)
check "a session of bob-acct exists" [ -n "$SID_B" ]
I=iqn.2025-01.test.scsipub:status
pattern_bg -c a=$I "iscsi://$CU%$CS@127.0.0.1:$LAB_PORT/$IQN/0" a:w:0:64:9 wait
check "an initiator is logged in and has written" pattern_at_wait
live() { api GET "/api/sessions/$SID" 2>/dev/null; grep -q '"state": *"live"' <<<"$API_BODY"; }
check "the session is live" wait_until 30 live

# What must not be public: both session ids, both private image names, the second
# account's name (the first one's, "ci", is checked as a JSON value below).
SECRETS="$SID $SID_B ci-hidden-img bob-hidden-img bob-acct"
none_of() { # TEXT: none of SECRETS in it
  local s; for s in $SECRETS; do grep -qF -- "$s" <<<"$1" && { echo "leaked: $s" >&2; return 1; }; done; return 0
}
status() { # KEY|"" ACCEPT → body
  local h=(); [ -z "$1" ] || h=(-H "Authorization: Bearer $1")
  curl -s --max-time 60 "${h[@]}" -H "Accept: $2" "http://127.0.0.1:$LAB_API_PORT/status"
}

shots=$TOP/build/test-logs; mkdir -p "$shots"
prof=$(mktemp -d)
chrome=(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --user-data-dir="$prof" --window-size=1280,900)
dom=$(timeout 120 "${chrome[@]}" --dump-dom "http://127.0.0.1:$LAB_API_PORT/status" 2>/dev/null)
check "headless Chromium renders the public /status: counts and the catalog" \
  bash -c 'grep -q "id=\"counts\"" <<<"$1" && grep -q "<td>blank</td>" <<<"$1" && grep -q "status ok" <<<"$1"' _ "$dom"
check "the public page names no account, session id or private image" none_of "$dom"
check "the public page has no session row and no account column" \
  bash -c '! grep -q "id=\"sessions\"" <<<"$1" && ! grep -q "<td>ci</td>" <<<"$1"' _ "$dom"
rm -f "$shots/status.png"
timeout 120 "${chrome[@]}" --screenshot="$shots/status.png" "http://127.0.0.1:$LAB_API_PORT/status" >/dev/null 2>&1
check "a screenshot of the public status page is taken ($shots/status.png)" \
  bash -c '[ -s "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d " \n")" = 89504e470d0a1a0a ]' _ "$shots/status.png"
# The account's page (a browser cannot send a Bearer key: fetched with curl, rendered).
status "$API_KEY" text/html >"$WORK/account.html"
dom=$(timeout 120 "${chrome[@]}" --dump-dom "file://$WORK/account.html" 2>/dev/null)
check "headless Chromium renders ci's /status with its live session's row only" \
  bash -c 'grep -q "<tr id=\"s-$2\"" <<<"$1" && grep -q "ci-hidden-img" <<<"$1" && ! grep -qF "$3" <<<"$1" && ! grep -q "bob-" <<<"$1"' \
  _ "$dom" "$SID" "$SID_B"
rm -rf "$prof"

# JSON: the same rules, checked on the parsed document.
view() { # JSON WANT_SESSIONS WANT_IMAGES (space-separated; "-" = no such key)
  python3 -c '
import json, sys
s = json.loads(sys.argv[1])
assert s["status"] == "ok" and s["uptime_s"] >= 0 and s["versions"], s
assert s["counts"]["sessions"] >= 2 and s["counts"]["private_images"] >= 2, s["counts"]
assert any(c["name"] == "blank" for c in s["catalog"]), s["catalog"]
def want(key, field, arg):
    if arg == "-":
        assert key not in s, (key, s)
    else:
        got = sorted(x[field] for x in s[key])
        assert got == sorted(arg.split()), (key, got, arg)
want("sessions", "id", sys.argv[2])
want("images", "name", sys.argv[3])
def strings(o):
    if isinstance(o, dict):
        for v in o.values(): yield from strings(v)
    elif isinstance(o, list):
        for v in o: yield from strings(v)
    elif isinstance(o, str):
        yield o
if sys.argv[2] == "-":
    assert "ci" not in set(strings(s)) and "options" not in s, s' "$@"
}
export -f view none_of; export SECRETS
st=$(status "" application/json)
check "/status as JSON without a key: health, counts, catalog; no sessions or images" view "$st" - -
check "/status as JSON without a key names no account, session id or private image" none_of "$st"
check "/status as HTML without a key (curl) names none either" none_of "$(status "" text/html)"
st=$(status "$API_KEY" application/json)
check "/status with ci's key: only ci's session and image" view "$st" "$SID" ci-hidden-img
st=$(status "$KEY_B" application/json)
check "/status with bob-acct's key: only its session and image" view "$st" "$SID_B" bob-hidden-img
html=$(status "$KEY_B" text/html)
check "/status HTML with bob-acct's key: its row, not ci's" \
  bash -c 'grep -qF "$2" <<<"$1" && ! grep -qF "$3" <<<"$1" && ! grep -q ci-hidden-img <<<"$1"' _ "$html" "$SID_B" "$SID"
st=$(status "$ADMIN_KEY" application/json)
check "/status with the admin key: every session and image, and the options" \
  bash -c 'view "$1" "$2 $3" "bob-hidden-img ci-hidden-img" && grep -q "\"options\"" <<<"$1"' _ "$st" "$SID" "$SID_B"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nosuchkey' "http://127.0.0.1:$LAB_API_PORT/status")
check "/status with an unknown key is 401" [ "$code" = 401 ]

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
assert sum(s.value for s in fams["scsipub_sessions"].samples) >= 2' "$metrics"
check "/metrics (public) names no account, session id or private image" none_of "$metrics"

# HTTPS with the portal's certificate.
lab_exec "cat $GUEST_STATE/tls/portal.crt" >"$WORK/portal.crt"
fpr() { openssl x509 -noout -fingerprint -sha256 -in "$1" | cut -d= -f2; }
served() { # the fingerprint the API's HTTPS port serves
  openssl s_client -connect "127.0.0.1:$LAB_HTTPS_PORT" -servername 127.0.0.1 </dev/null 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2
}
export -f served; export LAB_HTTPS_PORT
check "the API logs its HTTPS listener with the portal's certificate" \
  lab_exec "grep -q 'HTTPS listening on 0.0.0.0:$LAB_HTTPS_PORT.*$GUEST_STATE/tls/portal.crt' /var/log/scsipub-api.log"
st=$(curl -s --max-time 60 --cacert "$WORK/portal.crt" -H 'Accept: application/json' \
  "https://127.0.0.1:$LAB_HTTPS_PORT/status")
check "curl --cacert <the portal's certificate> https://…/status succeeds (public view)" \
  bash -c 'view "$1" - - && none_of "$1"' _ "$st"
st=$(curl -s --max-time 60 --cacert "$WORK/portal.crt" -H "Authorization: Bearer $API_KEY" \
  -H 'Accept: application/json' "https://127.0.0.1:$LAB_HTTPS_PORT/status")
check "over HTTPS with ci's key: ci's rows only" view "$st" "$SID" ci-hidden-img
old=$(fpr "$WORK/portal.crt")
check "the served certificate's fingerprint is the portal's ($old)" [ "$(served)" = "$old" ]
check "TLS 1.1 is refused on the API's HTTPS port" \
  bash -c '! openssl s_client -connect "127.0.0.1:$1" -tls1_1 -cipher DEFAULT@SECLEVEL=0 </dev/null >/dev/null 2>&1' _ "$LAB_HTTPS_PORT"

# Replace the files (as an operator would: new ones moved over the old).
lab_exec "cd $GUEST_STATE/tls && openssl req -config req.cnf -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
  -nodes -days 30 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout new.key -out new.crt 2>/dev/null &&
  chgrp scsipub new.key new.crt && chmod 640 new.key && mv new.key portal.key && mv new.crt portal.crt" >/dev/null
lab_exec "cat $GUEST_STATE/tls/portal.crt" >"$WORK/new.crt"
new=$(fpr "$WORK/new.crt")
t0=$SECONDS
check "the API serves the new certificate within the reload interval (2 s + margin)" \
  wait_until 20 bash -c '[ "$(served)" = "$1" ]' _ "$new"
echo "new certificate served after $((SECONDS - t0)) s"
check "curl --cacert <the new certificate> succeeds" \
  curl -sf -o /dev/null --max-time 60 --cacert "$WORK/new.crt" "https://127.0.0.1:$LAB_HTTPS_PORT/status"
lab_exec "cd $GUEST_STATE/tls && printf -- '-----BEGIN CERTIFICATE-----\nbroken\n' >bad.crt && mv bad.crt portal.crt" >/dev/null
check "a broken certificate file is reported (API log)" \
  wait_until 20 lab_exec "grep -q 'HTTPS certificate/key changed but cannot be used' /var/log/scsipub-api.log"
check "… and the new certificate stays in service" [ "$(served)" = "$new" ]

pattern_resume; pattern_join >/dev/null
rm -rf "$WORK"
finish
