#!/usr/bin/env bash
# Issue 11, acceptance 1 and 4: the users' CI pipeline (README "Pi fleet netboot") run
# as they run it, then two emulated Pis booting the image it made at the same time.
#  - The CI build: an arm64 root filesystem image, .img.xz, served over HTTP on the lab
#    VM's loopback.
#  - The pipeline's own commands, verbatim (curl -fsSL over HTTPS with the portal's
#    certificate as CURL_CA_BUNDLE, jq, scsipub-shim-set-target): POST /api/images
#    with url + sha256 → 201 and the image's IQN (p.<account>.<name>).
#  - The runner's one-time setup: the account's iSCSI credentials (GET
#    /api/account/iscsi) in a credentials file in the TFTP root (scsipub.creds=).
#  - Two qemu-system-aarch64 -M virt boards (TCG; distinct MACs) boot the shim's
#    kernel + initramfs with the cmdline.txt scsipub-shim-set-target wrote, fetch the
#    credentials over TFTP (QEMU's own TFTP server), log in with CHAP through the lab
#    VM's forwarded portal, switch_root, and the image's init writes a file with the
#    board's MAC. Each finds the image fresh and reads only its own file: a file one
#    writes is not seen by the other (per-connection overlays).
#  - DELETE while the boards are up → 409; power off; DELETE → 204; the overlays,
#    the target and the image file are gone. Boot timings printed.
set -uo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/api.sh"
source "$(dirname "$0")/pishim.sh"
OUT=$TOP/build/pi-shim
PSRC=$TOP/build/lab/pipeline-src     # the "CI artifacts" the API fetches
PI_TIMEOUT=${PI_TIMEOUT:-300}
NAME=ci-pi-abc123

make -s -C "$TOP/pi-shim" OUT="$OUT" || { fail "make -C pi-shim"; finish; exit 1; }
mkdir -p "$PSRC"
check "the CI build: an arm64 root filesystem image as build.img.xz" bash -c \
  "'$TOP/tests/lab/pishim-rootfs.sh' '$OUT/sysroot' '$PSRC/build.img' && xz -T1 -0 -f -k '$PSRC/build.img'"
SHA=$(sha256sum "$PSRC/build.img.xz" | cut -d' ' -f1)
base_sha=$(sha256sum "$PSRC/build.img" | cut -d' ' -f1)

LAB_HTTPS_PORT=$(free_port); export LAB_HTTPS_PORT
api_lab_up
pi_scratch
check "the artifacts are served on the lab VM's loopback" serve_dir "$PSRC"
lab_exec "cat $GUEST_STATE/tls/portal.crt" >"$PI_DIR/portal.crt"
export CURL_CA_BUNDLE=$PI_DIR/portal.crt SCSIPUB_API_KEY=$API_KEY
HOST=127.0.0.1:$LAB_HTTPS_PORT
ARTIFACT_URL=$SRC_URL/build.img.xz
pi_tftp_root
SERIAL=52540012
# scsipub-shim-set-target as the runner has it; the board's portal is the lab VM's,
# forwarded to the host (10.0.2.2 from a QEMU board).
shim_set_target() {
  "$OUT/bin/scsipub-shim-set-target" "$1" --tftp-root "$TROOT" --serial $SERIAL \
    --portal "10.0.2.2:$LAB_PORT" --mode pivot_root
}

# The runner's one-time setup: the account's CHAP in the TFTP root.
creds=$(curl -fsSL https://$HOST/api/account/iscsi -H "Authorization: Bearer $SCSIPUB_API_KEY")
printf 'CHAP_USER=%s\nCHAP_SECRET=%s\n' "$(jq -r .chap_user <<<"$creds")" \
  "$(jq -r .chap_secret <<<"$creds")" >"$TROOT/scsipub-creds"
check "the account's iSCSI credentials, in the TFTP root for the shim" \
  grep -Eq '^CHAP_SECRET=[A-Za-z0-9]{24}$' "$TROOT/scsipub-creds"

echo "== the pipeline"
cd "$PI_DIR" || exit 1
t0=$(date +%s%N)
curl -fsSL -X POST https://$HOST/api/images -H "Authorization: Bearer $SCSIPUB_API_KEY" \
  -H "Content-Type: application/json" \
  -d '{"name": "'$NAME'", "url": "'$ARTIFACT_URL'", "sha256": "'$SHA'"}' | tee image.json
echo
IQN=$(jq -r .iqn image.json)
t_post=$(( ($(date +%s%N) - t0) / 1000000 ))
check "POST /api/images (.img.xz + sha256) → ready, with the image's own IQN" \
  bash -c '[[ "$1" =~ ^iqn\.2025-01\.pub\.scsipub:p\.[1-9][0-9]*\.'$NAME'$ ]] && [ "$(jq -r .state image.json)" = ready ]' _ "$IQN"
check "scsipub-shim-set-target \$IQN rewrites the board's cmdline.txt" shim_set_target "$IQN"
check "… which names the IQN" grep -qF "scsipub.iqn=$IQN" "$TROOT/$SERIAL/cmdline.txt"
# On -M virt the console is the PL011 (ttyAMA0), not the Pi's mini UART.
cmdline=$(sed 's/console=[^ ]* *//g' "$TROOT/$SERIAL/cmdline.txt")
cmdline="console=ttyAMA0 panic=-1 quiet $cmdline scsipub.creds=scsipub-creds scsipub.retries=3 scsipub.retry_delay=2 scsipub.on_fail=poweroff"
echo "cmdline: $cmdline"

echo "== two boards boot $IQN at the same time"
PI_TFTP=$TROOT PI_SMP=1 PI_MAC=52:54:00:12:34:01 pi_boot pi1 "$cmdline"
PI_TFTP=$TROOT PI_SMP=1 PI_MAC=52:54:00:12:34:02 pi_boot pi2 "$cmdline"
ok=1
for b in pi1 pi2; do pi_wait_log $b SCSIPUB-PI-MARKER || ok=0; done
t_both=$(ms_since)
if [ $ok = 1 ]; then pass "both boards fetch the credentials over TFTP, log in with CHAP, switch_root and run the image's init"
else fail "both boards fetch the credentials over TFTP, log in with CHAP, switch_root and run the image's init"; finish; exit 1; fi
for b in pi1 pi2; do
  check "$b: logged in to the private IQN through the portal" \
    grep -q "scsipub-shim: logged in to $IQN at 10.0.2.2:$LAB_PORT" "$PI_DIR/$b.log"
  check "$b: its root is the iSCSI disk" grep -Eq 'SCSIPUB-PI-ROOT root=/dev/sd[a-z]+ iscsi_session=session[0-9]+ arch=aarch64' "$PI_DIR/$b.log"
  check "$b: the image was fresh (no file from the other board)" bash -c "! grep -q SCSIPUB-PI-FOUND '$PI_DIR/$b.log'"
  pi_say $b check
done
for n in 1 2; do
  check "pi$n reads back only its own file (mac=52:54:00:12:34:0$n)" pi_wait_log pi$n \
    "SCSIPUB-PI-SEES written by the arm64 image at uptime [0-9.]* mac=52:54:00:12:34:0$n"
done
check "the portal serves two connections on the IQN, each with its own overlay" wait_until 5 lab_exec "
  [ \$(grep -o '\"target\":\"$IQN\"' $GUEST_STATE/portal/connections.json | wc -l) = 2 ] &&
  [ \$(ls $GUEST_STATE/overlays/*.bitmap | wc -l) = 2 ] &&
  [ \$(ls /sys/kernel/config/target/iscsi/$IQN/tpgt_1/acls | wc -l) = 2 ]"
code=$(curl -s -o "$PI_DIR/del.json" -w '%{http_code}' -X DELETE https://$HOST/api/images/$NAME \
  -H "Authorization: Bearer $SCSIPUB_API_KEY")
check "DELETE while the boards are up → 409 (2 connections)" bash -c \
  '[ "$1" = 409 ] && grep -q "has 2 iSCSI connection" "$2"' _ "$code" "$PI_DIR/del.json"
for b in pi1 pi2; do pi_say $b go; done
for b in pi1 pi2; do check "$b powers off" pi_wait_off $b; done
t_off=$(ms_since)
check "connections closed: overlays and the target gone" wait_until 60 lab_exec \
  "[ -z \"\$(ls -A $GUEST_STATE/overlays)\" ] && [ ! -e /sys/kernel/config/target/iscsi/$IQN ]"
check "the stored image is the build, unchanged by the boards" lab_exec \
  "[ \$(sha256sum $GUEST_STATE/images/*/$NAME.img | cut -d' ' -f1) = $base_sha ]"
check "the pipeline's cleanup: curl -fsSL -X DELETE → 204" \
  curl -fsSL -X DELETE https://$HOST/api/images/$NAME -H "Authorization: Bearer $SCSIPUB_API_KEY"
check "the image file is gone" lab_exec "! ls $GUEST_STATE/images/*/$NAME.img 2>/dev/null"
grep -hE '^\[[0-9.]+\] (scsipub-shim|SCSIPUB)' "$PI_DIR"/pi1.log
echo "timings (TCG, wall): POST /api/images → 201 $t_post ms; both boards at their" \
  "image's init $t_both ms from QEMU start (2 boards x 1 vCPU beside the lab VM);" \
  "both off $t_off ms"
finish
