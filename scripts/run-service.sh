#!/usr/bin/env bash
# Run the service (README, first command). Installs the Debian packages and builds,
# then:
#   - on a host whose kernel has LIO (configfs target + iscsi_target_mod load), runs
#     vagrant/provision.sh start directly: the portal listens on :3260 and, with TLS,
#     on :3261 (a self-signed certificate unless SCSIPUB_TLS_CERT/SCSIPUB_TLS_KEY); the
#     API serves HTTPS on :8443 with that certificate and plain HTTP on 127.0.0.1:8080;
#   - elsewhere boots the lab VM (Debian 12's kernel under QEMU) and runs the same
#     provisioning script inside it, with the guest's 3260, 3261 (TLS) and 8443 (API,
#     HTTPS) forwarded to this host's same ports on every address, and the API's plain
#     HTTP port 8080 to this host's 127.0.0.1:8080 only.
# Environment: SCSIPUB_PUBLIC (HOST:PORT advertised by SendTargets; default this
# host's first global IPv4 address:3260), SCSIPUB_IMAGES (catalog directory; default
# build/images, filled by scripts/catalog-defaults.sh), SCSIPUB_PORTAL_ARGS (extra
# portal options). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
scripts/deps.sh
make -s all
if [ -z "${SCSIPUB_IMAGES:-}" ]; then
  # The default catalog: real OS images besides blank, made once and cached.
  export SCSIPUB_IMAGES=$TOP/build/images
  scripts/catalog-defaults.sh "$SCSIPUB_IMAGES" ||
    echo "run-service: could not add the default catalog images; serving what $SCSIPUB_IMAGES holds"
fi
mkdir -p "$SCSIPUB_IMAGES"

if build/configfs-manager/scsipub-ctl load-modules 2>/dev/null && [ -d /sys/kernel/config/target ]; then
  echo "run-service: this kernel has LIO; starting the stack here"
  exec vagrant/provision.sh start
fi

echo "run-service: this kernel has no LIO; starting the stack inside the lab VM"
if [ -z "${SCSIPUB_PUBLIC:-}" ]; then
  ip=$(ip -4 -o addr show scope global 2>/dev/null | awk '{sub(/\/.*/, "", $4); print $4; exit}')
  SCSIPUB_PUBLIC=${ip:-127.0.0.1}:3260
fi
# shellcheck source=tests/lab/lab.sh
source tests/lab/lab.sh
# shellcheck source=tests/lab/targetcli.sh
source tests/lab/targetcli.sh
LAB_PORT=3260 LAB_API_PORT=8080 LAB_TLS_PORT=3261 LAB_HTTPS_PORT=8443 LAB_HOST=0.0.0.0
LAB_API_HOST=127.0.0.1 LAB_MEM=${LAB_MEM:-2048}
export LAB_PORT LAB_API_PORT LAB_TLS_PORT LAB_HTTPS_PORT LAB_HOST LAB_API_HOST
lab_boot
trap 'echo; echo "run-service: stopping"; lab_exec "$TOP/vagrant/provision.sh stop" >/dev/null 2>&1; lab_stop' EXIT INT TERM
# A system D-Bus in the guest, so `targetcli ls` there lists our user:cow backstores.
guest_start_dbus >/dev/null || echo "run-service: no D-Bus in the guest; targetcli will not list user:cow"
lab_exec "SCSIPUB_PORT=3260 SCSIPUB_TLS_PORT=3261 SCSIPUB_API_LISTEN=0.0.0.0:8080 SCSIPUB_API_HTTPS_PORT=8443 SCSIPUB_PUBLIC=$SCSIPUB_PUBLIC SCSIPUB_IMAGES=$SCSIPUB_IMAGES \
  SCSIPUB_PORTAL_ARGS='${SCSIPUB_PORTAL_ARGS:-}' SCSIPUB_START_DAEMONS=1 $TOP/vagrant/provision.sh start"
echo "run-service: portal on 0.0.0.0:3260, advertised as $SCSIPUB_PUBLIC; TLS portal on 0.0.0.0:3261 (self-signed certificate in the guest's /var/lib/scsipub/tls)"
echo "run-service: API: https://${SCSIPUB_PUBLIC%:*}:8443 with the portal's certificate ($(lab_exec "openssl x509 -in /var/lib/scsipub/tls/portal.crt -noout -fingerprint -sha256" | tail -n1)); plain HTTP on 127.0.0.1:8080 only"
lab_exec "cat /var/lib/scsipub/tls/portal.crt" >"$TOP/build/portal.crt" 2>/dev/null &&
  echo "run-service: that certificate is in $TOP/build/portal.crt: curl --cacert build/portal.crt https://${SCSIPUB_PUBLIC%:*}:8443/status"
echo "run-service: API key: $(lab_exec "DATABASE_URL=\$($TOP/scripts/pg-local.sh url /var/lib/scsipub/pg) $TOP/build/api-server/scsipub-api account-create demo" | tail -n1)"
echo "run-service: try: iscsiadm -m discovery -t sendtargets -p ${SCSIPUB_PUBLIC%:*}"
# Follow the daemons' logs (written by the guest onto the shared run directory).
lab_exec "setsid tail -n +1 -F /var/log/scsipub-portal.log /var/log/scsipub-tcmu.log >$LAB_RUN/service.log 2>&1 </dev/null &"
tail -n +1 -F "$LAB_RUN/service.log" &
wait "$LAB_PID" || true
