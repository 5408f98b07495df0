"""The workloads of tests/lab/bench-perf.sh: their names in the results files and the
labels its tables print (shared by bench-table.py and bench-pairs.py)."""

LABEL = {"seqwrite": "1 MiB seq write QD8", "seqread": "1 MiB seq read QD8",
         "randwrite": "4 KiB rand write QD32", "randread": "4 KiB rand read QD32",
         "lat": "4 KiB QD1 read latency", "fresh": "1 MiB read never-written"}


def label(workload):
    """The printed label of a workload (its own name when it has none)."""
    return LABEL.get(workload, workload)
