"""scripts/spikechip-export on official training checkpoints: their own 'args' decide the input
size and T unless flags override (with a warning when they differ), torch >= 2.6 loading, a
Python without torch first, and --help (issue 16 item 4)."""
import argparse
import json
import os
import pickle
import subprocess

import numpy as np
import pytest
import torch

from conftest import OFFICIAL, REPO
from spikechip_py import export, intref

EXPORT = os.path.join(REPO, "scripts", "spikechip-export")
OFFICIAL_TRAIN = os.path.join(OFFICIAL, "official_small_kd1_train.pth")


def _with_args(tmp_path, name="ck.pth", **changes):
    """The official training checkpoint (args = argparse.Namespace) with some args changed."""
    obj = torch.load(OFFICIAL_TRAIN, map_location="cpu", weights_only=False)
    assert isinstance(obj["args"], argparse.Namespace)
    for k, v in changes.items():
        setattr(obj["args"], k, v)
    p = tmp_path / name
    torch.save(obj, p)
    return str(p)


def _export(ck, out, *flags, python=None, env=None):
    cmd = ([python] if python else []) + [EXPORT, ck, "-o", str(out), *flags]
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


def _graph(out):
    return json.load(open(os.path.join(out, "graph.json")))


def test_args_without_flags_give_the_trained_size(tmp_path):
    ck = _with_args(tmp_path, input_size=64, time_steps=2)
    r = _export(ck, tmp_path / "m")
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stderr, r.stderr
    g = _graph(tmp_path / "m")
    assert g["nodes"][0]["shape"] == [3, 64, 64] and g["timesteps"] == 2
    assert g["provenance"]["input_size"] == [64, 64]
    assert g["provenance"]["model_name"] == "metaspikformer_small_test"
    assert "input 64x64, T=2" in r.stdout
    # the model is really 64x64 end to end: 64 -> 32 -> 16 -> 8 -> 4 tokens grid
    sdsa = [n for n in g["nodes"] if n["op"] == "SDSA"]
    assert sdsa[0]["shape"][1:] == [4, 4]
    res = intref.run(intref.load_model(str(tmp_path / "m")), np.zeros((1, 3, 64, 64), np.uint8), T=2)
    assert res["acc"].shape == (1, 10)


def test_flags_override_and_disagreement_warns(tmp_path):
    ck = _with_args(tmp_path, input_size=64, time_steps=2, nb_classes=1000,
                    model="metaspikformer_8_512")
    r = _export(ck, tmp_path / "m", "--input-size", "32", "-T", "1")
    assert r.returncode == 0, r.stderr
    err = r.stderr
    assert "--input-size 32x32 overrides the checkpoint's args.input_size = 64x64" in err
    assert "-T 1 overrides the checkpoint's args.time_steps = 2" in err
    assert "args.nb_classes = 1000 but its head has 10 outputs" in err
    assert "args.model = 'metaspikformer_8_512' has widths [128, 256, 512, 640]" in err
    g = _graph(tmp_path / "m")
    assert g["nodes"][0]["shape"] == [3, 32, 32] and g["timesteps"] == 1 and g["num_classes"] == 10
    # a flag equal to the record: no warning; two values H W work as well
    r = _export(_with_args(tmp_path, "ck2.pth", input_size=32), tmp_path / "m2", "--input-size", "32", "32")
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr


def test_config_and_args_disagreeing_warn_and_config_wins(tmp_path):
    obj = torch.load(OFFICIAL_TRAIN, map_location="cpu", weights_only=False)
    obj["config"] = {"img_size_h": 32, "img_size_w": 32, "T": 1}
    obj["args"].input_size = 48
    p = tmp_path / "both.pth"
    torch.save(obj, p)
    msgs = []
    _, _, _, meta = export.export(str(p), str(tmp_path / "m"), warn=msgs.append)
    assert meta["provenance"]["input_size"] == [32, 32]
    assert any("disagrees with itself: config img_size_h/w = 32x32, args.input_size = 48x48" in m
               for m in msgs), msgs


def test_loads_as_torch_2_6_would(tmp_path, monkeypatch):
    """torch >= 2.6 defaults to weights_only=True, which refuses the official 'args' Namespace."""
    real = torch.load

    def load_2_6(f, map_location=None, weights_only=True, **kw):
        if weights_only:
            raise pickle.UnpicklingError("Weights only load failed: Unsupported global: "
                                         "GLOBAL argparse.Namespace")
        return real(f, map_location=map_location, weights_only=False, **kw)

    monkeypatch.setattr(torch, "load", load_2_6)
    sd, extras = export.load_checkpoint(OFFICIAL_TRAIN)
    assert isinstance(extras["args"], argparse.Namespace) and "head_kd.weight" in sd


def test_runs_from_a_python_without_torch(tmp_path):
    """`python3 scripts/spikechip-export` with a torch-less python3: it finds /usr/bin/python3.
    (`python -S` drops site/dist-packages, so that interpreter cannot import torch.)"""
    ck = _with_args(tmp_path, input_size=32)
    env = dict(os.environ)
    env.pop("SPIKECHIP_PYTHON", None)
    env.pop("SPIKECHIP_TORCH_REEXEC", None)
    assert subprocess.run(["/usr/bin/python3", "-S", "-c", "import torch"],
                          capture_output=True).returncode != 0
    r = subprocess.run(["/usr/bin/python3", "-S", EXPORT, ck, "-o", str(tmp_path / "m")],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert _graph(tmp_path / "m")["nodes"][0]["shape"] == [3, 32, 32]
    env["SPIKECHIP_PYTHON"] = "/bin/false"
    r = subprocess.run(["/usr/bin/python3", "-S", EXPORT, ck, "-o", str(tmp_path / "m3")],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 1
    assert "SPIKECHIP_PYTHON=/bin/false cannot import torch" in r.stderr
    assert "python3-torch" in r.stderr and not (tmp_path / "m3").exists()


def test_help_documents_every_flag():
    r = subprocess.run(["/usr/bin/python3", "-S", EXPORT, "--help"], capture_output=True, text=True)
    assert r.returncode == 0   # help needs no torch
    out = r.stdout
    for flag, words in (("-o OUT, --out OUT", "output model directory"),
                        ("--input-size S", "args, else 224"), ("-T n, --timesteps n", "args.time_steps"),
                        ("--heads n", "attention heads"), ("--mean m", "normalisation"),
                        ("--std s", "std of the training"), ("--name NAME", "model name"),
                        ("--encoding", "Input encoding"), ("checkpoint", "PyTorch checkpoint")):
        assert flag in out and words in out, (flag, words)
    r = subprocess.run([EXPORT, "x.pth", "-o", "y", "--input-size", "1", "2", "3"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "one value (S) or two (H W)" in r.stderr


def test_a_disk_that_refuses_the_model_is_exit_4(tmp_path):
    # A full disk, made by a 64 KiB file-size limit (the write fails with EFBIG; Python ignores
    # SIGXFSZ). Before session 34: a Python traceback ending "OSError: [Errno 27] File too large".
    # Now one line naming the file, exit 4 (as spikechip's), and a model exported there before
    # left as it was.
    import resource
    ck = _with_args(tmp_path, input_size=64, time_steps=1)
    out = tmp_path / "m"
    assert _export(ck, out).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert len(before["weights.safetensors"]) > 64 * 1024

    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.RLIM_INFINITY))

    r = subprocess.run([EXPORT, ck, "-o", str(out), "-T", "2"], capture_output=True, text=True,
                       preexec_fn=limited)
    assert r.returncode == 4, r.stderr
    assert r.stderr.splitlines()[-1] == (f"spikechip-export: {out}/weights.safetensors: cannot write (File too "
                                         "large); check that its directory is writable and its disk has free "
                                         "space, then rerun")
    assert "Traceback" not in r.stderr, r.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
