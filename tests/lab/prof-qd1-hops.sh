#!/usr/bin/env bash
# Profile (by hand, not in the suite), issue 10 goal 1: where a 4 KiB read at queue
# depth 1 spends its time, through the portal and straight to LIO, on the same kind of
# backstore in one lab VM.
#
# Two LUNs: `blank` through the portal (plain TCP), and a user:cow backstore made by
# hand with the control string scsipub-cfgd uses, on a LIO target of its own (port
# 3263, no relay), served by the same scsipub-tcmu. open-iscsi logs in to both; the
# first 16 MiB of each is written, then fio reads 4 KiB at random from it at QD1
# (libaio, direct). Per round and LUN: one fio run alone (its mean completion latency,
# the figure), then one of CAPTURE seconds under tcpdump on the guest's loopback. From
# the capture's timestamps (taken as each segment leaves its sender), per I/O, medians:
#   portal: the client's SCSI Command PDU → the portal sends it on to LIO (cmd relay);
#           → LIO's first segment back (LIO, the ring and scsipub-tcmu); → its last one
#           (LIO sends the Data-In header and data apart); → the portal sends it on to
#           the client (data relay); → the client's next command (the initiator).
#   direct: the client's command → LIO's first segment back; → its last one; → the
#           client's next command.
# tcpdump costs CPU per segment; the captured cycle is a median, fio's figure a mean
# (which the slowest I/Os pull up).
#
# Environment: ROUNDS (2), RUNTIME (s per fio run, 8), CAPTURE (s, 3), LAB_MEM (MiB,
# 3072), PROF_OUT (a directory for the captures, kept).
# Usage: flock /tmp/scsipub-lab.lock bash tests/lab/prof-qd1-hops.sh
set -uo pipefail
export LAB_MEM=${LAB_MEM:-3072}
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/peers.sh"
ROUNDS=${ROUNDS:-2} RUNTIME=${RUNTIME:-8} CAPTURE=${CAPTURE:-3}
BLANK=iqn.2025-01.pub.scsipub:blank
DIRECT_IQN=iqn.2025-01.test.scsipub:hops-direct
H=$GUEST_STATE/hops
make -s -C "$TOP" all >/dev/null || exit 1
for t in fio tcpdump; do
  command -v "$t" >/dev/null || { echo "prof-qd1-hops: $t missing (scripts/deps.sh)"; exit 1; }
done
prof_boot prof-qd1-hops

STACK_DISK_RESERVE=0 start_stack --max-conn-per-ip 0 --login-rate 0 --max-conn-per-net4 0 \
  --net-login-rate 0 --disk-reserve 0 --nopin-interval 30 --nopin-timeout 30 ||
  die "our stack did not start"
# Straight to LIO: a user:cow backstore as scsipub-cfgd makes one (64 MiB over a base of
# random data), exported on port 3263 to any initiator.
SIZE=67108864
g "set -e; mkdir -p $H; dd if=/dev/urandom of=$H/base.img bs=1M count=64 status=none
   $(peer_cow_backstore hops "$H" $SIZE "$H/base.img" hw_block_size=512 \
     "echo 1 >\$D/attrib/emulate_write_cache; echo 0 >\$D/attrib/alua_support")
   $(peer_lio_target $DIRECT_IQN 3263 "$CFS/core/user_90/hops")" || die "the direct target"

declare -A IQN PORT DEV
IQN=([portal]=$BLANK [direct]=$DIRECT_IQN)
PORT=([portal]=$LAB_PORT [direct]=3263)
for b in portal direct; do
  DEV[$b]=$(peer_login "${IQN[$b]}" "${PORT[$b]}") || die "open-iscsi login to $b failed"
  g "fio --name=fill --filename=/dev/${DEV[$b]} --ioengine=libaio --direct=1 --rw=write \
     --bs=1M --iodepth=8 --size=16M --output=/dev/null" || die "$b: the first 16 MiB"
done

FIO="--ioengine=libaio --direct=1 --rw=randread --bs=4k --iodepth=1 --size=16M --time_based --randrepeat=0 --norandommap"
# Runs fio alone, then under a capture: prints the first run's mean completion latency (µs).
run() { # BACKSTORE ROUND
  local dev=${DEV[$1]} pc=/tmp/hops-$1-$2.pcap
  g "fio --name=a --filename=/dev/$dev $FIO --runtime=$RUNTIME --output-format=terse | cut -d';' -f40
     tcpdump -Z root -q -i lo -U -w $pc 'tcp port ${PORT[$1]} or tcp port 3262' 2>$pc.err & tp=\$!
     for i in \$(seq 300); do grep -q listening $pc.err && break; sleep 0.1; done
     fio --name=b --filename=/dev/$dev $FIO --runtime=$CAPTURE --output=/dev/null
     kill -INT \$tp; wait \$tp; cp $pc $LAB_RUN/" || return 1
  tcpdump -r "$LAB_RUN/hops-$1-$2.pcap" -tt -nn -q 2>/dev/null >"$OUT/hops-$1-$2.txt"
}
echo "=== prof-qd1-hops: $(date -u +%F), 4 KiB random read QD1, guest $(g nproc | tr -d '\n') vCPU" \
  "$LAB_MEM MiB, accel $(lab_accel_name)," \
  "kernel $(g 'uname -r' | tr -d '\n')"
for r in $(seq "$ROUNDS"); do
  for b in portal direct; do
    lat=$(run "$b" "$r") || die "fio on $b failed"
    python3 - "$b" "${PORT[$b]}" "$OUT/hops-$b-$r.txt" "$lat" <<'PY'
import re, statistics, sys
kind, front, path, lat = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
segs = []  # (time, source port, destination port, payload bytes)
for line in open(path):
    m = re.match(r"([\d.]+) IP [\d.]+\.(\d+) > [\d.]+\.(\d+): tcp (\d+)", line)
    if m:
        segs.append((float(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4))))
# The client: the port that sends 48-byte segments (SCSI Command PDUs) to the front port.
cmds = [s for s in segs if s[2] == front and s[3] == 48]
if not cmds:
    sys.exit("no commands captured in " + path)
client = max({s[1] for s in cmds}, key=lambda p: sum(1 for s in cmds if s[1] == p))
cyc, cur = [], None
for t, sp, dp, n in segs:
    if sp == client and dp == front and n == 48:
        if cur is not None and "o1" in cur:
            cur["next"] = t
            cyc.append(cur)
        cur = {"c": t}
    elif cur is None or n == 0:
        continue
    elif dp == 3262 and n == 48 and kind == "portal":
        cur.setdefault("f", t)
    elif sp == 3262 and kind == "portal":
        cur.setdefault("l1", t)
        cur["l2"] = t
    elif sp == front and dp == client:
        cur.setdefault("o1", t)
        cur["o2"] = t
def med(a, b):
    v = [(c[b] - c[a]) * 1e6 for c in cyc if a in c and b in c]
    return statistics.median(v) if v else float("nan")
print("  %-6s fio alone: %.0f µs mean; captured %d I/Os, median µs: cycle %.0f" %
      (kind, lat, len(cyc), med("c", "next")), end="")
if kind == "portal":
    print(" = cmd relay %.0f + LIO and handler %.0f + LIO's segments %.0f + data relay %.0f"
          " + initiator %.0f" % (med("c", "f"), med("f", "l1"), med("l1", "l2"),
                                 med("l2", "o1"), med("o1", "next")))
else:
    print(" = LIO and handler %.0f + LIO's segments %.0f + initiator %.0f" %
          (med("c", "o1"), med("o1", "o2"), med("o2", "next")))
PY
  done
done
echo "raw: $OUT"
