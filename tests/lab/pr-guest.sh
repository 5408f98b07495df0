#!/usr/bin/env bash
# Guest-side helpers for the Persistent Reservation lab tests (issue 4): two open-iscsi
# ifaces with their own InitiatorNames log in to one provisioned target; sg_persist and
# sg_raw act through each. Sourced inside the guest (lab_exec "source .../pr-guest.sh; ...").
#   pr_login IFACE INITIATOR IQN PORTAL USER SECRET   iface + node record + CHAP + login
#   (session_disk IFACE, from disk-guest.sh: /dev/sdX of that iface's session, first LUN)
#   pr_logout IFACE IQN PORTAL
#   pr_io IFACE read|write         READ(10)/WRITE(10) of LBA 0 through sg_raw: prints
#                                  "ok", "conflict" (RESERVATION CONFLICT) or "error:N";
#                                  a pending UNIT ATTENTION is consumed and retried.
#   pr_out IFACE ARGS...           sg_persist --out ARGS on that iface's disk
#   pr_keys IFACE / pr_resv IFACE  sg_persist --read-keys / --read-reservation output
source "$(dirname "${BASH_SOURCE[0]}")/disk-guest.sh"
pgrep -x iscsid >/dev/null || iscsid

pr_login() { # IFACE INITIATOR IQN PORTAL USER SECRET
  local i=$1 n=$2 t=$3 p=$4 u=$5 s=$6
  iscsiadm -m iface -I "$i" -o new >/dev/null 2>&1 || true
  iscsiadm -m iface -I "$i" -o update -n iface.initiatorname -v "$n" >/dev/null &&
  iscsiadm -m node -o new -T "$t" -p "$p" -I "$i" >/dev/null &&
  iscsiadm -m node -T "$t" -p "$p" -I "$i" -o update -n node.session.auth.authmethod -v CHAP &&
  iscsiadm -m node -T "$t" -p "$p" -I "$i" -o update -n node.session.auth.username -v "$u" &&
  iscsiadm -m node -T "$t" -p "$p" -I "$i" -o update -n node.session.auth.password -v "$s" &&
  iscsiadm -m node -T "$t" -p "$p" -I "$i" --login >/dev/null || return 1
  session_disk_wait "$i"
}

pr_logout() { iscsiadm -m node -T "$2" -p "$3" -I "$1" --logout >/dev/null; }

pr_io() { # IFACE read|write
  local d rc try
  d=$(session_disk "$1")
  [ -n "$d" ] || { echo "error:nodev"; return; }
  head -c 512 /dev/zero >/tmp/pr-block
  for try in 1 2 3 4; do
    if [ "$2" = read ]; then
      sg_raw -r 512 "$d" 28 00 00 00 00 00 00 00 01 00 >/dev/null 2>&1
    else
      sg_raw -s 512 -i /tmp/pr-block "$d" 2a 00 00 00 00 00 00 00 01 00 >/dev/null 2>&1
    fi
    rc=$?
    [ "$rc" = 6 ] || break   # SG_LIB_CAT_UNIT_ATTENTION: consumed, try again
  done
  case $rc in
    0) echo ok ;;
    24) echo conflict ;;     # SG_LIB_CAT_RES_CONFLICT
    *) echo "error:$rc" ;;
  esac
}

pr_sgp() { # IFACE ARGS... (UNIT ATTENTION retried)
  local d i rc
  d=$(session_disk "$1"); shift
  for i in 1 2 3 4; do
    sg_persist "$@" "$d"; rc=$?
    [ "$rc" = 6 ] || return $rc
  done
  return $rc
}

pr_out() { local i=$1; shift; pr_sgp "$i" --out "$@" >/dev/null 2>&1; }
pr_keys() { pr_sgp "$1" --in --read-keys 2>&1; }
pr_resv() { pr_sgp "$1" --in --read-reservation 2>&1; }
