#!/usr/bin/env bash
# Guest-side helpers for the write-caching lab scripts (issue 10: test-power-loss.sh,
# bench-wce.sh). Sourced inside the guest after pr-guest.sh (which starts iscsid and
# has pr_login for an open-iscsi iface with CHAP). Only one iSCSI session is
# logged in when these are used, so every SCSI disk is one of its LUNs.
#   wce_nowriteback           nothing but an explicit flush writes dirty pages back:
#                             periodic writeback off, dirty pages never expire
#   lun_dev LUN               /dev/sdX of that LUN (waits up to 10 s for it)
#   lun_sysfs LUN             its /sys/class/scsi_disk/H:C:T:L directory
#   wce_bit DEV               WCE of the caching mode page (SBC-3 §6.4.5) as the
#                             target reports it: MODE SENSE (10), DBD, page 08h
#   lun_cache_type LUN        how the initiator's sd driver took it ("write back" /
#                             "write through")
wce_nowriteback() {
  echo 0 >/proc/sys/vm/dirty_writeback_centisecs
  echo 360000 >/proc/sys/vm/dirty_expire_centisecs
  echo 90 >/proc/sys/vm/dirty_background_ratio
  echo 90 >/proc/sys/vm/dirty_ratio
}

lun_sysfs() {
  local d
  for d in /sys/class/scsi_disk/*:"$1"; do
    [ -e "$d/device/block" ] && { echo "$d"; return 0; }
  done
  return 1
}

lun_dev() {
  local i s
  for i in $(seq 100); do
    s=$(lun_sysfs "$1") && { echo "/dev/$(ls "$s/device/block")"; return 0; }
    sleep 0.1
  done
  return 1
}

wce_bit() {
  local b
  b=$(sg_modes -d -p 8 -r "$1" 2>/dev/null | od -An -tu1 -j10 -N1 | tr -d ' ')
  [ -n "$b" ] || return 1
  echo $(((b >> 2) & 1))
}

lun_cache_type() { cat "$(lun_sysfs "$1")/cache_type"; }
