#!/usr/bin/env bash
# Acceptance 3 (issue 2): a catalog image with a filesystem (an ext4 image built here
# with mkfs.ext4 -d) is discovered and logged into with open-iscsi inside the lab,
# mounted, its files read; writes land in the overlay; the base image's sha256 is
# unchanged.
set -uo pipefail
source "$(dirname "$0")/common.sh"

img=$(make_test_image)
before=$(sha256sum "$img" | awk '{print $1}')
lab_up
check "stack starts in the lab" start_stack
IQN=iqn.2025-01.pub.scsipub:image.testfs

check "open-iscsi discovery (sendtargets) lists the image at the public address" lab_exec "
  pgrep -x iscsid >/dev/null || iscsid
  iscsiadm -m discovery -t sendtargets -p 127.0.0.1:$LAB_PORT | tee /tmp/st.txt
  grep -q '^127.0.0.1:$LAB_PORT,1 $IQN\$' /tmp/st.txt"
check "open-iscsi logs in" lab_exec "iscsiadm -m node -T $IQN -p 127.0.0.1:$LAB_PORT --login"
check "the disk appears and mounts as ext4; its files read correctly" lab_exec "$GUEST_DISK
  session_disk_wait; dev=\$(session_disk)
  echo disk=\$dev; mkdir -p /mnt/t && mount -t ext4 \$dev /mnt/t &&
  grep -qx 'hello from the scsipub base image' /mnt/t/hello.txt &&
  [ \"\$(sha256sum /mnt/t/random.bin | cut -d' ' -f1)\" = \"\$(cat /mnt/t/random.sha256)\" ]"
check "a write through the filesystem succeeds and reads back" lab_exec "$GUEST_DISK
  head -c 262144 /dev/urandom >/tmp/new.bin && cp /tmp/new.bin /mnt/t/new.bin && sync &&
  umount /mnt/t && mount -t ext4 \$(session_disk) /mnt/t &&
  cmp /tmp/new.bin /mnt/t/new.bin && umount /mnt/t"
# Write bursts as cfgd offers them (cfs_target.c; RFC 7143 §13.10, §13.13, §13.14),
# negotiated through the portal: cfgd offers FirstBurstLength 1 MiB, open-iscsi's
# default of 256 KiB is the lesser and wins; 1 MiB writes that use them (256 KiB
# immediate data, then one R2T) land intact.
# The session's negotiated InitialR2T, FirstBurstLength and MaxBurstLength are WANT.
bursts_are() { # WANT ("0 262144 1048576")
  lab_exec "
  s=\$(ls -d /sys/class/iscsi_session/session* | head -n1)
  v=\$(cat \$s/initial_r2t \$s/first_burst_len \$s/max_burst_len | tr '\\n' ' ')
  echo \"\$v\"; [ \"\$v\" = '$1 ' ]"
}
check "negotiated InitialR2T=No, FirstBurstLength 262144, MaxBurstLength 1048576" \
  bursts_are "0 262144 1048576"
# The target's MaxRecvDataSegmentLength (§13.12) is what the initiator may send per
# PDU: 256 KiB, so immediate data and Data-Out come in segments the relay splices.
check "negotiated: the initiator sends data segments of up to 262144 bytes" lab_exec "
  c=\$(ls -d /sys/class/iscsi_connection/connection* | head -n1)
  v=\$(cat \$c/max_xmit_dlength); echo \"\$v\"; [ \"\$v\" = 262144 ]"
# 4 MiB of random data written as four 1 MiB direct writes, MIB_FROM_END MiB before the
# session's disk ends, read back and compared.
writes_read_back() { # MIB_FROM_END
  lab_exec "$GUEST_DISK
  dev=\$(session_disk)
  mb=\$((\$(blockdev --getsize64 \$dev) / 1048576 - $1))
  head -c 4194304 /dev/urandom >/tmp/burst.bin &&
  dd if=/tmp/burst.bin of=\$dev bs=1M seek=\$mb oflag=direct status=none &&
  dd if=\$dev of=/tmp/burst.back bs=1M skip=\$mb count=4 iflag=direct status=none &&
  cmp /tmp/burst.bin /tmp/burst.back"
}
check "4 MiB of 1 MiB direct writes at the disk's end read back the same" writes_read_back 4
check "the writes landed in the session's overlay (bitmap has set bits)" lab_exec "
  b=\$(ls $GUEST_STATE/overlays/*.bitmap) && od -An -tx1 \$b | grep -q '[1-9a-f]'"
# An initiator that offers FirstBurstLength 1 MiB too (§13.14, the lesser offer wins)
# sends a whole 1 MiB write unsolicited: 256 KiB of immediate data and three
# unsolicited Data-Out PDUs, no R2T. A new login gets a new overlay (the old one goes
# with the old session).
relogin_first_burst_1m() {
  lab_exec "$GUEST_DISK
  iscsiadm -m node -T $IQN -p 127.0.0.1:$LAB_PORT --logout >/dev/null
  iscsiadm -m node -T $IQN -p 127.0.0.1:$LAB_PORT -o update -n node.session.iscsi.FirstBurstLength -v 1048576
  iscsiadm -m node -T $IQN -p 127.0.0.1:$LAB_PORT --login >/dev/null
  session_disk_wait" && bursts_are "0 1048576 1048576"
}
check "open-iscsi offering FirstBurstLength 1048576 logs in again and negotiates it" \
  relogin_first_burst_1m
check "4 MiB of 1 MiB writes sent unsolicited read back the same" writes_read_back 8
# placement.h, placehint.h, pinpolicy.h: the session's relay thread, and scsipub-tcmu's
# thread that reads its disk's command ring (the only device here), run on the CPU LIO
# bound its connection's threads to while commands come one small one at a time, and
# anywhere while large data moves. bound_to WANT DD-ARGS: after a direct dd read with
# DD-ARGS, the threads of each daemon bound to one CPU are WANT ("lio": exactly one,
# on the CPU of LIO's transmit thread; "": none).
bound_to() {
  lab_exec "$GUEST_DISK
  cpus() { taskset -pc \$1 | sed 's/.*: //'; }
  ttx=\$(pgrep -x iscsi_ttx); [ \$(echo \$ttx | wc -w) = 1 ] || { echo \"iscsi_ttx: \$ttx\"; exit 1; }
  lio=\$(cpus \$ttx)
  case \$lio in *[,-]*) echo \"LIO's transmit thread not bound to one CPU: \$lio\"; exit 1;; esac
  dd if=\$(session_disk) of=/dev/null $2 iflag=direct status=none
  want=\"$1\"; [ \"\$want\" = lio ] && want=\" \$lio\"; ok=0
  for d in scsipub-portal scsipub-tcmu; do
    one=; for t in /proc/\$(pidof \$d)/task/*; do
      c=\$(cpus \${t##*/}); case \$c in *[,-]*) ;; *) one=\"\$one \$c\";; esac; done
    echo \"after dd $2: LIO's threads on CPU \$lio; \$d threads bound to one CPU:\${one:- none}\"
    [ \"\$one\" = \"\$want\" ] || ok=1
  done; exit \$ok"
}
check "4 KiB reads at QD1: the relay and the handler on the CPU of LIO's threads" \
  bound_to lio "bs=4k count=64"
check "1 MiB reads: the relay and the handler on any CPU" bound_to "" "bs=1M count=16"
check "4 KiB reads at QD1 again: both on LIO's CPU again" bound_to lio "bs=4k count=64 skip=64"
check "open-iscsi logs out" lab_exec "iscsiadm -m node -T $IQN -p 127.0.0.1:$LAB_PORT --logout"
check "session torn down, overlay deleted" wait_until 60 guest_overlays_gone
after=$(sha256sum "$img" | awk '{print $1}')
check "base image sha256 unchanged ($before)" [ "$before" = "$after" ]
finish
