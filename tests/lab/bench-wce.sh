#!/usr/bin/env bash
# Benchmark (not a test), issue 10 "honest write caching": the two honest modes of our
# COW LUN measured in the same run, in the same VM, on the same state disk.
#   WCE=1  attrib/emulate_write_cache=1 (what our backstores get, cfs.h CFS_WRITE_CACHE):
#          writes complete in the overlay's page cache; SYNCHRONIZE CACHE / FUA
#          (which Linux then sends on fsync and journal commits) make them durable
#   WCE=0  attrib/emulate_write_cache=0: write-through, each write fdatasync'd (overlay,
#          then bitmap) before GOOD; the initiator never sends a flush
# One provisioned session with two blank 256 MiB LUNs (LUN 0 WCE=1, LUN 1 WCE=0), the
# state directory on LAB_DISK (ext4 on the guest's virtio disk, so fdatasync costs what
# it costs on a disk, not the nothing it costs on tmpfs), open-iscsi through the portal
# inside the guest. Workloads, each ROUNDS times, the two LUNs alternating so drift
# hits both alike, on the raw device (or on ext4 where said):
#   seq-1m-fsync   64 MiB sequential buffered writes in 1 MiB blocks, one fsync at the end
#                  (dd conv=fsync, timed from start to the fsync's return)
#   rand-4k-qd16   4 KiB random O_DIRECT writes, libaio iodepth 16, no fsync
#   rand-4k-sync   4 KiB random O_DIRECT writes, QD1, fdatasync after each (a database log)
#   ext4-files     ext4, an untar of 400 files of 16 KiB (one tar process), then one
#                  sync -f: files/s from the start of tar to the sync's return
# Prints MiB/s (or files/s) per mode, and the ratio WCE=0 / WCE=1 for each workload.
# Usage: tests/lab/bench-wce.sh  [ROUNDS=2] [RUNTIME=8 seconds per fio job]
set -uo pipefail
source "$(dirname "$0")/common.sh"
make -s -C "$TOP" all tools >/dev/null || exit 1
ROUNDS=${ROUNDS:-2}
RUNTIME=${RUNTIME:-8}

DISK=$(mktemp "$TOP/build/lab/wcedisk.XXXXXX")
truncate -s 1536M "$DISK" && mkfs.ext4 -q -F "$DISK"
export LAB_DISK=$DISK
STACK_DISK_RESERVE=$((16 << 20)) # the state disk is small: no 512 MiB reserve
lab_up
trap 'lab_stop; rm -f "$DISK"' EXIT
G="source $TOP/tests/lab/pr-guest.sh; source $TOP/tests/lab/wce-guest.sh
  make_tar() { [ -f /tmp/files.tar ] && return 0; mkdir -p /tmp/files
    for i in \$(seq 400); do head -c 16384 /dev/urandom >/tmp/files/f\$i; done
    tar -cf /tmp/files.tar -C /tmp/files .; }"
ID=wcebench U=ubench S=benchsecret1234
IQN=iqn.2025-01.pub.scsipub:s.$ID
lab_exec "modprobe virtio_blk; for i in \$(seq 50); do [ -b /dev/vda ] && break; sleep 0.1; done
  mount /dev/vda $GUEST_STATE" || { echo "state disk did not mount"; exit 1; }
start_stack || { echo "stack did not start"; exit 1; }
lab_exec "$TOP/build/configfs-manager/scsipub-ctl session-create $GUEST_STATE $ID $U $S \
  blank:256M blank:256M &&
  echo 0 >\$(ls -d /sys/kernel/config/target/core/user_*/pv${ID}l1)/attrib/emulate_write_cache &&
  $G && pr_login b iqn.2025-01.test.scsipub:wcebench $IQN 127.0.0.1:$LAB_PORT $U $S &&
  lun_dev 0 && lun_dev 1 && for l in 0 1; do echo lun\$l wce=\$(wce_bit \$(lun_dev \$l)) \
  cache_type=\$(lun_cache_type \$l); done" || { echo "session setup failed"; exit 1; }

# fio_bw LUN ARGS... → write bandwidth in KiB/s (fio's terse field 48)
fio_bw() {
  local l=$1; shift
  lab_exec "$G; fio --name=w --filename=\$(lun_dev $l) --output-format=terse --terse-version=3 $* |
    awk -F';' '{print \$48}'"
}
run() { # WORKLOAD LUN → prints one number (KiB/s, or files/s)
  case $1 in
    seq-1m-fsync) lab_exec "$G; d=\$(lun_dev $2); [ -f /tmp/seq.bin ] || head -c 64M /dev/urandom >/tmp/seq.bin
      s=\$(date +%s%N); dd if=/tmp/seq.bin of=\$d bs=1M conv=fsync status=none || exit 1
      e=\$(date +%s%N); echo \$((65536 * 1000000000 / (e - s)))" ;;
    rand-4k-qd16) fio_bw "$2" --rw=randwrite --bs=4k --size=256M --direct=1 --ioengine=libaio \
      --iodepth=16 --time_based --runtime="$RUNTIME" --randrepeat=0 ;;
    rand-4k-sync) fio_bw "$2" --rw=randwrite --bs=4k --size=256M --direct=1 --ioengine=psync \
      --fdatasync=1 --time_based --runtime="$RUNTIME" --randrepeat=0 ;;
    ext4-files) lab_exec "$G; d=\$(lun_dev $2); umount /mnt/b$2 2>/dev/null; mkfs.ext4 -q -F \$d &&
      mkdir -p /mnt/b$2 && mount \$d /mnt/b$2 && make_tar &&
      s=\$(date +%s%N); tar -xf /tmp/files.tar -C /mnt/b$2 && sync -f /mnt/b$2/f1 || exit 1
      e=\$(date +%s%N); umount /mnt/b$2; echo \$((400 * 1000000000 / (e - s)))" ;;
  esac
}

WORKLOADS="seq-1m-fsync rand-4k-qd16 rand-4k-sync ext4-files"
declare -A SUM
for w in $WORKLOADS; do SUM[$w.0]=0 SUM[$w.1]=0; done
for r in $(seq "$ROUNDS"); do
  for w in $WORKLOADS; do
    # alternate which mode goes first
    if [ $((r % 2)) = 1 ]; then order="0 1"; else order="1 0"; fi
    for l in $order; do
      v=$(run "$w" "$l" | tail -n1)
      [[ $v =~ ^[0-9]+$ ]] || { echo "round $r $w LUN $l: no result ($v)"; v=0; }
      echo "round $r  $w  $([ "$l" = 0 ] && echo WCE=1 || echo WCE=0)  $v"
      SUM[$w.$l]=$((SUM[$w.$l] + v))
    done
  done
done

echo
echo "write caching, $ROUNDS rounds (mean), state on ext4 on virtio, TCG, $(date -u +%F)"
printf '%-14s %14s %14s %16s\n' workload WCE=1 WCE=0 "ratio WCE0/WCE1"
for w in $WORKLOADS; do
  a=${SUM[$w.0]} b=${SUM[$w.1]}
  unit="MiB/s"; [ "$w" = ext4-files ] && unit="files/s"
  if [ "$unit" = "MiB/s" ]; then
    fa=$(awk -v x="$a" -v n="$ROUNDS" 'BEGIN{printf "%.2f", x / n / 1024}')
    fb=$(awk -v x="$b" -v n="$ROUNDS" 'BEGIN{printf "%.2f", x / n / 1024}')
  else
    fa=$(awk -v x="$a" -v n="$ROUNDS" 'BEGIN{printf "%.1f", x / n}')
    fb=$(awk -v x="$b" -v n="$ROUNDS" 'BEGIN{printf "%.1f", x / n}')
  fi
  ratio=$(awk -v x="$a" -v y="$b" 'BEGIN{ if (x > 0) printf "%.3f", y / x; else print "n/a" }')
  printf '%-14s %8s %-5s %8s %-5s %16s\n' "$w" "$fa" "$unit" "$fb" "$unit" "$ratio"
done
