"""intref (Python) vs the C++ golden executor: every LIF's spikes, bit for bit."""
import os
import subprocess

import numpy as np
import pytest
import torch

from conftest import REPO
from spikechip_py import export, intref, safetensors
from spikechip_py.model import build


def _binary():
    path = os.environ.get("SPIKECHIP_BINARY") or os.path.join(REPO, "build", "spikechip")
    if not os.path.exists(path):
        pytest.skip(f"C++ binary not built ({path}); build it or set SPIKECHIP_BINARY")
    r = subprocess.run([path, "infer", "--help"], capture_output=True, text=True)
    if r.returncode != 0 or "--dump-spikes" not in r.stdout + r.stderr:
        pytest.skip(f"{path} has no 'infer --dump-spikes' subcommand yet (golden executor CLI)")
    return path


def _compare(binary, model_dir, images, T, tmp_path):
    g = intref.load_model(model_dir)
    for i, img in enumerate(images):
        x = tmp_path / f"x{i}.npy"
        np.save(x, img)
        dump = tmp_path / f"s{i}.safetensors"
        subprocess.run([binary, "infer", "--model", model_dir, "--input", str(x), "-T", str(T),
                        "--dump-spikes", str(dump)], check=True, capture_output=True)
        cpp = safetensors.read(str(dump))
        ref = intref.run(g, img[None], T=T)["spikes"]
        assert set(cpp) == set(ref), "LIF node sets differ"
        for name, s in ref.items():
            got = cpp[name].reshape(s.shape)
            n = int((got != s).sum())
            assert n == 0, f"image {i}, {name}: {n} spikes differ"


def _images(shape, n, seed):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=shape, dtype=np.uint8) for _ in range(n)]


def test_shipped_fmnist_model(tmp_path):
    b = _binary()
    d = os.path.join(REPO, "models", "fmnist")
    if not os.path.exists(os.path.join(d, "graph.json")):
        pytest.fail("models/fmnist/graph.json missing (export the shipped model)")
    imgs = list(np.load(os.path.join(d, "sample.npy"))[:3]) + _images((1, 28, 28), 1, 5)
    for T in (1, 2):
        _compare(b, d, imgs, T, tmp_path)


def test_random_8_384_reduced_input(tmp_path):
    b = _binary()
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
    _compare(b, out, _images((3, 32, 32), 2, 7), 2, tmp_path)


def test_cpp_synthetic_15m(tmp_path):
    b = _binary()
    out = str(tmp_path / "m15")
    subprocess.run([b, "model", "build", "--variant", "15M", "--input", "64", "-o", out],
                   check=True, capture_output=True)
    _compare(b, out, _images((3, 64, 64), 1, 11), 1, tmp_path)
