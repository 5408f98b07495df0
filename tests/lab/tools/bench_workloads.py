"""The workloads of tests/lab/bench-perf.sh: their names in the results files, the
labels its tables print, and which figure of a run each is judged by (shared by
bench-table.py and bench-pairs.py)."""

LABEL = {"seqwrite": "1 MiB seq write QD8", "seqread": "1 MiB seq read QD8",
         "randwrite": "4 KiB rand write QD32", "randread": "4 KiB rand read QD32",
         "lat": "4 KiB QD1 read latency", "fresh": "1 MiB read never-written"}


def label(workload):
    """The printed label of a workload (its own name when it has none)."""
    return LABEL.get(workload, workload)


def is_latency(workload):
    """Whether a workload is judged by its mean completion latency (lower is better)
    rather than its throughput (higher is better): the QD1 workload only."""
    return workload == "lat"


def figure(workload, run):
    """The figure a workload is judged by, from a run's (MiB/s, mean clat in us, ...)."""
    return run[1] if is_latency(workload) else run[0]
