"""Checks shared by the tests of the shipped trained models (docs/models.md): their recorded files,
intref on their sample, golden == intref on every LIF spike, and a chip run that verifies."""
import json
import os
import subprocess

import numpy as np
import pytest

from conftest import REPO, spikechip_binary
from spikechip_py import intref, safetensors


def load(model):
    """(intref graph, sample.npy, sample.json, eval.json) of a shipped model directory."""
    if not os.path.exists(os.path.join(model, "graph.json")):
        pytest.fail(f"{os.path.relpath(model, REPO)}/graph.json missing (docs/models.md: export it)")
    g = intref.load_model(model)
    with open(os.path.join(model, "sample.json")) as f:
        sample = json.load(f)
    with open(os.path.join(model, "eval.json")) as f:
        ev = json.load(f)
    return g, np.load(os.path.join(model, "sample.npy")), sample, ev


def intref_input(x):
    """intref's layout of a batch as sample.npy holds it: event frames [B,T,2,H,W] -> [T,B,2,H,W];
    images [B,C,H,W] as they are."""
    return np.ascontiguousarray(x.transpose(1, 0, 2, 3, 4)) if x.ndim == 5 else x


def check_sample(g, x, sample):
    """intref reproduces sample.json's predictions, with no saturation."""
    T = g.meta["timesteps"]
    r = intref.run(g, intref_input(x), T=T, record=False)
    assert intref.predict(r["acc"]).tolist() == sample[f"intref_predictions_T{T}"]
    assert r["saturations"] == 0


def check_golden_equals_intref(model, g, x, tmp_path, n=2, T=None):
    """`spikechip infer --dump-spikes` on each of the first n inputs of batch x equals intref on every
    LIF spike, at T timesteps (default: the model's)."""
    b = spikechip_binary()
    T = T or g.meta["timesteps"]
    for i in range(n):
        np.save(tmp_path / "x.npy", x[i:i + 1])
        dump = tmp_path / f"s{i}.safetensors"
        r = subprocess.run([b, "infer", "--model", model, "--input", str(tmp_path / "x.npy"), "-T", str(T),
                            "--dump-spikes", str(dump)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        cpp = safetensors.read(str(dump))
        ref = intref.run(g, intref_input(x[i:i + 1]), T=T)["spikes"]
        assert set(cpp) == set(ref)
        for name, s in ref.items():
            assert int((cpp[name].reshape(s.shape) != s).sum()) == 0, f"input {i}, {name}: spikes differ"


def check_chip_verifies(model, x, tmp_path, preset="tiny"):
    """`spikechip run` of the inputs x on a preset verifies bit-exact against golden; returns the report."""
    np.save(tmp_path / "xrun.npy", x)
    out = tmp_path / "run"
    r = subprocess.run([spikechip_binary(), "run", "--model", model,
                        "--chip", os.path.join(REPO, "arch", "presets", f"{preset}.json"),
                        "--input", str(tmp_path / "xrun.npy"), "-o", str(out), "--quiet"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "verified bit-exact against golden" in r.stdout
    with open(out / "report.json") as f:
        rep = json.load(f)
    assert rep["status"] == "complete" and rep["run"]["verified"] is True
    return rep
