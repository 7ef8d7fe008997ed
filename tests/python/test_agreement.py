"""scripts/spike-agreement (issue 16 item 2): per-layer spike agreement of an integer model with its
float checkpoint, end to end and teacher-forced, checked against independent paths: the float
predictions of the unfolded PyTorch model and the integer predictions of the C++ golden executor."""
import json
import os
import subprocess

import numpy as np
import torch

from conftest import REPO, run_spikechip as _sc
from spikechip_py import agreement, data, export, intref

FMNIST = os.path.join(REPO, "models", "fmnist")
TOOL = os.path.join(REPO, "scripts", "spike-agreement")


def test_agreement_of_the_shipped_model(tmp_path):
    x = data.load("test")[0][:32]
    np.save(tmp_path / "x.npy", x)
    r = subprocess.run([TOOL, os.path.join(FMNIST, "checkpoint.pth"), FMNIST, "--input", str(tmp_path / "x.npy"),
                        "-o", str(tmp_path / "a.json")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    res = json.load(open(tmp_path / "a.json"))
    g = json.load(open(os.path.join(FMNIST, "graph.json")))
    lifs = [n for n in g["nodes"] if n["op"] == "LIF"]
    assert [layer["name"] for layer in res["layers"]] == [n["name"] for n in lifs]
    for layer, n in zip(res["layers"], lifs):
        assert layer["values"] == 32 * int(np.prod(n["shape"]))         # T = 1
        assert 0.98 <= layer["teacher_forced"] <= 1.0
        assert layer["end_to_end"] <= 1.0
    # The first LIF reads the image directly: nothing upstream to force, the two measures agree.
    assert res["layers"][0]["end_to_end"] == res["layers"][0]["teacher_forced"]
    assert res["teacher_forced"] > res["end_to_end"]
    assert "all layers" in r.stdout and "teacher-forced" in r.stdout

    # Predictions: the unfolded PyTorch model (float) against the golden executor (integer).
    sd, extras = export.load_checkpoint(os.path.join(FMNIST, "checkpoint.pth"))
    model, _ = export.build_checked(sd, "checkpoint.pth", 8, (28, 28), 1)
    mean, std = extras["normalize"]["mean"][0], extras["normalize"]["std"][0]
    with torch.no_grad():
        fpred = model((torch.from_numpy(x).float() / 255 - mean) / std).argmax(1).numpy()
    rep = tmp_path / "infer.json"
    r = _sc("infer", "--model", FMNIST, "--input", tmp_path / "x.npy", "-o", rep)
    assert r.returncode == 0, r.stderr
    gpred = np.array([i["prediction"] for i in json.load(open(rep))["inputs"]])
    assert abs(res["predictions"] - float((fpred == gpred).mean())) < 1e-12


def test_teacher_forcing_feeds_the_float_spikes_forward():
    """intref.run force=: a forced LIF still records its own spikes, but the next layer reads the
    forced ones: forcing every LIF with the integer model's own spikes changes nothing; forcing
    zeros leaves the first LIF's own spikes as they were and changes what the second computes."""
    x = data.load("test")[0][:4]
    ig = intref.load_model(FMNIST)
    free = intref.run(ig, x, T=1)
    same = intref.run(ig, x, T=1, force=free["spikes"])
    for n in ig.lif_names:
        assert np.array_equal(same["spikes"][n], free["spikes"][n])
    zeros = {n: np.zeros_like(v) for n, v in free["spikes"].items()}
    silent = intref.run(ig, x, T=1, force=zeros)
    first = ig.lif_names[0]
    assert np.array_equal(silent["spikes"][first], free["spikes"][first])
    assert not np.array_equal(silent["spikes"][ig.lif_names[1]], free["spikes"][ig.lif_names[1]])


def test_float_graph_follows_the_model_provenance():
    ig = intref.load_model(FMNIST)
    fg = agreement.float_graph(os.path.join(FMNIST, "checkpoint.pth"), ig.meta)
    assert [n["name"] for n in fg.nodes] == [n["name"] for n in ig.nodes]
    assert fg.nodes[0]["shape"] == ig.nodes[0]["shape"]
