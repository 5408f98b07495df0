#!/usr/bin/env bash
# Benchmark (not a test, not in the suite), issue 10 goals 1-2: throughput and latency
# of our LUNs against peers measured in the same lab VM, as ratios to LIO fileio.
#
# Backstores (all SIZE bytes, all data on the guest's tmpfs /var/lib/scsipub):
#   fileio  LIO fileio, buffered (fd_buffered_io=1): the kernel-only ceiling, = 1.00
#   portal  ours through the portal, plain TCP (image.bench: a COW overlay per
#           connection over the base image bench.img)
#   prov    ours through the portal to a provisioned target (iqn...:s.bench, made with
#           scsipub-ctl session-create as the API would: one COW LUN over bench.img,
#           one-way CHAP; the portal tells scsipub-tcmu LIO's CPU while its one
#           connection is the target's only one, tls-proxy/provplace.h). Not in the
#           default set: it is the portal column's path with another kind of target
#   tls     ours through the portal's TLS listener; open-iscsi has no TLS, so it goes
#           through stunnel4 in client mode inside the guest (stunnel's CPU is paid by
#           the same 2 vCPUs: this is what a real initiator behind stunnel costs)
#   direct  ours straight to LIO: a user:cow backstore made by hand with the control
#           string scsipub-cfgd uses, over the same base image, exported on its own LIO
#           target (no relay)
#   runner  Debian's tcmu-runner, qcow handler, qcow2 (compat 0.10) with bench.img as
#           raw backing file: the userspace COW peer. The qcow2 file is on an ext4 loop
#           mount whose image file is on the same tmpfs (the qcow handler allocates with
#           fallocate(ZERO_RANGE), which tmpfs refuses)
#   tgt     Debian's tgt (tgtd, rdwr backing store: buffered) on a copy of bench.img
# The TCMU backstores (direct, runner; the portal's are made by scsipub-cfgd) have the
# same attributes: hw_max_sectors=2048, max_data_area_mb=16, cmd_ring_size_mb=1
# (TCMU_ATTRS overrides them for direct and runner, not for the portal's).
#
# Workloads, fio libaio direct=1 through open-iscsi inside the guest; the first half of
# each LUN is written once before the rounds (so reads of it hit written data, and COW
# writes are overwrites), the second half is never written:
#   seqwrite  1 MiB sequential write QD8, first half
#   seqread   1 MiB sequential read QD8, first half
#   randwrite 4 KiB random write QD32, first half
#   randread  4 KiB random read QD32, first half
#   lat       4 KiB random read QD1, first half: mean completion latency
#   fresh     1 MiB sequential read QD8 of the never-written second half (COW: base
#             fall-through; fileio/tgt: plain reads of the file)
# Rounds are interleaved: each round runs every workload on every backstore, the
# backstore order rotated per round, so drift hits all alike. Printed: workload x
# backstore as ratio to fileio in the same round (throughput: ratio; latency: x fileio),
# mean and min-max over rounds; absolute fileio figures; pairs measured in the same round
# (tools/bench-pairs.py: ours straight to LIO and through the portal / tcmu-runner,
# portal / straight to LIO, straight to LIO / tgt: the geometric mean of the per-round
# ratios, its 95 % interval, and in how many rounds the first did better; it pools the
# results of several runs given by hand); CPU ms per MiB of the portal,
# scsipub-tcmu, tcmu-runner, tgtd (and stunnel) on the 1 MiB workloads, from
# /proc/PID/stat utime+stime deltas; the TLS/plain ratio.
# Login latency (build/tools/login-time, libiscsi, in the guest, to Full Feature
# Phase): median of LOGINS sequential logins to blank through the portal vs. the same
# to the pre-made fileio target; p50/p99/max of CONC concurrent logins to the fileio
# target, then to blank, then to ro.bench (the image's read-only shared export).
# With SESSIONS, last, the session ramp of goal 3 (tests/lab/test-ramp.sh, RAMP=SESSIONS,
# in a VM of its own): its time, login p50/p99, guest memory per session, the
# read-only shared export's ramp, and its checks' count.
#
# Environment: ROUNDS (1), RUNTIME (s per fio run, 5), RAMP (s, 1), SIZE (MiB, 256),
# LOGINS (20), CONC (50), LAB_MEM (MiB, 3072), BACKSTORES (the six above but prov,
# space-separated; prov added by name),
# WORKLOADS (all six), LIO_PARAMS (iSCSI parameters of every LIO TPG, below),
# PEER_NODE_PARAMS (open-iscsi node settings of every login, peers.sh; unset: its
# defaults, e.g. FirstBurstLength 262144: "node.session.iscsi.FirstBurstLength=1048576"
# lets a 1 MiB write go without an R2T), POOL
# (scsipub-cfgd --pool, as provision.sh: blank=4; empty = none; blank=COUNT:MAX grows
# with bursts), BURSTS (1: how many times the concurrent burst is sent through the
# portal, each after the last one's sessions are gone), SPACED (15 logins one
# second apart, each alone: the pool has refilled), IO_THREADS (scsipub-tcmu
# --io-threads; unset: its default, 0 = one command at a time per device), PORTAL_ARGS
# (more scsipub-portal options, e.g. --verbose: each login's steps in its log), BENCH_OUT
# (a directory for the raw results, kept; default a temporary one, removed), PERF_FREQ
# (unset: off; a rate in Hz: every fio run under `perf record -a`, each run's share of
# CPU per process and our daemons' heaviest functions in BENCH_OUT/prof-*: a profile,
# its figures are not comparable with runs without it; PERF_TOP lines per daemon, as
# shares of that daemon's samples; their call chains in BENCH_OUT/prof-*.chains),
# SESSIONS (0: no session ramp; goal 3's is 1000), SESSIONS_MEM (MiB, 2048),
# SESSIONS_CONC (logins in flight during the ramp, 50). Long form: ROUNDS=3 RUNTIME=15
# CONC=200 SESSIONS=1000. The short default took 474 s under TCG (2026-12-02).
# Usage: flock /tmp/scsipub-lab.lock bash tests/lab/bench-perf.sh
set -uo pipefail
export LAB_MEM=${LAB_MEM:-3072}
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/targetcli.sh"
source "$(dirname "$0")/peers.sh"
ROUNDS=${ROUNDS:-1} RUNTIME=${RUNTIME:-5} RAMP=${RAMP:-1} SIZE_MB=${SIZE:-256}
LOGINS=${LOGINS:-20} CONC=${CONC:-50} SPACED=${SPACED:-15} POOL=${POOL-blank=4} BURSTS=${BURSTS:-1}
BACKSTORES=${BACKSTORES:-fileio portal tls direct runner tgt}
WORKLOADS=${WORKLOADS:-seqwrite seqread randwrite randread lat fresh}
SIZE_B=$((SIZE_MB * 1048576)) HALF_B=$((SIZE_MB * 1048576 / 2))
make -s -C "$TOP" all tools >/dev/null || exit 1
for t in fio tgtd stunnel tcmu-runner qemu-img; do
  command -v "$t" >/dev/null || { echo "bench-perf: $t missing (scripts/deps.sh)"; exit 1; }
done
# The guest runs the host's perf (the lab's root is the host's).
[ -z "${PERF_FREQ:-}" ] || command -v perf >/dev/null ||
  { echo "bench-perf: PERF_FREQ needs perf (apt-get install linux-perf)"; exit 1; }

B=$GUEST_STATE/bench
IMAGES=$GUEST_STATE/catalog # the catalog on the guest's tmpfs, not the 9p repo
BASE=$IMAGES/bench.img
FILEIO_IQN=iqn.2025-01.test.scsipub:bench-fileio
DIRECT_IQN=iqn.2025-01.test.scsipub:bench-direct
RUNNER_IQN=iqn.2025-01.test.scsipub:bench-runner
TGT_IQN=iqn.2025-01.test.scsipub:bench-tgt
IMAGE_IQN=iqn.2025-01.pub.scsipub:image.bench
PROV_IQN=iqn.2025-01.pub.scsipub:s.bench PROV_USER=benchuser PROV_SECRET=bench-secret-1
RO_IQN=iqn.2025-01.pub.scsipub:ro.bench # the same image, read-only and shared
TCMU_ATTRS=${TCMU_ATTRS:-hw_block_size=512,hw_max_sectors=2048,max_data_area_mb=16,cmd_ring_size_mb=1}
OUT=${BENCH_OUT:-$(mktemp -d)}
mkdir -p "$OUT" || exit 1
trap 'lab_stop; [ -n "${BENCH_OUT:-}" ] || rm -rf "$OUT"' EXIT
g() { lab_exec "$@"; }
die() { echo "bench-perf: $*"; lab_logs; exit 1; }
say() { echo "[$(date -u +%H:%M:%S)] $*"; }

LAB_EXEC_TIMEOUT=600
LAB_PORT=$(free_port); export LAB_PORT
lab_boot || die "lab VM did not boot"
say "guest up: $(g 'nproc; grep MemTotal /proc/meminfo' | tr '\n' ' ')"

# --- storage ---------------------------------------------------------------------------
g "set -e; mount -o remount,size=$((SIZE_MB * 6 + 600))m $GUEST_STATE
   mkdir -p $IMAGES $B
   dd if=/dev/urandom of=$BASE bs=1M count=$SIZE_MB status=none
   cp $BASE $B/fileio.img; cp $BASE $B/tgt.img; chmod 0644 $BASE" || die "storage setup failed"
say "base image ($SIZE_MB MiB of random data) and copies made"

# --- our stack: relaxed per-address limits (every initiator here is 127.0.0.1), no
# anonymous write limit (its 64 MiB tier cap is below the written half of a LUN)
STACK_IO_THREADS=${IO_THREADS:-} STACK_POOL=$POOL STACK_DISK_RESERVE=0 start_stack --max-conn-per-ip 0 --login-rate 0 --max-conn-per-net4 0 \
  --net-login-rate 0 --disk-reserve 0 --anon-write-limit 0 --nopin-interval 30 --nopin-timeout 30 \
  ${PORTAL_ARGS:-} ||
  die "our stack did not start"
g "for i in \$(seq 100); do grep -q ':0CBD 00000000:0000 0A' /proc/net/tcp && exit 0; sleep 0.2; done; exit 1" ||
  die "the portal's TLS listener (3261) is not up"

# --- LIO_PARAMS: iSCSI TPG parameters for every LIO target of this run ------------------
# Unset: the write-burst and segment offers scsipub-cfgd makes on its own targets
# (cfs_target.c: InitialR2T=No FirstBurstLength=1048576 MaxBurstLength=1048576
# MaxRecvDataSegmentLength=262144), so every LIO target of the run negotiates the same
# bursts and PDU sizes; LIO_PARAMS= (empty) leaves LIO's defaults on the others. The
# portal's image.bench TPG is made here before the first login with these parameters;
# scsipub-cfgd then finds it and sets what it ensures (its attributes,
# HeaderDigest/DataDigest, MaxConnections, the write bursts and the segment length)
# over them.
LIO_PARAMS=${LIO_PARAMS-InitialR2T=No FirstBurstLength=1048576 MaxBurstLength=1048576 MaxRecvDataSegmentLength=262144}
lio_params() { # TPG_DIR (a shell word for the guest) → commands
  local kv
  for kv in ${LIO_PARAMS:-}; do echo "echo ${kv#*=} >$1/param/${kv%%=*};"; done
}
if [ -n "${LIO_PARAMS:-}" ]; then
  g "set -e; T=$CFS/iscsi/$IMAGE_IQN/tpgt_1; mkdir -p \$T; $(lio_params "\$T")" ||
    die "LIO_PARAMS on the portal's target failed"
fi

# --- a provisioned target (scsipub-ctl, as the API makes them) through the portal -------
if [[ " $BACKSTORES " == *" prov "* ]]; then
  g "$TOP/build/configfs-manager/scsipub-ctl session-create $GUEST_STATE bench $PROV_USER \
       $PROV_SECRET $BASE" >/dev/null || die "provisioned target setup failed"
fi

# --- LIO fileio (buffered) on 3263 ------------------------------------------------------
lio_target() { # IQN PORT BACKSTORE_DIR
  peer_lio_target "$1" "$2" "$3" "echo 0 >\$T/attrib/cache_dynamic_acls; $(lio_params "\$T")"
}
# Always made: also the peer of the login latency.
g "set -e; modprobe target_core_file
     D=$CFS/core/fileio_90/bench; mkdir -p \$D
     echo fd_dev_name=$B/fileio.img,fd_dev_size=$SIZE_B,fd_buffered_io=1 >\$D/control
     echo 1 >\$D/enable
     $(lio_target $FILEIO_IQN 3263 "$CFS/core/fileio_90/bench")" || die "fileio target setup failed"

# --- ours straight to LIO on 3264 -------------------------------------------------------
if [[ " $BACKSTORES " == *" direct "* ]]; then
  g "set -e; $(peer_cow_backstore direct "$B" "$SIZE_B" "$BASE" "$TCMU_ATTRS")
     $(lio_target $DIRECT_IQN 3264 "$CFS/core/user_90/direct")" || die "direct target setup failed"
fi

# --- tcmu-runner, qcow2 with a raw backing file, on 3266 --------------------------------
if [[ " $BACKSTORES " == *" runner "* ]]; then
  guest_start_dbus >/dev/null || die "dbus did not start"
  g "mkdir -p /etc/tcmu /run/tcmu-log; [ -f /etc/tcmu/tcmu.conf ] || : >/etc/tcmu/tcmu.conf
     setsid tcmu-runner --tcmu-log-dir=/run/tcmu-log >/run/tcmu-log/stdout 2>&1 </dev/null &
     for i in \$(seq 300); do
       grep -q unblocked /sys/module/target_core_user/parameters/block_netlink 2>/dev/null &&
         dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
           org.freedesktop.DBus.ListNames 2>/dev/null | grep -q TCMUService1 && sleep 1 && exit 0
       pgrep -x tcmu-runner >/dev/null || break; sleep 0.1
     done; cat /run/tcmu-log/stdout; exit 1" || die "tcmu-runner did not start"
  g "set -e; truncate -s $((SIZE_MB + 64))M $B/rq.img && mkfs.ext4 -q -F $B/rq.img
     mkdir -p /mnt/rq && mount -o loop $B/rq.img /mnt/rq
     qemu-img create -q -f qcow2 -o compat=0.10 -b $BASE -F raw /mnt/rq/q.qcow2 $SIZE_B
     D=$CFS/core/user_91/runner; mkdir -p \$D
     echo -n 'dev_size=$SIZE_B,dev_config=qcow//mnt/rq/q.qcow2,$TCMU_ATTRS' >\$D/control
     echo 1 >\$D/enable
     $(lio_target $RUNNER_IQN 3266 "$CFS/core/user_91/runner")" || die "tcmu-runner target setup failed"
fi

# --- tgt on 3265 ------------------------------------------------------------------------
if [[ " $BACKSTORES " == *" tgt "* ]]; then
  g "set -e; mkdir -p /var/run/tgtd
     setsid tgtd -f --iscsi portal=127.0.0.1:3265 >/run/tgtd.log 2>&1 </dev/null &
     for i in \$(seq 100); do tgtadm --lld iscsi --op show --mode target >/dev/null 2>&1 && break; sleep 0.1; done
     tgtadm --lld iscsi --op new --mode target --tid 1 -T $TGT_IQN
     tgtadm --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b $B/tgt.img
     tgtadm --lld iscsi --op bind --mode target --tid 1 -I ALL" || die "tgt setup failed"
fi

# --- stunnel (client mode) in the guest: plain 127.0.0.1:3270 -> TLS 127.0.0.1:3261 -----
if [[ " $BACKSTORES " == *" tls "* ]]; then
  g "mkdir -p /run/stunnel; cat >/run/stunnel/bench.conf <<EOF
foreground = yes
pid =
output = /run/stunnel/stunnel.log
[iscsi-tls]
client = yes
accept = 127.0.0.1:3270
connect = 127.0.0.1:3261
EOF
     setsid stunnel /run/stunnel/bench.conf >/dev/null 2>&1 </dev/null &
     for i in \$(seq 100); do grep -q ':0CC6 00000000:0000 0A' /proc/net/tcp && exit 0; sleep 0.1; done; exit 1" ||
    die "stunnel did not start"
fi

# --- open-iscsi logins -----------------------------------------------------------------
declare -A IQN PORT DEV CHAP
IQN=([fileio]=$FILEIO_IQN [portal]=$IMAGE_IQN [tls]=$IMAGE_IQN [direct]=$DIRECT_IQN
  [runner]=$RUNNER_IQN [tgt]=$TGT_IQN [prov]=$PROV_IQN)
PORT=([fileio]=3263 [portal]=$LAB_PORT [tls]=3270 [direct]=3264 [runner]=3266 [tgt]=3265
  [prov]=$LAB_PORT)
CHAP=([prov]="$PROV_USER $PROV_SECRET")
for b in $BACKSTORES; do
  # shellcheck disable=SC2086 # CHAP: user and secret, or nothing
  dev=$(peer_login "${IQN[$b]}" "${PORT[$b]}" ${CHAP[$b]:-}) || die "open-iscsi login to $b (${IQN[$b]} at ${PORT[$b]}) failed"
  DEV[$b]=$dev
  say "$b: /dev/$dev ($(g "cat /sys/block/$dev/size /sys/block/$dev/queue/max_sectors_kb \
    /sys/block/$dev/queue/scheduler /sys/block/$dev/device/queue_depth" | tr '\n' ' '))"
  g "[ \$((\$(cat /sys/block/$dev/size) * 512)) = $SIZE_B ]" || die "$b: /dev/$dev is not $SIZE_B bytes"
done

# Negotiated (RFC 7143 §13): what shapes the PDUs and R2T round trips the relay sees.
g "for s in /sys/class/iscsi_session/session*; do
     c=\$(ls -d \$s/device/connection*/iscsi_connection/connection* | head -n1)
     echo \"  \$(cat \$s/targetname):\$(cat \$c/persistent_port) InitialR2T=\$(cat \$s/initial_r2t)\" \
       \"ImmediateData=\$(cat \$s/immediate_data) FirstBurst=\$(cat \$s/first_burst_len)\" \
       \"MaxBurst=\$(cat \$s/max_burst_len) MaxXmitDSL=\$(cat \$c/max_xmit_dlength)\" \
       \"MaxRecvDSL=\$(cat \$c/max_recv_dlength)\"
   done"

# --- prefill the first half of every LUN ------------------------------------------------
for b in $BACKSTORES; do
  t0=$SECONDS
  g "fio --name=fill --filename=/dev/${DEV[$b]} --ioengine=libaio --direct=1 --rw=write \
     --bs=1M --iodepth=8 --size=$HALF_B --output=/dev/null" || die "$b: prefill failed"
  say "$b: first half written ($((HALF_B / 1048576)) MiB, $((SECONDS - t0)) s)"
done

# Where the portal placed the disks' ring threads (common/placehint.h; provisioned
# targets: tls-proxy/provplace.h), as the portal and scsipub-tcmu logged it.
g "grep -h \"LIO's threads for its\|LIO's CPU for its connection is\|several CPUs\" \
     /var/log/scsipub-portal.log /var/log/scsipub-tcmu.log" | sed 's/^/  placement: /'

# Daemon pids for the CPU figures (processes, all threads: /proc/PID/stat).
PIDS=$(g "for n in scsipub-portal scsipub-tcmu tcmu-runner tgtd stunnel; do
  echo \$n \$(pgrep -o -x \$n || echo 0); done")
echo "$PIDS" | sed 's/^/  pid: /'

fio_args() { # WORKLOAD → fio options
  local c="--ioengine=libaio --direct=1 --time_based --runtime=$RUNTIME --ramp_time=$RAMP --randrepeat=0 --norandommap"
  case $1 in
    seqwrite) echo "$c --rw=write --bs=1M --iodepth=8 --offset=0 --size=$HALF_B" ;;
    seqread) echo "$c --rw=read --bs=1M --iodepth=8 --offset=0 --size=$HALF_B" ;;
    randwrite) echo "$c --rw=randwrite --bs=4k --iodepth=32 --offset=0 --size=$HALF_B" ;;
    randread) echo "$c --rw=randread --bs=4k --iodepth=32 --offset=0 --size=$HALF_B" ;;
    lat) echo "$c --rw=randread --bs=4k --iodepth=1 --offset=0 --size=$HALF_B" ;;
    fresh) echo "$c --rw=read --bs=1M --iodepth=8 --offset=$HALF_B --size=$HALF_B" ;;
  esac
}

# With PERF_FREQ: the fio run's profile, read in the guest and then removed there: the
# samples per process name (the share of each above 1 % printed), and each of our
# daemons' heaviest functions (self time) and the call chains that reach them.
profile_report() { # GUEST_PREFIX NAME
  g "perf script -i $1.data -F comm 2>/dev/null | sort | uniq -c | sort -rn
     for c in scsipub-portal scsipub-tcmu; do echo \"== \$c\"
       perf report -i $1.data --comm \$c --no-children -g none --percentage relative --sort dso,sym --stdio \
         2>/dev/null | grep -E '^ +[0-9]' | head -${PERF_TOP:-15}; done" >"$OUT/prof-$2"
  g "for c in scsipub-portal scsipub-tcmu; do echo \"== \$c\"
       perf report -i $1.data --comm \$c --no-children -G --percentage relative --sort sym \
         --stdio 2>/dev/null | grep -v '^#' | grep -v '^\$' | head -300; done
     rm -f $1.data" >"$OUT/prof-$2.chains"
  echo "  profile $2, share of all samples:"
  awk '/^ *[0-9]+ / && !done {t += $1; c[$2] = $1}
    /^==/ {done = 1} END {for (k in c) if (c[k] >= t / 100) printf "    %-16s %5.1f %%\n", k, 100 * c[k] / t}' \
    "$OUT/prof-$2" | sort -k2 -rn
}

# One fio run in the guest (its JSON report goes to the shared run directory and is
# read on the host: python3 over 9p under TCG takes seconds to start); prints
# "MiBps clat_mean_us MiB user_ms sys_ms ..." (a pair per line of PIDS).
run_one() { # BACKSTORE WORKLOAD ROUND
  local js=$LAB_RUN/fio-$3-$2-$1.json cpu pd=/tmp/perf-$3-$2-$1 pre=
  [ -n "${PERF_FREQ:-}" ] &&
    pre="perf record -q -o $pd.data -a -g -e cpu-clock -F $PERF_FREQ --"
  cpu=$(g "cpu() { for p in $(echo "$PIDS" | awk '{print $2}' | tr '\n' ' '); do
        [ \$p = 0 ] && { printf '0 0 '; continue; }; read -r -a s </proc/\$p/stat 2>/dev/null &&
        printf '%d %d ' \${s[13]} \${s[14]} || printf '0 0 '; done; }
     a=\$(cpu)
     $pre fio --name=$2 --filename=/dev/${DEV[$1]} $(fio_args "$2") --output-format=json --output=$js >/dev/null 2>$pd.err ||
       { cat $pd.err >&2; exit 1; }
     echo \"\$a|\$(cpu)\"") || return 1
  [ -n "${PERF_FREQ:-}" ] && profile_report "$pd" "$3-$2-$1" >&2
  python3 - "$js" "$cpu" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
d = j["write"] if j["write"]["io_bytes"] > j["read"]["io_bytes"] else j["read"]
a, z = ([int(x) for x in part.split()] for part in sys.argv[2].split("|"))
tck = 100.0  # USER_HZ
print("%.3f %.1f %.1f %s" % (d["bw_bytes"] / 1048576.0, d["clat_ns"]["mean"] / 1000.0,
      d["io_bytes"] / 1048576.0, " ".join("%d" % ((y - x) * 1000 / tck) for x, y in zip(a, z))))
PY
}

# --- the rounds ---------------------------------------------------------------------------
read -r -a BS <<<"$BACKSTORES"
nb=${#BS[@]}
for r in $(seq "$ROUNDS"); do
  for w in $WORKLOADS; do
    for k in $(seq 0 $((nb - 1))); do
      b=${BS[$(((k + r - 1) % nb))]}
      res=$(run_one "$b" "$w" "$r") || die "fio $w on $b failed"
      echo "$r $w $b $res" >>"$OUT/results"
      say "round $r $w $b: $res"
    done
  done
done

# --- login latency ----------------------------------------------------------------------
LT=$TOP/build/tools/login-time
g "$LT 127.0.0.1:3263 $FILEIO_IQN $LOGINS 1 iqn.2025-01.test.scsipub:lt-lio" >"$OUT/login-lio" ||
  echo "  (some LIO logins failed)"
g "$LT 127.0.0.1:$LAB_PORT $BLANK_IQN $LOGINS 1 iqn.2025-01.test.scsipub:lt-seq" >"$OUT/login-seq" ||
  echo "  (some sequential portal logins failed)"
# Torn down, and the pool (its sessions' ACLs wait in the same TPG) refilled.
POOL_BLANK=$(tr ',' '\n' <<<"$POOL" | sed -n 's/^blank=//p' | cut -d: -f1)
# The pool's ACLs (only they remain once the logins' sessions are torn down) settled:
# at least its COUNT and unchanged for 2 s (a pool with a MAX may have grown). Prints
# how many.
pool_settled() {
  g "p=-1 s=0; for i in \$(seq 900); do n=\$(ls $CFS/iscsi/$BLANK_IQN/tpgt_1/acls | wc -l)
       if [ \$n = \$p ] && [ \$n -ge ${POOL_BLANK:-0} ]; then s=\$((s + 1)); else s=0; fi
       [ \$s -ge 10 ] && { echo \$n; exit 0; }; p=\$n; sleep 0.2; done; exit 1"
}
pool_settled >"$OUT/pool-before-1" || echo "  (sessions of the sequential logins still being torn down)"
# Logins that arrive one at a time with an idle second before each (the pool, if any,
# has made its replacements), to LIO and through the portal in turn so that drift hits
# both alike: the median of SPACED of each.
spaced_median() { # FILE
  sort -n "$1" | awk -v n="$SPACED" \
    '{v[NR] = $1} END {if (NR) print "logins=" n " ok=" NR " median_ms=" v[int((NR + 1) / 2)]}'
}
: >"$OUT/sp-lio"; : >"$OUT/sp-portal"
for ((i = 0; i < SPACED; i++)); do
  g "sleep 1; $LT 127.0.0.1:3263 $FILEIO_IQN 1 1 iqn.2025-01.test.scsipub:sp-lio.$i" |
    sed -n 's/^login 0 //p' >>"$OUT/sp-lio"
  g "sleep 1; $LT 127.0.0.1:$LAB_PORT $BLANK_IQN 1 1 iqn.2025-01.test.scsipub:sp-portal.$i" |
    sed -n 's/^login 0 //p' >>"$OUT/sp-portal"
done
spaced_median "$OUT/sp-lio" >"$OUT/login-sp-lio"
spaced_median "$OUT/sp-portal" >"$OUT/login-sp-portal"
# With PORTAL_ARGS=--verbose: where the portal's time of each spaced login went.
g "grep 'sp-portal.*in Full Feature Phase' /var/log/scsipub-portal.log" | sed 's/^.*: in Full/  spaced login: in Full/'
conc_burst() { # ADDR IQN NAME FILE WHAT: CONC logins at once, initiator names NAME.*
  g "ulimit -n 65536; $LT $1 $2 $CONC $CONC iqn.2025-01.test.scsipub:$3" >"$4" ||
    echo "  (some concurrent $5 failed)"
}
# The same burst to the pre-made LIO target first: LIO's own login path (iscsi_np takes
# logins one at a time) and this client under the same load, the peer of the next one.
conc_burst 127.0.0.1:3263 "$FILEIO_IQN" lt-conc-lio "$OUT/login-conc-lio" "LIO logins"
conc_burst "127.0.0.1:$LAB_PORT" "$BLANK_IQN" lt-conc "$OUT/login-conc" "portal logins"
# BURSTS > 1: the same burst again once the last one's sessions are gone and the pool
# has settled (a pool set as blank=COUNT:MAX has grown to the burst by then).
for ((i = 2; i <= BURSTS; i++)); do
  ready=$(pool_settled) || ready="not settled"
  echo "$ready" >"$OUT/pool-before-$i"
  conc_burst "127.0.0.1:$LAB_PORT" "$BLANK_IQN" "lt-conc$i" "$OUT/login-conc-$i" \
    "portal logins of burst $i"
done
# The same burst to the read-only shared export of the catalog image (the cluster-boot
# case): one backstore for all, so each login makes only its write-protected ACL. Sent
# once the last burst's sessions are gone.
pool_settled >/dev/null || echo "  (sessions of the last burst still being torn down)"
conc_burst "127.0.0.1:$LAB_PORT" "$RO_IQN" lt-conc-ro "$OUT/login-conc-ro" "ro.bench logins"
grep -h 'failed' "$OUT"/login-* | grep -v '^logins' | head -n 5
# With PORTAL_ARGS=--verbose: the concurrent logins' steps, one line each.
g "grep 'lt-conc.*in Full Feature Phase' /var/log/scsipub-portal.log" >"$OUT/login-conc-steps"
g "grep -c 'refus\\|error' /var/log/scsipub-portal.log" | sed 's/^/  portal log lines with refus|error: /'

# --- the table ----------------------------------------------------------------------------
echo
echo "=== bench-perf: $(date -u +%F) ${SIZE_MB} MiB LUNs on tmpfs, $ROUNDS round(s) x ${RUNTIME} s (+${RAMP} s ramp)," \
  "guest $(g 'nproc' | tr -d '\n') vCPU $LAB_MEM MiB, accel $(lab_accel_name)," \
  "kernel $(g 'uname -r' | tr -d '\n'), scsipub-tcmu --io-threads ${IO_THREADS:-0}${LIO_PARAMS:+, LIO_PARAMS: $LIO_PARAMS}"
python3 "$TOP/tests/lab/tools/bench-table.py" "$OUT/results" "$BACKSTORES" "$WORKLOADS" "$PIDS"
# Pairs measured in the same round (tools/bench-pairs.py; it pools several runs too).
echo
python3 "$TOP/tests/lab/tools/bench-pairs.py" "$OUT/results"
echo
lg() { awk -v k="$2" '/^logins=/{for(i=1;i<=NF;i++){split($i,a,"=");if(a[1]==k)print a[2]}}' "$1"; }
echo "login latency to Full Feature Phase (libiscsi in the guest, connect + login):"
echo "  LIO fileio target, $LOGINS sequential: median $(lg "$OUT/login-lio" median_ms) ms ($(lg "$OUT/login-lio" ok)/$LOGINS ok)"
echo "  portal blank, $LOGINS sequential: median $(lg "$OUT/login-seq" median_ms) ms ($(lg "$OUT/login-seq" ok)/$LOGINS ok)"
awk -v a="$(lg "$OUT/login-seq" median_ms)" -v b="$(lg "$OUT/login-lio" median_ms)" \
  'BEGIN{ if (b > 0) printf "  ratio portal blank / LIO: %.2fx\n", a / b }'
echo "  $SPACED logins 1 s apart (pool: $POOL): LIO median $(lg "$OUT/login-sp-lio" median_ms) ms" \
  "($(lg "$OUT/login-sp-lio" ok) ok), portal blank median $(lg "$OUT/login-sp-portal" median_ms) ms" \
  "($(lg "$OUT/login-sp-portal" ok) ok)"
awk -v a="$(lg "$OUT/login-sp-portal" median_ms)" -v b="$(lg "$OUT/login-sp-lio" median_ms)" \
  'BEGIN{ if (b > 0) printf "  ratio, 1 s apart: %.2fx\n", a / b }'
conc_summary() { # LABEL FILE: one line for a burst of CONC concurrent logins
  echo "  $1, $CONC concurrent: p50 $(lg "$2" p50_ms) ms, p99 $(lg "$2" p99_ms) ms," \
    "max $(lg "$2" max_ms) ms ($(lg "$2" ok)/$CONC ok)"
}
conc_summary "LIO fileio target" "$OUT/login-conc-lio"
conc_summary "portal blank ($(cat "$OUT/pool-before-1") sessions ready before the spaced logins)" "$OUT/login-conc"
for ((i = 2; i <= BURSTS; i++)); do
  conc_summary "portal blank, burst $i ($(cat "$OUT/pool-before-$i") sessions ready)" "$OUT/login-conc-$i"
done
conc_summary "portal ro.bench (read-only shared export)" "$OUT/login-conc-ro"

# The session ramp (goal 3): tests/lab/test-ramp.sh with RAMP=SESSIONS in a lab VM of its
# own (SESSIONS_MEM MiB, the goal's 2 GiB), booted once this one is down (one VM at a
# time). Its RAMP and CONC are not this script's (fio's ramp, the concurrent burst).
if [ "${SESSIONS:-0}" -gt 0 ]; then
  lab_stop
  echo
  echo "session ramp (tests/lab/test-ramp.sh RAMP=$SESSIONS, ${SESSIONS_CONC:-50} logging in" \
    "at a time, its own lab VM: 2 vCPU ${SESSIONS_MEM:-2048} MiB):"
  env -u LAB_PORT -u LAB_TLS_PORT -u LAB_API_PORT -u LAB_HTTPS_PORT -u STACK_POOL \
    LAB_MEM="${SESSIONS_MEM:-2048}" RAMP="$SESSIONS" CONC="${SESSIONS_CONC:-50}" \
    bash "$TOP/tests/lab/test-ramp.sh" >"$OUT/session-ramp" 2>&1
  # Its first ramp is to blank, its second to the read-only shared export ro.testfs.
  awk '/^ramp:/ { print "  " (++n == 1 ? "blank" : "ro.testfs") " " $0; next }
       /^(memory with|ro\.testfs with|[0-9]+ passed, [0-9]+ failed)/ { print "  " $0 }' \
    "$OUT/session-ramp"
fi
echo "bench-perf: done in $SECONDS s"
