#!/usr/bin/env bash
# Guest-side helpers: the SCSI disk an open-iscsi session attached. Sourced inside the
# guest (lab_exec "$GUEST_DISK; ..." with GUEST_DISK from common.sh), and by
# pr-guest.sh. The disk comes from "iscsiadm -m session -P3", whose per-session block
# has an "Iface Name:" line and, once the kernel has scanned the LUNs, one
# "Attached scsi disk sdX" line per LUN.
#   session_disk [IFACE]          /dev/sdX of the first LUN of the session through
#                                 IFACE, or of the first session when IFACE is not
#                                 given; prints nothing while no disk is attached
#   session_disk_wait [IFACE...]  waits until the disk of each IFACE (of the one
#                                 session when none is given) is a block device, for
#                                 at most 20 s; status 1 when one never appeared
session_disk() {
  iscsiadm -m session -P3 2>/dev/null | awk -v want="${1-}" '
    /Iface Name:/ { cur = $3 }
    /Attached scsi disk/ && (want == "" || cur == want) { print "/dev/" $4; exit }'
}

session_disk_wait() {
  local i f all
  [ $# -gt 0 ] || set -- ""
  for i in $(seq 100); do
    all=1
    for f in "$@"; do [ -b "$(session_disk "$f")" ] || { all=0; break; }; done
    [ "$all" = 1 ] && return 0
    sleep 0.2
  done
  return 1
}
