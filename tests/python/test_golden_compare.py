"""intref (Python) vs the C++ golden executor: every LIF's spikes, bit for bit."""
import os
import subprocess

import numpy as np
import pytest
import torch

from conftest import REPO
from shipped_model import check_golden_equals_intref
from spikechip_py import export, intref
from spikechip_py.model import build


def _binary():
    path = os.environ.get("SPIKECHIP_BINARY") or os.path.join(REPO, "build", "spikechip")
    if not os.path.exists(path):
        pytest.skip(f"C++ binary not built ({path}); build it or set SPIKECHIP_BINARY")
    r = subprocess.run([path, "infer", "--help"], capture_output=True, text=True)
    if r.returncode != 0 or "--dump-spikes" not in r.stdout + r.stderr:
        pytest.skip(f"{path} has no 'infer --dump-spikes' subcommand yet (golden executor CLI)")
    return path


def _compare(model_dir, images, T, tmp_path):
    check_golden_equals_intref(model_dir, intref.load_model(model_dir), np.stack(images), tmp_path, len(images), T)


def _images(shape, n, seed):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=shape, dtype=np.uint8) for _ in range(n)]


def test_shipped_fmnist_model(tmp_path):
    _binary()
    d = os.path.join(REPO, "models", "fmnist")
    if not os.path.exists(os.path.join(d, "graph.json")):
        pytest.fail("models/fmnist/graph.json missing (export the shipped model)")
    imgs = list(np.load(os.path.join(d, "sample.npy"))[:3]) + _images((1, 28, 28), 1, 5)
    for T in (1, 2):
        _compare(d, imgs, T, tmp_path)


def test_random_8_384_reduced_input(tmp_path):
    _binary()
    torch.manual_seed(99)
    m = build("8_384", num_classes=10)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                mod.bias.uniform_(0.0, 1.0)
    ck = tmp_path / "r.pth"
    torch.save(m.state_dict(), ck)
    out = str(tmp_path / "m")
    export.export(str(ck), out, img_size=(32, 32), T=2)
    _compare(out, _images((3, 32, 32), 2, 7), 2, tmp_path)


def test_cpp_synthetic_15m(tmp_path):
    b = _binary()
    out = str(tmp_path / "m15")
    subprocess.run([b, "model", "build", "--variant", "15M", "--input", "64", "-o", out],
                   check=True, capture_output=True)
    _compare(out, _images((3, 64, 64), 1, 11), 1, tmp_path)
