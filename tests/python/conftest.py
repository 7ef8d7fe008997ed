import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _shared():
    # CI puts the shared material at <repo>/../shared; a worktree one folder deeper sees it two
    # levels up. SPIKECHIP_SHARED overrides both.
    if os.environ.get("SPIKECHIP_SHARED"):
        return os.environ["SPIKECHIP_SHARED"]
    for cand in (os.path.join(REPO, "..", "shared"), os.path.join(REPO, "..", "..", "shared")):
        if os.path.isdir(cand):
            return os.path.normpath(cand)
    return os.path.join(REPO, "..", "shared")


SHARED = _shared()
REF = os.path.join(SHARED, "reference")
OFFICIAL = os.path.join(REF, "official-forward")


@pytest.fixture(scope="session")
def ref_npz():
    import numpy as np
    path = os.path.join(OFFICIAL, "reference_outputs.npz")
    if not os.path.exists(path):
        pytest.fail(f"shared reference material not found at {path} (set SPIKECHIP_SHARED)")
    return np.load(path)


def spikechip_binary():
    """The built spikechip CLI (SPIKECHIP_BINARY overrides build/spikechip); fails when absent."""
    b = os.environ.get("SPIKECHIP_BINARY", os.path.join(REPO, "build", "spikechip"))
    if not os.path.exists(b):
        pytest.fail(f"{b} not built")
    return b


def run_spikechip(*args):
    """Runs the CLI with str() of each argument, capturing text output."""
    return subprocess.run([spikechip_binary(), *map(str, args)], capture_output=True, text=True)


def randomise_batchnorm(model, bias_range):
    """Non-trivial BatchNorm statistics for an untrained model (folding tests): running mean in
    [-0.2, 0.2], variance in [0.5, 2], scale in [0.5, 1.5], bias in bias_range."""
    import torch
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(*bias_range)


def eval_event_frames(model, n, tmp_path, *eval_args):
    """`spikechip eval --input` on the first n test images as event frames
    (scripts/make_fmnist_events --frames T, T = the model's), against the Python integer reference
    on the same frames. Returns (frames, labels, intref's correct count, the eval's CompletedProcess)."""
    import numpy as np
    from spikechip_py import intref
    g = intref.load_model(model)
    T = g.meta["timesteps"]
    npz = tmp_path / "ev.npz"
    r = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "make_fmnist_events"), "--frames", str(T),
                        "--limit", str(n), "-o", str(npz)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with np.load(npz) as z:
        frames, labels = z["frames"], z["labels"]
    ref = intref.run(g, np.ascontiguousarray(frames.transpose(1, 0, 2, 3, 4)), T=T, record=False)
    want = int((intref.predict(ref["acc"]) == labels).sum())
    return frames, labels, want, run_spikechip("eval", "--model", model, "--input", npz, *eval_args)

