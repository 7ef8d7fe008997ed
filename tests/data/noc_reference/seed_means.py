#!/usr/bin/env python3
"""Produces seed_means.csv: BookSim2's mean packet latency over seeds 1-6 at the highest load of
each reference curve that the reference-curve test checks (tests/cpp/test_noc_reference.cpp: the
reference.csv load nearest to, and below, 90 % of the curve's saturation). Near saturation one
seed's mean latency varies by several percent between seeds (8x8 bitcomp 4-flit at 0.17: 64.0 to
67.5 over seeds 1-6), more than the 5 % the test allows, so there the test compares with the
mean over six seeds; at lower loads the seed-1 rows of reference.csv are used as they are.

  seed_means.py BOOKSIM_BINARY > seed_means.csv

Columns: mesh,traffic,packet_size,rate,seeds,latency_mean,latency_min,latency_max.
"""
import os
import statistics
import subprocess
import sys

import booksim

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = range(1, 7)


def curves():
    rows = {}
    with open(os.path.join(HERE, "reference.csv")) as f:
        next(f)
        for line in f:
            c = line.strip().split(",")
            rows.setdefault((c[0], c[1], c[2]), []).append((float(c[3]), float(c[5]), float(c[6]), c[7] == "ok"))
    return rows


def ninety_percent_load(rows):
    """The test's rule (reference_saturation, then the pick nearest to 0.9 x saturation)."""
    l0 = rows[0][1]
    si = len(rows) - 1
    for i, (rate, lat, acc, ok) in enumerate(rows):
        if not ok or lat != lat or acc < 0.95 * rate or lat > 3 * l0:
            si = i - 1
            break
    sat = rows[si][2]
    best = 0
    for i, r in enumerate(rows):
        if r[0] < 0.9 * sat and abs(r[0] - 0.9 * sat) < abs(rows[best][0] - 0.9 * sat):
            best = i
    return rows[best][0]


def main():
    binary = booksim.binary_from_argv(__doc__, "BOOKSIM_BINARY")
    print("mesh,traffic,packet_size,rate,seeds,latency_mean,latency_min,latency_max")
    for (mesh, traffic, size), rows in curves().items():
        rate = ninety_percent_load(rows)
        k = mesh.split("x")[0]
        lats = []
        for seed in SEEDS:
            out = subprocess.run([os.path.join(HERE, "run_booksim.sh"), binary, k, traffic, size, str(seed), f"{rate:.3f}"],
                                 check=True, capture_output=True, text=True).stdout.strip()
            print(out, file=sys.stderr, flush=True)
            lats.append(float(out.split(",")[5]))
        print(f"{mesh},{traffic},{size},{rate:.3f},1-6,{statistics.mean(lats):.4f},{min(lats):.4f},{max(lats):.4f}", flush=True)


if __name__ == "__main__":
    main()
