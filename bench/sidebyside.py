#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""sidebyside.py BEFORE.csv AFTER.csv - two `make bench` runs (results.csv of
bench/run.sh) as one markdown table: every (workload, row, metric), its
median before and after, and after / before."""
import csv
import sys


def read(path):
    rows, order = {}, []
    with open(path) as f:
        for r in csv.DictReader(f):
            k = (r["workload"], r["peer"], r["metric"], r["unit"])
            rows[k] = r
            order.append(k)
    return rows, order


def fmt(x):
    x = float(x)
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.1f}"
    if abs(x) >= 10:
        return f"{x:.2f}"
    return f"{x:.3g}"


def main(before_path, after_path):
    before, order_b = read(before_path)
    after, order_a = read(after_path)
    keys = order_a + [k for k in order_b if k not in after]
    print("| workload | row | metric | before | after | after / before | unit |")
    print("|---|---|---|---:|---:|---:|---|")
    for k in keys:
        b = before.get(k, {}).get("median")
        a = after.get(k, {}).get("median")
        ratio = f"{float(a) / float(b):.2f}x" if a and b and float(b) != 0 else "-"
        print(f"| {k[0]} | {k[1]} | {k[2]} | {fmt(b) if b else '-'} | "
              f"{fmt(a) if a else '-'} | {ratio} | {k[3]} |")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
