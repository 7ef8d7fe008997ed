"""The shipped event-camera model (models/fmnist-events) on the shipped trace: Python integer
reference == C++ golden executor (every LIF spike), and the cycle-accurate chip run on the tiny
preset verifies bit-exact against golden."""
import json
import os
import subprocess

import numpy as np
import pytest

from conftest import REPO, eval_event_frames
from spikechip_py import events, intref, safetensors

MODEL = os.path.join(REPO, "models", "fmnist-events")
TRACE = os.path.join(REPO, "traces", "fmnist_saccade.evt")


def _binary():
    path = os.environ.get("SPIKECHIP_BINARY") or os.path.join(REPO, "build", "spikechip")
    if not os.path.exists(path):
        pytest.skip(f"C++ binary not built ({path}); build it or set SPIKECHIP_BINARY")
    return path


def _graph():
    if not os.path.exists(os.path.join(MODEL, "graph.json")):
        pytest.fail("models/fmnist-events/graph.json missing (docs/models.md: export it)")
    return intref.load_model(MODEL)


def test_shipped_model_is_an_events_model():
    g = _graph()
    inp = g.nodes[0]
    assert inp["op"] == "Input" and inp["attrs"]["encoding"] == "events"
    assert inp["shape"] == [2, 28, 28]
    assert g.tensors["input.zero_point"].tolist() == [0, 0]
    with open(os.path.join(MODEL, "sample.json")) as f:
        sample = json.load(f)
    x = np.load(os.path.join(MODEL, "sample.npy"))
    T = g.meta["timesteps"]
    assert x.shape == (len(sample["labels"]), T, 2, 28, 28) and x.dtype == np.uint8
    # the sample frames are the documented conversion of the first test images
    from spikechip_py import data
    imgs, _ = data.load("test")
    assert np.array_equal(events.saccade_frames(imgs[:2, 0], T), x[:2])
    r = intref.run(g, np.ascontiguousarray(x.transpose(1, 0, 2, 3, 4)), T=T, record=False)
    key = f"intref_predictions_T{T}"
    assert intref.predict(r["acc"]).tolist() == sample[key]


def test_intref_equals_golden_on_trace(tmp_path):
    b = _binary()
    g = _graph()
    T = g.meta["timesteps"]
    ev, w, h = events.read_evt(TRACE)
    frames = events.bin_frames(ev, T, w, h)                      # [T,2,H,W], docs/traces.md
    ref = intref.run(g, frames[:, None], T=T)
    dump = tmp_path / "s.safetensors"
    r = subprocess.run([b, "infer", "--model", MODEL, "--input", TRACE, "-T", str(T),
                        "--dump-spikes", str(dump)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    cpp = safetensors.read(str(dump))
    assert set(cpp) == set(ref["spikes"])
    total = 0
    for name, s in ref["spikes"].items():
        got = cpp[name].reshape(s.shape)
        assert int((got != s).sum()) == 0, f"{name}: spikes differ"
        total += int(s.sum())
    assert total > 0
    pred = int(intref.predict(ref["acc"])[0])
    assert f"prediction {pred}" in r.stdout


def test_chip_run_on_trace_is_verified(tmp_path):
    b = _binary()
    _graph()
    out = tmp_path / "run"
    r = subprocess.run([b, "run", "--model", MODEL, "--chip",
                        os.path.join(REPO, "arch", "presets", "tiny.json"), "--input", TRACE,
                        "-o", str(out), "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "verified bit-exact against golden" in r.stdout
    with open(out / "report.json") as f:
        rep = json.load(f)
    assert rep["status"] == "complete" and rep["run"]["verified"] is True
    assert rep["inputs"][0]["origin"].endswith("fmnist_saccade.evt")


def test_eval_on_event_frames_equals_intref(tmp_path):
    """`spikechip eval --input` on frames from scripts/make_fmnist_events --frames: the accuracy
    is the Python integer reference's on the same frames; unlabelled frames are refused."""
    b = _binary()
    T = _graph().meta["timesteps"]
    n = 120
    rep = tmp_path / "eval.json"
    frames, labels, want, r = eval_event_frames(MODEL, n, tmp_path, "--threads", "1", "-o", rep)
    assert frames.shape == (n, T, 2, 28, 28) and labels.shape == (n,)
    from spikechip_py import data
    imgs, y = data.load("test")
    assert np.array_equal(labels, y[:n])
    assert r.returncode == 0, r.stderr
    assert f"({want} / {n})" in r.stdout
    with open(rep) as f:
        j = json.load(f)
    assert j["eval"]["count"] == n and j["eval"]["correct"] == want
    # the frames alone (no labels) cannot be scored
    bare = tmp_path / "bare.npy"
    np.save(bare, frames[:4])
    r = subprocess.run([b, "eval", "--model", MODEL, "--input", str(bare)], capture_output=True, text=True)
    assert r.returncode != 0 and "no label" in r.stderr and "bare.npy[0]" in r.stderr
    # the dataset of images does not fit an events model: the error says what to give instead
    r = subprocess.run([b, "eval", "--model", MODEL], capture_output=True, text=True)
    assert r.returncode != 0 and "--input" in r.stderr
