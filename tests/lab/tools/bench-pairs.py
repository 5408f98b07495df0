#!/usr/bin/env python3
"""Pairs of backstores measured in the same round of tests/lab/bench-perf.sh.

Usage: bench-pairs.py RESULTS [RESULTS...]
  RESULTS: a bench-perf results file (BENCH_OUT/results): one line per fio run,
  "round workload backstore MiBps clat_mean_us MiB cpu...". Several files pool their
  rounds (a round is keyed by file and round number).

For each pair A / B that the files hold (ours straight to LIO / tcmu-runner, ours through
the portal / tcmu-runner, through the portal / straight to LIO, straight to LIO / tgt)
and each workload, the ratio of A to B
in every round both ran in: throughput A / B (higher: A better), QD1 latency A / B
(lower: A better). Two runs one after the other in the same round share its drift,
so their ratio is steadier than each one's ratio to fileio. Printed: the geometric
mean, its 95 % confidence interval (Student's t over the logarithms of the ratios),
the range, and in how many rounds A did better. An interval that holds 1 means this
many rounds cannot tell A from B.
"""
import collections
import math
import sys

from bench_workloads import figure, is_latency, label

PAIRS = (("direct", "runner"), ("portal", "runner"), ("portal", "direct"), ("direct", "tgt"))
# Student's t, two-sided 95 %, by degrees of freedom (1-30); 1.96 beyond.
T975 = (12.71, 4.30, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23, 2.20, 2.18, 2.16,
        2.14, 2.13, 2.12, 2.11, 2.10, 2.09, 2.09, 2.08, 2.07, 2.07, 2.06, 2.06, 2.06,
        2.05, 2.05, 2.05, 2.04)


def load(paths):
    """(workload, backstore) -> {(file index, round): (MiBps, clat_us)}; workload order."""
    val = collections.defaultdict(dict)
    order = []
    for i, p in enumerate(paths):
        with open(p) as f:
            for line in f:
                r = line.split()
                if len(r) < 5:
                    continue
                val[(r[1], r[2])][(i, r[0])] = (float(r[3]), float(r[4]))
                if r[1] not in order:
                    order.append(r[1])
    return val, order


def cell(xs, lat):
    """The printed summary of one pair's per-round ratios xs."""
    logs = [math.log(x) for x in xs]
    n = len(logs)
    m = sum(logs) / n
    num = "%.2fx" if lat else "%.2f"
    s = num % math.exp(m)
    if n > 1:
        sd = math.sqrt(sum((v - m) ** 2 for v in logs) / (n - 1))
        h = (T975[n - 2] if n - 1 <= len(T975) else 1.96) * sd / math.sqrt(n)
        s += " [%.2f-%.2f]" % (math.exp(m - h), math.exp(m + h))
    s += " (%.2f-%.2f)" % (min(xs), max(xs))
    won = sum(1 for x in xs if (x < 1 if lat else x > 1))
    return s + ", %d of %d" % (won, n)


def main(paths):
    val, order = load(paths)
    bs = {b for (_, b) in val}
    pairs = [(a, b) for a, b in PAIRS if a in bs and b in bs]
    if not pairs:
        return 0
    print("pairs in the same round: A / B, geometric mean [95 % interval] (range), rounds A did")
    print("better (throughput: A / B, higher is A better; QD1 latency: lower is A better)")
    print("| workload | " + " | ".join("%s / %s" % p for p in pairs) + " |")
    print("|---|" + "---|" * len(pairs))
    for w in order:
        cells = []
        for a, b in pairs:
            va, vb = val.get((w, a), {}), val.get((w, b), {})
            xs = [figure(w, va[r]) / figure(w, vb[r]) for r in va
                  if r in vb and figure(w, vb[r]) > 0 and figure(w, va[r]) > 0]
            cells.append(cell(xs, is_latency(w)) if xs else "-")
        print("| %s | %s |" % (label(w), " | ".join(cells)))
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: bench-pairs.py RESULTS [RESULTS...]")
    sys.exit(main(sys.argv[1:]))
