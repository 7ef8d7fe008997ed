#!/usr/bin/env python3
"""Produces reference.csv: BookSim2 latency-throughput curves for the reference-curve test
(tests/cpp/test_noc_reference.cpp). For each (mesh, traffic, packet size) the offered load rises
in steps of 0.01 flits/node/cycle until the curve is past saturation, then the interval between
the last load below saturation and the first one past it is re-run in steps of 0.002. The rule
for "past saturation" is the one of arch/noc/sweep.hpp: BookSim gave up (unstable), accepted <
0.95 x offered, or mean latency > 3 x the latency at the lowest load.

  sweep_booksim.py BOOKSIM_BINARY [SEED [CURVE...]] > reference.csv

CURVE (e.g. 16x16,transpose,4) runs only those curves; without any, all twelve.
"""
import os
import subprocess
import sys

import booksim

HERE = os.path.dirname(os.path.abspath(__file__))
CURVES = [(k, t, s) for k in (8, 16) for t in ("uniform", "transpose", "bitcomp") for s in (1, 4)]


def run(binary, k, traffic, size, rate, seed):
    out = subprocess.run([os.path.join(HERE, "run_booksim.sh"), binary, str(k), traffic, str(size), str(seed),
                          f"{rate:.3f}"], check=True, capture_output=True, text=True).stdout.strip()
    f = out.split(",")
    return out, float(f[5]), float(f[6]), f[7] == "ok"


def main():
    binary = booksim.binary_from_argv(__doc__, "BOOKSIM_BINARY [SEED [CURVE...]]")
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    only = set(sys.argv[3:])
    print("mesh,traffic,packet_size,rate,seed,latency,accepted,status")
    for k, traffic, size in CURVES:
        if only and f"{k}x{k},{traffic},{size}" not in only:
            continue
        rows = {}
        l0 = None

        def point(rate):
            line, lat, acc, ok = run(binary, k, traffic, size, rate, seed)
            nonlocal l0
            if l0 is None:
                l0 = lat
            rows[round(rate, 3)] = line
            sat = (not ok) or lat != lat or acc < 0.95 * rate or lat > 3 * l0
            print(line, file=sys.stderr, flush=True)
            return sat

        step = 0.01
        rate, last_ok = step, None
        while rate <= 1.0 and not point(rate):
            last_ok = rate
            rate = round(rate + step, 3)
        if last_ok is not None:
            r = round(last_ok + 0.002, 3)
            while r < rate - 1e-9 and not point(r):
                r = round(r + 0.002, 3)
        for r in sorted(rows):
            print(rows[r], flush=True)


main()
