# Helpers for the provisioned-tier lab tests (issue 3). Source after common.sh.
#   api_lab_up         boot the lab with the API port forwarded, start the whole stack
#                      (PostgreSQL, scsipub-api, portal), create an account (API_KEY)
#   api METHOD PATH [JSON]   call the API as that account; sets API_CODE (HTTP status)
#                      and API_BODY (response body)
#   json_field FIELD   print a top-level field of API_BODY (python3's json module)
#   serve_dir DIR      serve DIR over HTTP on the guest's loopback (SRC_URL)
#   lab_api_images     build the source images on the host (build/lab/src)
SRC=$TOP/build/lab/src
SRC_PORT=8099
SRC_URL=http://127.0.0.1:$SRC_PORT

api_lab_up() {
  LAB_API_PORT=$(free_port); export LAB_API_PORT
  lab_up
  STACK_API=1
  # image sources are serve_dir's server on the guest's 127.0.0.1 (SRC_URL): the API
  # fetches only from public addresses unless told, so allow exactly that address
  STACK_FETCH_ALLOW=127.0.0.1/32
  check "stack with PostgreSQL and scsipub-api starts in the lab" start_stack "$@"
  API_KEY=$(lab_exec "DATABASE_URL=\$($TOP/scripts/pg-local.sh url $GUEST_STATE/pg) \
    $TOP/build/api-server/scsipub-api account-create ci --image-budget 268435456" | tail -n1)
  check "an API key for a new account" bash -c '[[ "$1" =~ ^[0-9a-f]{32,}$ ]]' _ "$API_KEY"
  ADMIN_KEY=$(lab_exec "cat $GUEST_STATE/admin.key")
}

api() { # METHOD PATH [JSON]
  local out; out=$(mktemp)
  local args=(-s -o "$out" -w '%{http_code}' -X "$1" -H "Authorization: Bearer ${API_AUTH:-$API_KEY}")
  [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
  API_CODE=$(curl "${args[@]}" --max-time 1800 "http://127.0.0.1:$LAB_API_PORT$2")
  API_BODY=$(cat "$out"); rm -f "$out"
  echo "$1 $2 → $API_CODE $API_BODY" >&2
}

json_field() {
  python3 -c '
import json, sys
try:
    v = json.loads(sys.stdin.read()).get(sys.argv[1])
except ValueError:
    v = None
print("" if v is None else v)' "$1" <<<"$API_BODY"
}

serve_dir() {
  lab_exec "cd '$1' && setsid python3 -m http.server --bind 127.0.0.1 $SRC_PORT >/var/log/src-http.log 2>&1 </dev/null &
    for i in \$(seq 100); do grep -qi ':$(printf '%04X' $SRC_PORT) 00000000:0000 0A' /proc/net/tcp && exit 0; sleep 0.1; done; exit 1"
}

# Source images for POST /api/images: an ext4 image with known files (raw, .xz and
# .qcow2) and three small raw images with distinct random contents (multi-LUN test).
lab_api_images() {
  mkdir -p "$SRC"
  local base; base=$(make_test_image)
  [ -f "$SRC/fs.img" ] || cp "$base" "$SRC/fs.img"
  [ -f "$SRC/fs.img.xz" ] || xz -T1 -0 -k -c "$SRC/fs.img" >"$SRC/fs.img.xz"
  [ -f "$SRC/fs.qcow2" ] || qemu-img convert -q -f raw -O qcow2 "$SRC/fs.img" "$SRC/fs.qcow2"
  local i
  for i in 0 1 2; do
    [ -f "$SRC/lun$i.img" ] || head -c 1048576 /dev/urandom >"$SRC/lun$i.img"
  done
}
