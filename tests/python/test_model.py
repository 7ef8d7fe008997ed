import os

import numpy as np
import pytest
import torch

from conftest import OFFICIAL, REF
from spikechip_py.model import Spiking_vit_MetaFormer, build


@pytest.mark.parametrize("variant", ["8_384", "8_512", "8_768"])
def test_state_dict_matches_official_keys(variant):
    ref = []
    with open(os.path.join(REF, f"metaspikformer_{variant}.keys.txt")) as f:
        for line in f:
            if line.strip():
                k, shape = line.rstrip("\n").split("\t")
                ref.append((k, eval(shape)))
    sd = build(variant).state_dict()
    assert [(k, list(v.shape)) for k, v in sd.items()] == [(k, list(s)) for k, s in ref]


def small(T, kd):
    return Spiking_vit_MetaFormer(32, 32, [24, 48, 64, 96], in_channels=3, num_classes=10, T=T,
                                  kd=kd).eval()


@pytest.mark.parametrize("T", [1, 2])
@pytest.mark.parametrize("kd", [0, 1])
def test_official_forward_reproduced(ref_npz, T, kd):
    m = small(T, bool(kd))
    if kd:
        obj = torch.load(os.path.join(OFFICIAL, "official_small_kd1_train.pth"))
        m.load_state_dict(obj["model"])
    else:
        m.load_state_dict(torch.load(os.path.join(OFFICIAL, "official_small_kd0.pth")))
    m.record_spikes()
    with torch.no_grad():
        y = m(torch.from_numpy(ref_npz["input"]))
    np.testing.assert_allclose(y.numpy(), ref_npz[f"T{T}.logits_kd{kd}"], atol=1e-4, rtol=0)
    for name, lif in m.lif_modules():
        got = lif.last_spikes.numpy().astype(np.uint8).reshape(-1)
        ref = ref_npz[f"T{T}.spk.{name}"].reshape(-1)
        bad = set(np.nonzero(got != ref)[0]) - set(ref_npz[f"T{T}.near.{name}"].tolist())
        assert not bad, f"{name}: {len(bad)} spikes differ away from threshold"


def test_surrogate_gradient_flows():
    m = Spiking_vit_MetaFormer(28, 28, [16, 32, 64, 64], in_channels=1, num_classes=10,
                               blocks3=1, blocks4=1)
    torch.manual_seed(0)
    out = m(torch.randn(4, 1, 28, 28))
    out.sum().backward()
    g = m.downsample1_1.encode_conv.weight.grad
    assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0
