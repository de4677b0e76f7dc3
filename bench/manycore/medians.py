#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""medians.py RAW... - the tables of a many-core run (bench/manycore/run.sh):
one line per (file, program, workload, label, metric): the median over the
rounds, min, max and every value, in the order first seen."""
import collections
import statistics
import sys


def main(paths):
    for path in paths:
        groups = collections.OrderedDict()
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) != 7:
                    continue
                _, prog, work, label, metric, value, unit = p
                groups.setdefault((prog, work, label, metric, unit), []).append(float(value))
        print(f"== {path}")
        for (prog, work, label, metric, unit), xs in groups.items():
            print(f"{work:10} {prog:14} {label:42} {metric:16} {statistics.median(xs):10.4g} {unit:3}"
                  f" min {min(xs):.4g} max {max(xs):.4g} n {len(xs)}")


if __name__ == "__main__":
    main(sys.argv[1:])
