"""The stronger shipped event-camera model of issue 16 item 6 (docs/models.md,
models/fmnist-events-wide). It loads as recorded and its eval.json meets the target; the Python
integer reference reproduces its sample.json; the C++ golden executor equals intref on every LIF
spike of two sample inputs; a chip run on the tiny preset verifies bit-exact; and `spikechip eval
--input` scores event frames exactly as intref does."""
import json
import os
import subprocess

import numpy as np
import pytest

from conftest import REPO, eval_event_frames, spikechip_binary as _binary
from spikechip_py import data, events, intref, safetensors

EVENTS = os.path.join(REPO, "models", "fmnist-events-wide")


def _load(model):
    if not os.path.exists(os.path.join(model, "graph.json")):
        pytest.fail(f"{os.path.relpath(model, REPO)}/graph.json missing (docs/models.md: export it)")
    g = intref.load_model(model)
    with open(os.path.join(model, "sample.json")) as f:
        sample = json.load(f)
    with open(os.path.join(model, "eval.json")) as f:
        ev = json.load(f)
    return g, np.load(os.path.join(model, "sample.npy")), sample, ev


def _frames_first(x):
    """intref's input layout: event frames [B,T,2,H,W] -> [T,B,2,H,W]."""
    return np.ascontiguousarray(x.transpose(1, 0, 2, 3, 4))


def test_recorded_figures_and_sample(model=EVENTS):
    g, x, sample, ev = _load(model)
    T = g.meta["timesteps"]
    assert ev["images"] == 10000 and ev["saturations"] == 0
    assert g.nodes[0]["attrs"]["encoding"] == "events"
    assert x.shape == (len(sample["labels"]), T, 2, 28, 28)
    imgs, _ = data.load("test")
    assert np.array_equal(events.saccade_frames(imgs[:2, 0], T), x[:2])
    assert ev["float_top1"] >= 0.880 and ev["int_top1"] >= 0.880
    r = intref.run(g, _frames_first(x), T=T, record=False)
    assert intref.predict(r["acc"]).tolist() == sample[f"intref_predictions_T{T}"]
    assert r["saturations"] == 0


def test_golden_equals_intref_and_chip_verifies(tmp_path, model=EVENTS):
    b = _binary()
    g, x, _, _ = _load(model)
    T = g.meta["timesteps"]
    for i in range(2):
        np.save(tmp_path / "x.npy", x[i:i + 1])
        dump = tmp_path / f"s{i}.safetensors"
        r = subprocess.run([b, "infer", "--model", model, "--input", str(tmp_path / "x.npy"), "-T", str(T),
                            "--dump-spikes", str(dump)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        cpp = safetensors.read(str(dump))
        ref = intref.run(g, _frames_first(x[i:i + 1]), T=T)["spikes"]
        assert set(cpp) == set(ref)
        for name, s in ref.items():
            assert int((cpp[name].reshape(s.shape) != s).sum()) == 0, f"input {i}, {name}: spikes differ"
    np.save(tmp_path / "x2.npy", x[:2])
    out = tmp_path / "run"
    r = subprocess.run([b, "run", "--model", model, "--chip", os.path.join(REPO, "arch", "presets", "tiny.json"),
                        "--input", str(tmp_path / "x2.npy"), "-o", str(out), "--quiet"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "verified bit-exact against golden" in r.stdout
    with open(out / "report.json") as f:
        rep = json.load(f)
    assert rep["status"] == "complete" and rep["run"]["verified"] is True


def test_spikechip_eval_of_the_events_model_equals_intref(tmp_path):
    """The first 300 test images as event frames (scripts/make_fmnist_events --frames): the golden
    executor's correct count is intref's (the whole set is in docs/models.md)."""
    _binary()
    _, _, want, r = eval_event_frames(EVENTS, 300, tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"({want} / 300)" in r.stdout
