import os
import subprocess

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
