#!/usr/bin/env bash
# Issue 10 acceptance 5: honest write caching across a power loss of the target host.
# A provisioned session (scsipub-ctl session-create; its overlays live in
# <state>/sessions/<id>, kept across a re-create) with two blank LUNs, the state
# directory on LAB_DISK (the guest's /dev/vda, ext4). LUN 0 keeps the default write
# cache (WCE=1: durable at SYNCHRONIZE CACHE / FUA); LUN 1 gets
# attrib/emulate_write_cache=0 (WCE=0: write-through). Inside the guest open-iscsi
# logs in through the portal, each LUN gets ext4, a 4 MiB file is written with
# fsync (dd conv=fsync), plus 1 MiB written to the raw device past the filesystem
# with O_DIRECT and no flush. Nothing but an explicit flush writes the guest's page
# cache back (periodic writeback off, state disk journal commit every 600 s), and
# right after that the VM is powered off hard (QEMU killed: the guest's dirty pages
# are gone, nothing is synced). Booted again on the same LAB_DISK, session re-created,
# logged in: both fsynced files are there byte for byte, and so is LUN 1's unflushed
# raw write (WCE=0 promised it); LUN 0's unflushed raw write is printed (WCE=1 makes
# no promise for it). The mode page's WCE bit, the initiator's cache_type and the
# handler's log agree on each LUN.
# LUN 2 (WCE=1) is a COW overlay over a base image on the state disk: 1 MiB is written
# there for the first time with O_DIRECT and no flush, and its bitmap file is then
# forced to disk alone (fsync), the worst order the page cache may choose. After the
# power loss each of those sectors must read its new data or its old (base) contents,
# never zeros from an overlay block that did not reach the disk (SBC-3 §4.15).
set -uo pipefail
source "$(dirname "$0")/common.sh"

mkdir -p "$TOP/build/lab"
DISK=$(mktemp "$TOP/build/lab/pldisk.XXXXXX")
truncate -s 512M "$DISK" && mkfs.ext4 -q -F "$DISK"
export LAB_DISK=$DISK
# The state disk is small: keep the handler's --disk-reserve (512 MiB) from refusing writes.
STACK_DISK_RESERVE=$((16 << 20))
lab_up
trap '[ "$FAILED" -eq 0 ] || lab_logs; lab_stop; rm -f "$DISK"' EXIT

CTL=$TOP/build/configfs-manager/scsipub-ctl
ID=powerloss1 U=user1 S=secret-123456
IQN=iqn.2025-01.pub.scsipub:s.$ID
P=127.0.0.1:$LAB_PORT
NODE=iqn.2025-01.test.scsipub:powerloss
G="source $TOP/tests/lab/pr-guest.sh; source $TOP/tests/lab/wce-guest.sh"
RAW_SEEK=48 # MiB: the raw write lands past the 32 MiB filesystem

mount_state() { lab_exec "$G; wce_nowriteback; modprobe virtio_blk
  for i in \$(seq 50); do [ -b /dev/vda ] && break; sleep 0.1; done
  mount -o commit=600 /dev/vda $GUEST_STATE"; }
BASE=$GUEST_STATE/base.img
make_base() { lab_exec "python3 -S -c '
import sys
with open(\"$BASE\", \"wb\") as f:
    for i in range(131072): f.write(((b\"base sector %08d \" % i) * 25)[:512])
' && sync"; }
make_session() { lab_exec "$CTL session-create $GUEST_STATE $ID $U $S blank:64M blank:64M $BASE &&
  echo 0 >\$(ls -d /sys/kernel/config/target/core/user_*/pv${ID}l1)/attrib/emulate_write_cache"; }
login() { lab_exec "$G; pr_login pl $NODE $IQN $P $U $S && lun_dev 0 && lun_dev 1 && lun_dev 2"; }

check "state disk mounted at $GUEST_STATE (writeback off, commit=600)" mount_state
check "a 64 MiB base image on the state disk" make_base
check "stack starts" start_stack
check "session-create: 2 blank LUNs (LUN 1 with emulate_write_cache=0) + LUN 2 over the base" make_session
check "open-iscsi logs in, both LUNs appear" login

# What the target says and what the initiator made of it.
state=$(lab_exec "$G; for l in 0 1; do d=\$(lun_dev \$l)
  echo \"lun\$l wce=\$(wce_bit \$d) cache_type=\$(lun_cache_type \$l) fua=\$(cat /sys/block/\${d#/dev/}/queue/fua)\"
  done")
echo "$state"
check "LUN 0: mode page WCE=1, sd says 'write back', FUA used" \
  grep -q "lun0 wce=1 cache_type=write back fua=1" <<<"$state"
check "LUN 1: mode page WCE=0, sd says 'write through'" \
  grep -q "lun1 wce=0 cache_type=write through" <<<"$state"
check "handler log: LUN 0 added with the cache on, LUN 1's cache turned off" lab_exec \
  "grep -q 'pv${ID}l0 .*write cache on: WCE=1' /var/log/scsipub-tcmu.log &&
   grep -q 'pv${ID}l1: write cache off' /var/log/scsipub-tcmu.log"

check "ext4 on both LUNs, a 4 MiB file written with fsync on each" lab_exec "$G
  head -c 4194304 /dev/urandom >/tmp/file.bin && head -c 1048576 /dev/urandom >/tmp/raw.bin &&
  dd if=/tmp/raw.bin of=$GUEST_STATE/raw.bin conv=fsync status=none &&
  for l in 0 1; do d=\$(lun_dev \$l); mkfs.ext4 -q -F -E nodiscard \$d 32M &&
    mkdir -p /mnt/l\$l && mount -o noatime \$d /mnt/l\$l &&
    dd if=/tmp/file.bin of=/mnt/l\$l/file.bin bs=1M conv=fsync status=none || exit 1; done"
SUM=$(lab_exec "sha256sum </tmp/file.bin | cut -c1-64")
RAWSUM=$(lab_exec "sha256sum </tmp/raw.bin | cut -c1-64")
# The raw writes last (LUN 1, then LUN 0): nothing flushes after them.
check "1 MiB written raw with O_DIRECT and no flush to each LUN" lab_exec "$G
  for l in 1 0; do dd if=/tmp/raw.bin of=\$(lun_dev \$l) bs=1M seek=$RAW_SEEK oflag=direct status=none || exit 1; done
  grep -E '^(Dirty|Writeback):' /proc/meminfo"
check "LUN 2: 1 MiB written over the base for the first time (no flush), then its bitmap file alone fsynced" \
  lab_exec "$G; dd if=/tmp/raw.bin of=\$(lun_dev 2) bs=1M seek=$RAW_SEEK oflag=direct status=none &&
  python3 -S -c 'import os; fd = os.open(\"$GUEST_STATE/sessions/$ID/lun2.bitmap\", os.O_RDONLY); os.fsync(fd)'"

lab_stop # hard power-off right after fsync returned: QEMU is killed, nothing synced
lab_boot || { fail "the VM boots again"; finish; exit 1; }
check "state disk mounted again (journal replayed)" mount_state
check "stack starts again" start_stack
check "session re-created over the kept overlays" make_session
check "open-iscsi logs in again" login
after=$(lab_exec "$G; for l in 0 1; do d=\$(lun_dev \$l); mkdir -p /mnt/l\$l
  if mount -o ro,noatime \$d /mnt/l\$l 2>/dev/null; then
    echo \"lun\$l file=\$(sha256sum </mnt/l\$l/file.bin 2>/dev/null | cut -c1-64)\"
  else echo \"lun\$l file=unmountable\"; fi
  echo \"lun\$l raw=\$(dd if=\$d bs=1M skip=$RAW_SEEK count=1 iflag=direct status=none | sha256sum | cut -c1-64)\"
  done")
echo "$after"
check "LUN 0 (WCE=1): the fsynced file survived the power loss byte for byte" \
  grep -q "lun0 file=$SUM" <<<"$after"
check "LUN 1 (WCE=0): the fsynced file survived the power loss byte for byte" \
  grep -q "lun1 file=$SUM" <<<"$after"
check "LUN 1 (WCE=0, write-through): the unflushed O_DIRECT write survived too" \
  grep -q "lun1 raw=$RAWSUM" <<<"$after"
if grep -q "lun0 raw=$RAWSUM" <<<"$after"; then
  echo "info: LUN 0 (WCE=1): the unflushed raw write survived (allowed, not promised)"
else
  echo "info: LUN 0 (WCE=1): the unflushed raw write was lost with the cache (allowed by WCE=1)"
fi
# Sector by sector: the new data, or the base's old contents; never zeros.
lun2=$(lab_exec "$G; dd if=\$(lun_dev 2) bs=1M skip=$RAW_SEEK count=1 iflag=direct status=none >/tmp/lun2.bin &&
  python3 -S -c '
new = open(\"$GUEST_STATE/raw.bin\", \"rb\").read()
got = open(\"/tmp/lun2.bin\", \"rb\").read()
with open(\"$BASE\", \"rb\") as f:
    f.seek($RAW_SEEK << 20); old = f.read(1 << 20)
n = {\"new\": 0, \"old\": 0, \"zeros\": 0, \"other\": 0}
for i in range(0, 1 << 20, 512):
    s = got[i:i + 512]
    k = \"new\" if s == new[i:i + 512] else \"old\" if s == old[i:i + 512] else \"zeros\" if not any(s) else \"other\"
    n[k] += 1
print(\"lun2 sectors: new=%d old=%d zeros=%d other=%d\" % (n[\"new\"], n[\"old\"], n[\"zeros\"], n[\"other\"]))
'")
echo "$lun2"
check "LUN 2 (WCE=1): each unflushed first-write sector reads new or old (base) data, none zeros" \
  grep -qE "lun2 sectors: new=[0-9]+ old=[0-9]+ zeros=0 other=0" <<<"$lun2"
check "mode page after the reboot: LUN 0 WCE=1, LUN 1 WCE=0" \
  lab_exec "$G; [ \$(wce_bit \$(lun_dev 0)) = 1 ] && [ \$(wce_bit \$(lun_dev 1)) = 0 ]"
echo "test-power-loss: ${SECONDS} s (two boots)"
finish
