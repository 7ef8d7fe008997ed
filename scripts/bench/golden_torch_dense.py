#!/usr/bin/python3
"""Baseline for scripts/bench/golden: the same network as a spikechip graph.json, run as a dense
PyTorch float32 forward (random weights of the same shapes, every conv dense, LIF as a comparison
at T=1, SDSA as the two matmuls), timed with a fixed thread count. Prints the median seconds.
  scripts/bench/golden_torch_dense.py MODEL_DIR THREADS REPEATS      (Debian's python3, with torch)"""
import argparse
import json
import statistics
import time

import torch


def main():
    ap = argparse.ArgumentParser(prog="golden_torch_dense.py", description=__doc__.split("\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("threads", type=int)
    ap.add_argument("repeats", type=int)
    a = ap.parse_args()
    model_dir, threads, repeats = a.model_dir, a.threads, a.repeats
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    g = json.load(open(f"{model_dir}/graph.json"))
    nodes = g["nodes"]
    index = {n["name"]: i for i, n in enumerate(nodes)}
    layers = {}
    for n in nodes:
        a = n.get("attrs", {})
        if n["op"] == "Conv2d":
            cin = nodes[index[n["inputs"][0]]]["shape"][0]
            layers[n["name"]] = torch.nn.Conv2d(cin, n["shape"][0], a["kernel"], a.get("stride", [1, 1]),
                                                a.get("padding", [0, 0]), groups=a.get("groups", 1)).eval()
        elif n["op"] == "Linear":
            cin = 1
            for s in nodes[index[n["inputs"][0]]]["shape"]:
                cin *= s
            layers[n["name"]] = torch.nn.Linear(cin, n["shape"][0]).eval()

    def forward(x):
        val = {}
        for n in nodes:
            op, ins = n["op"], [val[i] for i in n["inputs"]]
            if op == "Input":
                y = x
            elif op in ("Conv2d",):
                y = layers[n["name"]](ins[0])
            elif op == "Linear":
                y = layers[n["name"]](ins[0].flatten(1))
            elif op == "LIF":
                y = (ins[0] * 0.5 >= 0.5).float()
            elif op == "Add":
                y = ins[0] + ins[1]
            elif op == "SDSA":
                h = n["attrs"]["heads"]
                q, k, v = (t.flatten(2).reshape(1, h, -1, t.shape[2] * t.shape[3]).transpose(-1, -2) for t in ins)
                y = (q @ (k.transpose(-1, -2) @ v)).transpose(-1, -2).reshape(ins[0].shape) * 0.125
            elif op == "Mean":
                y = ins[0].mean((2, 3), keepdim=True)
            elif op == "Output":
                y = ins[0]
            val[n["name"]] = y
        return y

    c, h, w = nodes[0]["shape"]
    x = torch.randn(1, c, h, w)
    times = []
    with torch.no_grad():
        forward(x)  # warm-up (allocator, oneDNN primitive caches)
        for _ in range(repeats):
            t0 = time.perf_counter()
            forward(x)
            times.append(time.perf_counter() - t0)
    print(f"{statistics.median(times):.4f}")


if __name__ == "__main__":
    main()
