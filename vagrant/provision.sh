#!/usr/bin/env bash
# The one provisioning script of scsipub-lio, used by the lab VM (tests/lab), the
# Vagrantfile and scripts/run-service.sh on a host that has LIO.
#
#   provision.sh install   install Debian packages and build (needs root + apt)
#   provision.sh start     load LIO modules (libkmod, via scsipub-ctl), start
#                          scsipub-tcmu, wait for it to be ready, start scsipub-cfgd (the
#                          configfs manager, root), the API, then scsipub-portal as the
#                          unprivileged SCSIPUB_USER
#   provision.sh stop      stop the portal (it tears its sessions down), the API, then
#                          the handler
#   provision.sh restart-control   restart scsipub-api, scsipub-prstore and the portal
#
# Environment (all optional):
#   SCSIPUB_PORT          public iSCSI port the portal listens on       (3260)
#   SCSIPUB_PUBLIC        HOST:PORT that SendTargets advertises         (first global IPv4:PORT)
#   SCSIPUB_IMAGES        catalog directory of *.img / *.iso             (/var/lib/scsipub/catalog)
#   SCSIPUB_STATE         state directory (overlays)                     (/var/lib/scsipub)
#   SCSIPUB_PORTAL_ARGS   extra scsipub-portal options (after the hardening ones, so
#                         they override them); the anonymous-session policy options
#                         among them (--keep-overlays, --anon-write-limit, and
#                         --nopin-interval/--nopin-timeout and --multi-images too) go to
#                         scsipub-cfgd
#   SCSIPUB_USER          user the API runs as (created as a system user if
#                         missing; its group may use scsipub-cfgd's socket); empty =
#                         the daemons stay root                          (scsipub)
#   SCSIPUB_PORTAL_USER   user the portal runs as, in SCSIPUB_USER's group (created
#                         if missing): scsipub-cfgd serves it the portal's requests
#                         only (--portal-users)                   (scsipub-portal)
#   SCSIPUB_PORTAL_HARDENING  the portal's per-address limits, login timeout and NOP-In
#                         keepalive (see scsipub-portal --help)
#                         ("--max-conn-per-ip 16 --login-rate 10 --login-burst 40
#                           --login-timeout 10 --nopin-interval 5 --nopin-timeout 5")
#   SCSIPUB_DISK_RESERVE  bytes kept available on the state filesystem, given to both
#                         scsipub-tcmu and the portal as --disk-reserve: below it
#                         writes needing new blocks get DATA PROTECT 27/07 and new
#                         anonymous logins 0x0302               (the programs' 512 MiB)
#   SCSIPUB_POOL          scsipub-cfgd --pool: anonymous sessions made in advance per
#                         target, so those logins change no configfs object;
#                         TARGET=COUNT:MAX grows with bursts of logins up to MAX;
#                         empty = none                                    (blank=4)
#   SCSIPUB_IO_THREADS    scsipub-tcmu --io-threads: threads running SCSI commands for
#                         every device; 0 = one command at a time per device   (0)
#   SCSIPUB_START_DAEMONS 1 = start the daemons in the background and return;
#                         otherwise the portal runs in the foreground (Ctrl-C stops all)
#   SCSIPUB_API           1 = also start PostgreSQL (unless DATABASE_URL is set) and the
#                         HTTP API scsipub-api before the portal          (1)
#   SCSIPUB_API_HTTPS_PORT  port of the API's HTTPS listener (all addresses, the
#                         TLS certificate below); empty = off            (8443)
#   SCSIPUB_API_LISTEN    ADDR:PORT of the API's plain HTTP      (127.0.0.1:8080 with
#                         HTTPS: the host itself only; 0.0.0.0:8080 without)
#   SCSIPUB_API_ARGS      extra scsipub-api options (e.g. --tls-reload-interval)
#   SCSIPUB_FETCH_ALLOW   networks POST /api/images may fetch from besides public
#                         addresses: scsipub-api --fetch-allow-net, CIDR list (none)
#   SCSIPUB_PRSTORE_ARGS  extra scsipub-prstore options (PR state capture)
#   SCSIPUB_TLS_PORT      port of the portal's TLS listener; empty = off  (3261)
#   SCSIPUB_TLS_CERT      PEM certificate (chain) of the TLS listener and of the API's
#                         HTTPS                                          (a self-signed one,
#                         generated once into $SCSIPUB_STATE/tls/)
#   SCSIPUB_TLS_KEY       its PEM private key                             (SCSIPUB_TLS_CERT)
#   SCSIPUB_TLS_PUBLIC    HOST:PORT SendTargets advertises on TLS connections
#                         (the portal's default: SCSIPUB_PUBLIC's host, SCSIPUB_TLS_PORT);
#                         --tls-public and --tls-reload-interval may also come in
#                         SCSIPUB_PORTAL_ARGS
#   DATABASE_URL          libpq URL; unset = a local cluster in $SCSIPUB_STATE/pg
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=$TOP/build
PORT=${SCSIPUB_PORT:-3260}
STATE=${SCSIPUB_STATE:-/var/lib/scsipub}
IMAGES=${SCSIPUB_IMAGES:-$STATE/catalog}
TLS_PORT=${SCSIPUB_TLS_PORT-3261}
API_HTTPS_PORT=${SCSIPUB_API_HTTPS_PORT-8443}
TLS_CERT= TLS_KEY=
LOGDIR=/var/log
SVC_USER=${SCSIPUB_USER-scsipub}
PORTAL_USER=${SVC_USER:+${SCSIPUB_PORTAL_USER-scsipub-portal}}
CFGD_SOCK=/run/scsipub/cfgd.sock
say() { echo "provision: $*" >&2; }

public_addr() {
  if [ -n "${SCSIPUB_PUBLIC:-}" ]; then echo "$SCSIPUB_PUBLIC"; return; fi
  local ip
  ip=$(ip -4 -o addr show scope global 2>/dev/null | awk '{sub(/\/.*/, "", $4); print $4; exit}')
  echo "${ip:-127.0.0.1}:$PORT"
}

# wait_ready NAME PID TENTHS CMD...: poll CMD every 0.1 s, at most TENTHS times, while
# PID lives; on failure print NAME's log and return 1.
wait_ready() {
  local name=$1 pid=$2 n=$3 i; shift 3
  for i in $(seq "$n"); do
    "$@" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  say "$name did not become ready:"; cat "$LOGDIR/$name.log" >&2
  return 1
}

start_handler() {
  : >"$LOGDIR/scsipub-tcmu.log"
  setsid "$BIN/tcmu-handler/scsipub-tcmu" ${SCSIPUB_DISK_RESERVE:+--disk-reserve "$SCSIPUB_DISK_RESERVE"} \
    ${SCSIPUB_IO_THREADS:+--io-threads "$SCSIPUB_IO_THREADS"} \
    ${SVC_USER:+--place-group "$SVC_USER"} \
    >>"$LOGDIR/scsipub-tcmu.log" 2>&1 </dev/null &
  wait_ready scsipub-tcmu $! 300 grep -q 'ready' "$LOGDIR/scsipub-tcmu.log"
}

# The unprivileged service users, made if missing (useradd, else a passwd/group line:
# the lab guest has no shadow utilities): SVC_USER with its own group, and PORTAL_USER
# with SVC_USER's group as its primary group (the socket, the TLS files, and
# connections.json for the API) but a uid of its own, which scsipub-cfgd serves the
# portal's requests only.
ensure_user() {
  [ -n "$SVC_USER" ] || return 0
  if ! getent passwd "$SVC_USER" >/dev/null 2>&1; then
    if command -v useradd >/dev/null 2>&1; then
      useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$SVC_USER"
    else
      grep -q "^$SVC_USER:" /etc/group 2>/dev/null || echo "$SVC_USER:x:64099:" >>/etc/group
      echo "$SVC_USER:x:64099:64099:scsipub:/nonexistent:/usr/sbin/nologin" >>/etc/passwd
    fi
    say "created system user $SVC_USER"
  fi
  [ -n "$PORTAL_USER" ] || return 0
  getent passwd "$PORTAL_USER" >/dev/null 2>&1 && return 0
  if command -v useradd >/dev/null 2>&1; then
    useradd --system --gid "$SVC_USER" --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$PORTAL_USER"
  else
    echo "$PORTAL_USER:x:64098:$(getent group "$SVC_USER" | cut -d: -f3):scsipub portal:/nonexistent:/usr/sbin/nologin" >>/etc/passwd
  fi
  say "created system user $PORTAL_USER (group $SVC_USER)"
}

# What the unprivileged portal may touch: its own state directory (and the TLS files,
# tls_files); everything else under $STATE stays root's.
portal_files() {
  mkdir -p "$STATE/portal"
  [ -n "$SVC_USER" ] || return 0
  chown "${PORTAL_USER:-$SVC_USER}:$SVC_USER" "$STATE/portal"
  chmod 0750 "$STATE/portal"
  rm -f "$STATE/portal/connections.json"
}

# Split the portal's extra options: the anonymous-session policy ones belong to
# scsipub-cfgd (the nopin ones also stay with the portal: its TCP keepalive). Sets
# PORTAL_EXTRA and CFGD_EXTRA.
split_args() {
  PORTAL_EXTRA=() CFGD_EXTRA=()
  while [ $# -gt 0 ]; do
    case $1 in
      --keep-overlays) CFGD_EXTRA+=("$1") ;;
      --max-sessions) CFGD_EXTRA+=("$1" "$2"); shift ;;
      --max-sessions=*) CFGD_EXTRA+=("$1") ;;
      --anon-write-limit|--write-limit) CFGD_EXTRA+=("$1" "$2"); shift ;;
      --anon-write-limit=*|--write-limit=*) CFGD_EXTRA+=("$1") ;;
      --nopin-interval|--nopin-timeout) CFGD_EXTRA+=("$1" "$2"); PORTAL_EXTRA+=("$1" "$2"); shift ;;
      --nopin-interval=*|--nopin-timeout=*) CFGD_EXTRA+=("$1"); PORTAL_EXTRA+=("$1") ;;
      --multi-images) CFGD_EXTRA+=("$1" "$2"); PORTAL_EXTRA+=("$1" "$2"); shift ;;
      --multi-images=*) CFGD_EXTRA+=("$1"); PORTAL_EXTRA+=("$1") ;;
      --pool) CFGD_EXTRA+=("$1" "$2"); shift ;;
      --pool=*) CFGD_EXTRA+=("$1") ;;
      *) PORTAL_EXTRA+=("$1") ;;
    esac
    shift
  done
}

# scsipub-cfgd: the configfs manager (root), owner of the anonymous sessions' LIO
# objects; the portal asks it over CFGD_SOCK. Sweeps leftovers at start.
start_cfgd() {
  # shellcheck disable=SC2206
  local extra=(${SCSIPUB_PORTAL_HARDENING:---nopin-interval 5 --nopin-timeout 5} ${SCSIPUB_PORTAL_ARGS:-})
  split_args "${extra[@]}"
  : >"$LOGDIR/scsipub-cfgd.log"
  setsid "$BIN/configfs-manager/scsipub-cfgd" --socket "$CFGD_SOCK" --state "$STATE" \
    --images "$IMAGES" --lio 127.0.0.1:3262 \
    ${SVC_USER:+--socket-group "$SVC_USER" --allow-users "$SVC_USER"} \
    ${PORTAL_USER:+--portal-users "$PORTAL_USER"} \
    --pool "${SCSIPUB_POOL-blank=4}" "${CFGD_EXTRA[@]}" \
    >>"$LOGDIR/scsipub-cfgd.log" 2>&1 </dev/null &
  wait_ready scsipub-cfgd $! 300 grep -q 'ready: listening' "$LOGDIR/scsipub-cfgd.log"
}

# PostgreSQL + scsipub-api. The API restores live and suspended sessions from the
# database (through scsipub-cfgd) and writes $STATE/api/ready before the portal may
# start. It runs as SVC_USER: it owns $STATE/api and $STATE/images, nothing else.
start_api() {
  [ "${SCSIPUB_API:-1}" = 1 ] || return 0
  [ -x "$BIN/api-server/scsipub-api" ] || { say "scsipub-api not built; provisioned tier off"; return 0; }
  if [ -z "${DATABASE_URL:-}" ]; then
    "$TOP/scripts/pg-local.sh" start "$STATE/pg" >&2
    DATABASE_URL=$("$TOP/scripts/pg-local.sh" url "$STATE/pg")
  fi
  export DATABASE_URL
  [ -s "$STATE/admin.key" ] || { head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$STATE/admin.key"; chmod 600 "$STATE/admin.key"; }
  rm -f "$STATE/api/ready"
  : >"$LOGDIR/scsipub-api.log"
  # shellcheck disable=SC2206
  local extra=(${SCSIPUB_API_ARGS:-}) https=() listen=${SCSIPUB_API_LISTEN:-0.0.0.0:8080}
  # HTTPS with the portal's certificate; plain HTTP then stays on loopback by default.
  if [ -n "$API_HTTPS_PORT" ] && [ -n "$TLS_CERT" ]; then
    https=(--https-listen "0.0.0.0:$API_HTTPS_PORT" --tls-cert "$TLS_CERT" --tls-key "$TLS_KEY")
    listen=${SCSIPUB_API_LISTEN:-127.0.0.1:8080}
  fi
  setsid "$BIN/api-server/scsipub-api" --listen "$listen" "${https[@]}" \
    --public "$(public_addr)" --state "$STATE" --catalog "$IMAGES" --admin-key-file "$STATE/admin.key" \
    --cfgd-socket "$CFGD_SOCK" ${SVC_USER:+--user "$SVC_USER"} \
    ${SCSIPUB_FETCH_ALLOW:+--fetch-allow-net "$SCSIPUB_FETCH_ALLOW"} \
    "${extra[@]}" >>"$LOGDIR/scsipub-api.log" 2>&1 </dev/null &
  wait_ready scsipub-api $! 600 test -f "$STATE/api/ready" || return 1
  if [ ${#https[@]} -gt 0 ]; then
    say "API: https://$(public_addr | sed 's/:[0-9]*$//'):$API_HTTPS_PORT (certificate $TLS_CERT," \
      "$(openssl x509 -in "$TLS_CERT" -noout -fingerprint -sha256 2>/dev/null)); plain HTTP on $listen"
  else
    say "API: http://$listen (no HTTPS)"
  fi
}

# scsipub-prstore: writes each Persistent Reservation change of the provisioned LUNs
# to PostgreSQL (after start_api: the API restored the sessions, with their PR state,
# and migrated the schema). Waits for its first scan ($STATE/prstore.ready).
start_prstore() {
  [ "${SCSIPUB_API:-1}" = 1 ] && [ -n "${DATABASE_URL:-}" ] || return 0
  [ -x "$BIN/pr-store/scsipub-prstore" ] || { say "scsipub-prstore not built; PR state not persisted"; return 0; }
  rm -f "$STATE/prstore.ready"
  : >"$LOGDIR/scsipub-prstore.log"
  setsid "$BIN/pr-store/scsipub-prstore" --state "$STATE" ${SCSIPUB_PRSTORE_ARGS:-} \
    >>"$LOGDIR/scsipub-prstore.log" 2>&1 </dev/null &
  wait_ready scsipub-prstore $! 300 test -f "$STATE/prstore.ready"
}

# The certificate of the portal's TLS listener and of the API's HTTPS listener (the
# same files): SCSIPUB_TLS_CERT/SCSIPUB_TLS_KEY, else a self-signed certificate for
# the public host generated once into $STATE/tls/. Both re-read the files when they
# change, so replacing them needs no restart. Sets TLS_CERT and TLS_KEY ("" when
# neither listener is on, or no certificate could be made).
tls_files() {
  TLS_CERT= TLS_KEY=
  if [ -z "$TLS_PORT" ] && { [ -z "$API_HTTPS_PORT" ] || [ "${SCSIPUB_API:-1}" != 1 ]; }; then
    return 0
  fi
  local cert=${SCSIPUB_TLS_CERT:-} key=${SCSIPUB_TLS_KEY:-${SCSIPUB_TLS_CERT:-}}
  if [ -z "$cert" ]; then
    local host san pub
    pub=$(public_addr); host=${pub%:*}; host=${host#[}; host=${host%]}
    if [[ $host =~ ^[0-9.]+$ || $host == *:* ]]; then san=IP:$host; else san=DNS:$host; fi
    cert=$STATE/tls/portal.crt key=$STATE/tls/portal.key
    if [ ! -s "$cert" ] || [ ! -s "$key" ]; then
      mkdir -p "$STATE/tls" && chmod 700 "$STATE/tls"
      # Our own minimal request config: the lab guest has no /etc/ssl/openssl.cnf.
      printf '[req]\ndistinguished_name = dn\n[dn]\n' >"$STATE/tls/req.cnf"
      if ! openssl req -config "$STATE/tls/req.cnf" -x509 -newkey ec \
          -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 -subj "/CN=$host" \
          -addext "subjectAltName=$san" -keyout "$key.tmp" -out "$cert.tmp" 2>/dev/null; then
        say "no SCSIPUB_TLS_CERT and openssl could not generate one: TLS listener and API HTTPS off"
        return 0
      fi
      chmod 600 "$key.tmp"; mv "$key.tmp" "$key"; mv "$cert.tmp" "$cert"
      say "no SCSIPUB_TLS_CERT: generated a self-signed TLS certificate $cert (CN=$host," \
        "$(openssl x509 -in "$cert" -noout -fingerprint -sha256)); set SCSIPUB_TLS_CERT" \
        "and SCSIPUB_TLS_KEY for a real one"
    else
      say "no SCSIPUB_TLS_CERT: using the self-signed TLS certificate $cert"
    fi
  fi
  TLS_CERT=$cert TLS_KEY=$key
  # The unprivileged portal and API read them (and re-read them when they change).
  if [ -n "$SVC_USER" ]; then
    chgrp "$SVC_USER" "$TLS_CERT" "$TLS_KEY" "$(dirname "$TLS_KEY")" 2>/dev/null || true
    chmod g+r "$TLS_CERT" "$TLS_KEY" 2>/dev/null || true
    chmod g+x "$(dirname "$TLS_KEY")" 2>/dev/null || true
  fi
}

# The TLS listener's options, appended to PORTAL (after tls_files).
tls_argv() {
  if [ -z "$TLS_PORT" ] || [ -z "$TLS_CERT" ]; then PORTAL+=(--tls-listen=); return 0; fi
  PORTAL+=(--tls-listen "0.0.0.0:$TLS_PORT" --tls-cert "$TLS_CERT" --tls-key "$TLS_KEY")
  [ -z "${SCSIPUB_TLS_PUBLIC:-}" ] || PORTAL+=(--tls-public "$SCSIPUB_TLS_PUBLIC")
}

portal_argv() {
  # shellcheck disable=SC2206
  local extra=(${SCSIPUB_PORTAL_ARGS:-})
  local hardening=(${SCSIPUB_PORTAL_HARDENING:---max-conn-per-ip 16 --login-rate 10 \
    --login-burst 40 --login-timeout 10 --nopin-interval 5 --nopin-timeout 5})
  split_args "${extra[@]}"
  PORTAL=("$BIN/tls-proxy/scsipub-portal" --listen "0.0.0.0:$PORT" --public "$(public_addr)"
    --lio 127.0.0.1:3262 --images "$IMAGES" --state "$STATE" --cfgd-socket "$CFGD_SOCK"
    ${SVC_USER:+--user "${PORTAL_USER:-$SVC_USER}"} "${hardening[@]}"
    ${SCSIPUB_DISK_RESERVE:+--disk-reserve "$SCSIPUB_DISK_RESERVE"} "${PORTAL_EXTRA[@]}")
  portal_files
}

stop_all() {
  pkill -TERM -x scsipub-portal 2>/dev/null || true
  local i
  for i in $(seq 100); do pgrep -x scsipub-portal >/dev/null || break; sleep 0.1; done
  pkill -TERM -x scsipub-api 2>/dev/null || true
  for i in $(seq 100); do pgrep -x scsipub-api >/dev/null || break; sleep 0.1; done
  pkill -TERM -x scsipub-prstore 2>/dev/null || true
  pkill -TERM -x scsipub-cfgd 2>/dev/null || true
  for i in $(seq 100); do pgrep -x scsipub-cfgd >/dev/null || break; sleep 0.1; done
  pkill -TERM -x scsipub-tcmu 2>/dev/null || true
  for i in $(seq 50); do pgrep -x scsipub-tcmu >/dev/null || break; sleep 0.1; done
}

case "${1:-}" in
install)
  "$TOP/scripts/deps.sh"
  make -C "$TOP" -s all
  # Let scsipub-tcmu (root) own org.kernel.TCMUService1 on the system bus, so
  # targetcli lists our user:cow backstores (as tcmu-runner's policy file does).
  if [ -d /etc/dbus-1/system.d ]; then
    cat >/etc/dbus-1/system.d/scsipub-tcmu.conf <<'EOF'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <policy user="root">
    <allow own="org.kernel.TCMUService1"/>
  </policy>
  <policy context="default">
    <allow send_destination="org.kernel.TCMUService1"/>
  </policy>
</busconfig>
EOF
    pkill -HUP -x dbus-daemon 2>/dev/null || true
  fi
  ;;
start)
  [ -x "$BIN/tls-proxy/scsipub-portal" ] || { say "not built: run '$0 install' (or make)"; exit 1; }
  mkdir -p /etc/target/pr "$STATE" "$IMAGES"
  # root's, not world-writable (a fresh tmpfs is 1777): only the daemons' own
  # subdirectories are writable by the service user
  chown root: "$STATE" && chmod 0755 "$STATE"
  "$BIN/configfs-manager/scsipub-ctl" load-modules
  stop_all
  ensure_user
  start_handler
  start_cfgd
  tls_files
  start_api
  start_prstore
  portal_argv
  tls_argv
  say "portal: ${PORTAL[*]}"
  if [ "${SCSIPUB_START_DAEMONS:-0}" = 1 ]; then
    setsid "${PORTAL[@]}" >"$LOGDIR/scsipub-portal.log" 2>&1 </dev/null &
  else
    trap stop_all EXIT INT TERM
    "${PORTAL[@]}" 2>&1 | tee "$LOGDIR/scsipub-portal.log"
  fi
  ;;
restart-control)
  # Restart scsipub-api and the portal, not the handler (tests: kill -9 recovery).
  pkill -TERM -x scsipub-portal 2>/dev/null || true
  pkill -TERM -x scsipub-api 2>/dev/null || true
  pkill -TERM -x scsipub-prstore 2>/dev/null || true
  for i in $(seq 100); do pidof scsipub-portal scsipub-api scsipub-prstore >/dev/null || break; sleep 0.1; done
  tls_files
  start_api
  start_prstore
  portal_argv
  tls_argv
  setsid "${PORTAL[@]}" >"$LOGDIR/scsipub-portal.log" 2>&1 </dev/null &
  for i in $(seq 100); do
    grep -q "listening on" "$LOGDIR/scsipub-portal.log" && break; sleep 0.1
  done
  ;;
stop)
  stop_all
  ;;
*)
  echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
