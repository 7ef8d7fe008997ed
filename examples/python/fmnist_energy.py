#!/usr/bin/python3
"""Maps and runs the shipped Fashion-MNIST Meta-SpikeFormer (models/fmnist) on the tiny chip preset
in process, re-prices the same run at 28 nm (arch/energy/28nm.json) without re-simulating, and
plots the energy per layer at both nodes with matplotlib (docs/python.md).

  examples/python/fmnist_energy.py [-o out/python-example/fmnist_energy.png] [--inputs N]

Needs `import spikechip` (after scripts/quickstart, or PYTHONPATH=build/python from a build tree).
"""
import argparse
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
try:
    import spikechip
except ImportError:  # a build tree that was not installed: use its build/python
    sys.path.insert(0, os.path.join(ROOT, "build", "python"))
    import spikechip
import numpy as np


def tracked(path):
    """True when path is a file git tracks in this repository (never overwritten)."""
    import subprocess
    try:
        return subprocess.run(["git", "-C", ROOT, "ls-files", "--error-unmatch", path], capture_output=True).returncode == 0
    except OSError:
        return False


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--output", default=os.path.join("out", "python-example", "fmnist_energy.png"),
                   help="plot to write (PNG/SVG/PDF); default out/python-example/fmnist_energy.png")
    p.add_argument("--inputs", type=int, default=8, help="test images of models/fmnist/sample.npy to run (1..8)")
    a = p.parse_args()
    if not 1 <= a.inputs <= 8:
        p.error(f"--inputs {a.inputs}: models/fmnist/sample.npy holds 8 images (1..8)")

    model = spikechip.Model.load(os.path.join(ROOT, "models", "fmnist"))
    chip = spikechip.Chip.load("tiny")
    images = np.load(os.path.join(ROOT, "models", "fmnist", "sample.npy"))[:a.inputs]  # uint8 [B,1,28,28]
    mapping = spikechip.map(model, chip, rates_from_inputs=images)
    print(f"mapped {model.name} onto {chip.name}: {mapping.summary['groups']} groups on "
          f"{mapping.summary['cores_used']} of {mapping.summary['cores_total']} cores")
    report = spikechip.run(model, chip, images, mapping=mapping, progress=sys.stderr.isatty())
    s = report.summary
    print(f"{report.data['run']['inputs']} inputs, verified={report.verified}: latency {s['latency_cycles']:.0f} cycles, "
          f"{s['energy_pJ'] * 1e-6:.3f} uJ per inference at {report.data['chip']['tech_node']}")
    at28 = report.reprice(os.path.join(ROOT, "arch", "energy", "28nm.json"))
    print(f"re-priced at 28 nm: {at28.summary['energy_pJ'] * 1e-6:.3f} uJ per inference "
          f"({100 * (at28.summary['energy_pJ'] / s['energy_pJ'] - 1):+.1f} %)")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    L45, L28 = report.layers, at28.layers
    keep = L45["energy_pJ"] > 0
    names = L45["name"][keep]
    y = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(7.5, 0.22 * len(names) + 1.5), dpi=110)
    ax.barh(y - 0.2, L45["energy_pJ"][keep] * 1e-3, 0.4, label=f"{report.data['chip']['tech_node']} (simulated)")
    ax.barh(y + 0.2, L28["energy_pJ"][keep] * 1e-3, 0.4, label="28nm (re-priced)")
    ax.set_yticks(y, names, fontsize=6)
    ax.invert_yaxis()
    ax.set_xlabel("energy per inference (nJ)")
    ax.set_title(f"{model.name} on {chip.name}: energy per layer", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = os.path.abspath(a.output)
    if tracked(out):
        sys.exit(f"fmnist_energy: {a.output} is a file of the repository; write the plot elsewhere (-o)")
    try:
        os.makedirs(os.path.dirname(out), exist_ok=True)
        fig.savefig(out, metadata={"Software": None} if out.endswith(".png") else None)
    except (OSError, ValueError) as e:  # a directory that cannot be made, an unknown format (-o x.abc)
        sys.exit(f"fmnist_energy: {a.output}: cannot write the plot ({e})")
    print(f"plot: {a.output}")


if __name__ == "__main__":
    main()
