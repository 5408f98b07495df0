#!/usr/bin/env bash
# Profile (by hand, not in the suite), issue 10 goal 2: where the guest's CPU goes while
# CONC initiators log in at once, first to a pre-made LIO target (LIO's own login path,
# the peer), then through the portal to TARGET (blank: each login needs a session that
# scsipub-cfgd takes from its pool or makes: TCMU backstore, TPG LUN, ACL).
#
# Each burst runs under `perf record -a` (cpu-clock, both vCPUs) in the lab VM. Printed
# per burst: its p50/p99/max (login-time), its length, the CPU time of each process
# name (ms, and ms per login), the idle share, and the lower bound the burst's CPU puts
# on its length when spread over every vCPU with no idle time, with and without the
# client (login-time runs in the same guest; a real initiator does not). For the portal
# burst, also the heaviest kernel paths of scsipub-cfgd (call chains, inclusive), and the
# heaviest functions (self time) and system calls (inclusive) of scsipub-portal and
# scsipub-tcmu, and with CALLGRAPH=dwarf the three daemons' heaviest own functions
# (inclusive).
#
# Environment: CONC (200), TARGET (blank; any anonymous target name after the prefix,
# e.g. ro.testfs), POOL (scsipub-cfgd --pool, as provision.sh: blank=4), FREQ (perf
# sampling rate per vCPU, Hz: 999), LAB_MEM (MiB, 3072), PORTAL_ARGS (more portal
# options), PROF_OUT (a directory for the reports, kept; perf.data stays in the guest),
# CALLGRAPH (perf's --call-graph: fp; dwarf names user-space callers through glibc,
# which has no frame pointers, at a higher sampling cost).
# Usage: flock /tmp/scsipub-lab.lock bash tests/lab/prof-login-burst.sh
set -uo pipefail
export LAB_MEM=${LAB_MEM:-3072}
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/peers.sh"
CONC=${CONC:-200} TARGET=${TARGET:-blank} POOL=${POOL-blank=4} FREQ=${FREQ:-999}
CALLGRAPH=${CALLGRAPH:-fp}
P=iqn.2025-01.pub.scsipub
LIO_IQN=iqn.2025-01.test.scsipub:prof-lio
LT=$TOP/build/tools/login-time
make -s -C "$TOP" all tools >/dev/null || exit 1
# perf runs in the guest from the host's /usr (the lab's root is the host's).
command -v perf >/dev/null || apt-get install -y -q linux-perf >/dev/null ||
  { echo "prof-login-burst: perf missing (apt-get install linux-perf)"; exit 1; }
prof_boot prof-login-burst
NCPU=$(g nproc | tr -d '\n')

STACK_POOL=$POOL STACK_DISK_RESERVE=0 start_stack --max-conn-per-ip 0 --login-rate 0 \
  --max-conn-per-net4 0 --net-login-rate 0 --disk-reserve 0 --nopin-interval 30 \
  --nopin-timeout 30 ${PORTAL_ARGS:-} || die "our stack did not start"
# The peer: a ramdisk LUN on a LIO target of its own (port 3263), any initiator.
g "set -e; D=$CFS/core/rd_mcp_90/prof; mkdir -p \$D; echo rd_pages=16384 >\$D/control
   echo 1 >\$D/enable; $(peer_lio_target $LIO_IQN 3263 "\$D")" || die "the LIO peer target"
# The pool filled (its ACLs wait in the target's TPG): at least its count for TARGET.
want=$(tr ',' '\n' <<<"$POOL" | sed -n "s/^$TARGET=//p" | cut -d: -f1)
g "for i in \$(seq 300); do n=\$(ls $CFS/iscsi/$P:$TARGET/tpgt_1/acls 2>/dev/null | wc -l)
     [ \$n -ge ${want:-0} ] && exit 0; sleep 0.2; done; exit 1" ||
  echo "  (the pool of $TARGET did not fill)"

# burst NAME ADDR IQN: CONC logins at once under perf; reports into $OUT/NAME.*
burst() {
  local name=$1 addr=$2 iqn=$3 d=/tmp/prof-$1
  g "set -e; mkdir -p $d; cd $d; ulimit -n 65536
     s=\$(date +%s%N)
     perf record -q -o $d/perf.data -a --call-graph $CALLGRAPH -e cpu-clock -F $FREQ -- \
       $LT $addr $iqn $CONC $CONC iqn.2025-01.test.scsipub:prof-$name >$d/lt 2>$d/lt.err
     echo \$(( (\$(date +%s%N) - s) / 1000000 )) >$d/wall
     perf script -i $d/perf.data -F comm 2>/dev/null | sort | uniq -c | sort -rn >$d/comm
     perf report -i $d/perf.data --comm scsipub-cfgd --children -g none --sort dso,sym \
       --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -300 >$d/cfgd-paths
     for c in scsipub-portal scsipub-tcmu; do
       perf report -i $d/perf.data --comm \$c --no-children -g none --sort dso,sym \
         --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -40 >$d/\$c-self
       perf report -i $d/perf.data --comm \$c --children -g none --sort dso,sym \
         --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -300 >$d/\$c-paths; done" ||
    { echo "  (burst $name failed: $(g "cat $d/lt.err" | tail -2))"; return 1; }
  local f
  for f in lt wall comm cfgd-paths scsipub-portal-self scsipub-tcmu-self \
    scsipub-portal-paths scsipub-tcmu-paths; do g "cat $d/$f" >"$OUT/$name.$f"; done
  local total wall
  wall=$(cat "$OUT/$name.wall")
  total=$(awk '{s += $1} END {print s + 0}' "$OUT/$name.comm")
  echo "$name: $(grep '^logins=' "$OUT/$name.lt"), $wall ms under perf"
  awk -v f="$FREQ" -v n="$CONC" -v cpus="$NCPU" -v tot="$total" '
    { ms = $1 * 1000 / f; name = $2; for (i = 3; i <= NF; i++) name = name " " $i
      if (name == "swapper") { idle = ms; next }
      busy += ms; if (name == "login-time") client = ms
      if (ms >= 20) printf "  %-18s %7.0f ms CPU  %6.2f ms a login  %5.1f %%\n", name, ms, ms / n, 100 * $1 / tot }
    END {
      printf "  idle %.1f %% of %d vCPUs; busy %.0f ms, %.2f ms a login (without the client %.2f)\n",
        100 * idle / (busy + idle), cpus, busy, busy / n, (busy - client) / n
      printf "  lower bound on the burst'"'"'s length, its CPU spread over %d vCPUs: %.0f ms (without the client %.0f ms)\n",
        cpus, busy / cpus, (busy - client) / cpus }' "$OUT/$name.comm"
}
echo "=== prof-login-burst: $(date -u +%F) $CONC concurrent logins, guest $NCPU vCPU $LAB_MEM MiB," \
  "accel $(lab_accel_name), kernel $(g 'uname -r' | tr -d '\n')," \
  "pool ${POOL:-none}, perf cpu-clock $FREQ Hz, call graph $CALLGRAPH"
burst lio 127.0.0.1:3263 "$LIO_IQN"
# own BINARY FILE: with CALLGRAPH=dwarf (only DWARF unwinding gets from the kernel and
# glibc back into our own code), BINARY's heaviest own functions in FILE, inclusive.
own() {
  [ "$CALLGRAPH" = dwarf ] || return 0
  echo "  $1's heaviest own functions (inclusive, % of every sample of the burst):"
  awk -v b="$1" '$3 == b && $5 != "main" && $5 != "_start" {
      f = $5; for (i = 6; i <= NF; i++) f = f " " $i
      printf "    %-36s %s\n", f, $1 }' "$2" | head -14
}
burst portal "127.0.0.1:$LAB_PORT" "$P:$TARGET" && {
  echo "  scsipub-cfgd's heaviest paths (inclusive, % of every sample of the burst):"
  grep -E '\] (do_syscall_64|vfs_write|configfs_write_iter|tcmu_configure_device|__vmalloc_node|clear_page_erms|do_mkdirat|path_openat|iterate_dir|do_symlinkat|do_rmdir|__uio_register_device|device_add)$' \
    "$OUT/portal.cfgd-paths" | awk '{printf "    %-28s %s\n", $NF, $1}'
  own scsipub-cfgd "$OUT/portal.cfgd-paths"
  for c in scsipub-portal scsipub-tcmu; do
    echo "  $c's heaviest functions (self, % of every sample of the burst):"
    head -8 "$OUT/portal.$c-self" | awk '{printf "    %-28s %-20s %s\n", $NF, $2, $1}'
    echo "  $c's heaviest system calls (inclusive, % of every sample of the burst):"
    grep -E '\] (__x64_sys_|__do_sys_)' "$OUT/portal.$c-paths" | head -10 |
      awk '{printf "    %-28s %s\n", $NF, $1}'
    own "$c" "$OUT/portal.$c-paths"
  done
}
echo "raw: $OUT"
