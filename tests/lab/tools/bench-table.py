#!/usr/bin/env python3
"""The table tests/lab/bench-perf.sh prints after its runs.

Usage: bench-table.py RESULTS BACKSTORES WORKLOADS PIDS
  RESULTS: bench-perf's raw results (BENCH_OUT/results): one line per fio run,
  "round workload backstore MiBps clat_mean_us MiB cpu...", cpu being utime and stime
  (10 ms ticks) of each process in PIDS; BACKSTORES, WORKLOADS: the run's lists
  (space-separated); PIDS: one line per watched process, its name first.

Prints each backstore's ratio to LIO fileio per workload (the mean over rounds, the
range in brackets; throughput: higher is better, QD1 latency: x fileio, lower is
better), the TLS path's ratio to the plain portal, and the CPU milliseconds each
watched process spent per MiB moved on the 1 MiB workloads.
"""
import collections
import sys

from bench_workloads import figure, is_latency, label

rows = [l.split() for l in open(sys.argv[1])]
bs = sys.argv[2].split(); ws = sys.argv[3].split()
pidnames = [l.split()[0] for l in sys.argv[4].splitlines() if l.strip()]
val = collections.defaultdict(dict)   # (w, b) -> {round: (mibps, lat_us, mib, cpu[])}
for r in rows:
    rnd, w, b = r[0], r[1], r[2]
    val[(w, b)][rnd] = (float(r[3]), float(r[4]), float(r[5]), [int(x) for x in r[6:]])  # cpu: user, sys per pid
def ratio(w, b, rnd):
    if "fileio" not in bs: return None
    v, f = val[(w, b)].get(rnd), val[(w, "fileio")].get(rnd)
    if not v or not f: return None
    return figure(w, v) / figure(w, f)
def fmt(xs, lat):
    if not xs: return "-"
    m = sum(xs) / len(xs); s = ("%.2fx" if lat else "%.2f") % m
    if len(xs) > 1: s += " (%.2f-%.2f)" % (min(xs), max(xs))
    return s
cols = [b for b in bs if b != "fileio"]
print("ratio to LIO fileio (throughput: higher is better; latency: x fileio, lower is better)")
print("| workload | fileio (abs) | " + " | ".join(cols) + " |")
print("|---|---|" + "---|" * len(cols))
for w in ws:
    f = [figure(w, v) for v in val[(w, "fileio")].values()] if "fileio" in bs else []
    fa = ("%.0f us" % (sum(f) / len(f)) if is_latency(w) else "%.1f MiB/s" % (sum(f) / len(f))) if f else "-"
    cells = []
    for b in cols:
        xs = [x for x in (ratio(w, b, rnd) for rnd in val[(w, b)]) if x is not None]
        cells.append(fmt(xs, is_latency(w)))
    print("| %s | %s | %s |" % (label(w), fa, " | ".join(cells)))
if "tls" in bs and "portal" in bs:
    print()
    print("TLS (via stunnel in the guest) / plain portal (throughput ratio; lat: x plain):",
          ", ".join("%s %.2f" % (w, sum(figure(w, val[(w, "tls")][r]) /
                                        figure(w, val[(w, "portal")][r])
                                        for r in val[(w, "tls")]) / len(val[(w, "tls")]))
                    for w in ws if val[(w, "tls")] and val[(w, "portal")]))
print()
print("CPU ms per MiB moved, 1 MiB workloads: utime+stime of the whole process (10 ms ticks), in")
print("brackets the share that is system time (the kernel: socket copies, loopback TCP)")
print("| backstore | workload | " + " | ".join(pidnames) + " |")
print("|---|---|" + "---|" * len(pidnames))
for b in bs:
    for w in ("seqwrite", "seqread", "fresh"):
        if w not in ws or not val[(w, b)]: continue
        mib = sum(v[2] for v in val[(w, b)].values())
        us = [(sum(v[3][2 * i] for v in val[(w, b)].values()),
               sum(v[3][2 * i + 1] for v in val[(w, b)].values())) for i in range(len(pidnames))]
        print("| %s | %s | %s |" % (b, w, " | ".join(
            ("%.2f" % ((u + s) / mib) + (" (%d%%)" % (100 * s / (u + s)) if u + s >= 100 else ""))
            if mib else "-" for u, s in us)))
