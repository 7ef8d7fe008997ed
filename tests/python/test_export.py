import json
import os
import subprocess

import numpy as np
import pytest
import torch

from conftest import OFFICIAL, REPO, randomise_batchnorm
from spikechip_py import export, intref, safetensors
from spikechip_py.model import build

EXPORT = os.path.join(REPO, "scripts", "spikechip-export")


@pytest.fixture(scope="module")
def random_384(tmp_path_factory):
    """A randomly initialised official-layout 8_384 state dict with non-trivial BN statistics."""
    torch.manual_seed(1234)
    m = build("8_384", num_classes=10)
    randomise_batchnorm(m, (0.0, 1.0))
    path = tmp_path_factory.mktemp("ckpt") / "rand_8_384.pth"
    torch.save(m.state_dict(), path)
    return str(path)


def _dequantised_input(u8, mean, std):
    mean = torch.tensor(mean, dtype=torch.double).view(1, -1, 1, 1)
    std = torch.tensor(std, dtype=torch.double).view(1, -1, 1, 1)
    zp = torch.round(255 * mean)
    return (torch.from_numpy(u8).double() - zp) / (255 * std)


@pytest.mark.parametrize("T", [1, 2])
def test_folded_float_equals_unfolded(tmp_path, ref_npz, T):
    """Folding BN/RepConv/SepConv/kd heads changes nothing: all spikes equal, logits ~1e-9."""
    ck = os.path.join(OFFICIAL, "official_small_kd1_train.pth")
    model, fg, _, _ = export.export(ck, str(tmp_path / "m"), img_size=(32, 32), T=T)
    m = model.double()
    m.record_spikes()
    u8 = ref_npz["input_u8"]
    with torch.no_grad():
        y = m(_dequantised_input(u8, export.IMAGENET_MEAN, export.IMAGENET_STD))
    r = intref.run(fg, u8, T=T, mode="float")
    np.testing.assert_allclose(r["logits"].numpy(), y.numpy(), atol=1e-9)
    for name, lif in m.lif_modules():
        s = r["spikes"][name]
        assert np.array_equal(s, lif.last_spikes.numpy().astype(np.uint8).reshape(s.shape)), name


def test_export_random_8_384_reduced_input(tmp_path, random_384):
    out = tmp_path / "m384"
    subprocess.run([EXPORT, random_384, "-o", str(out), "--input-size", "32", "32", "-T", "2"],
                   check=True, capture_output=True)
    g = json.load(open(out / "graph.json"))
    t = safetensors.read(str(out / "weights.safetensors"))
    assert g["format_version"] == 1 and g["timesteps"] == 2 and g["num_classes"] == 10
    assert g["provenance"]["variant"] == "8_384"
    assert g["provenance"]["input_size"] == [32, 32]
    names = [n["name"] for n in g["nodes"]]
    assert names[0] == "input" and names[-1] == "output" and len(set(names)) == len(names)
    assert names[1] == "downsample1_1.encode_conv" and "block3.5.attn.sdsa" in names
    assert "block4.1.add2" in names and names[-4:-1] == ["head_mean", "lif", "head"]
    used = set()
    for n in g["nodes"]:
        for i in n["inputs"]:
            assert names.index(i) < names.index(n["name"])
        if n["op"] in ("Conv2d", "Linear"):
            w, b, s = (t[f"{n['name']}.{k}"] for k in ("weight", "bias", "shift"))
            assert w.dtype == np.int8 and b.dtype == np.int32 and s.dtype == np.uint8
            assert w.shape[0] == n["shape"][0] and s.max() <= 24
            used |= {f"{n['name']}.{k}" for k in ("weight", "bias", "shift")}
        if n["op"] == "LIF":
            assert t[n["name"] + ".threshold"].dtype == np.int32
            used.add(n["name"] + ".threshold")
    used.add("input.zero_point")
    assert used == set(t), "every tensor is used by a node and vice versa"
    sdsa = [n for n in g["nodes"] if n["op"] == "SDSA"]
    assert all(n["attrs"] == {"heads": 8, "shift": 4} for n in sdsa)
    attn = [n for n in g["nodes"] if n["name"].endswith("attn_lif")]
    assert all((t[n["name"] + ".threshold"] == 64).all() for n in attn)
    # deterministic bytes
    out2 = tmp_path / "m384b"
    subprocess.run([EXPORT, random_384, "-o", str(out2), "--input-size", "32", "32", "-T", "2"],
                   check=True, capture_output=True)
    for f in ("graph.json", "weights.safetensors"):
        assert (out / f).read_bytes().replace(b"m384", b"") == \
            (out2 / f).read_bytes().replace(b"m384b", b"")
    # and it executes
    r = intref.run(intref.load_model(str(out)), np.zeros((1, 3, 32, 32), np.uint8), T=2)
    assert r["acc"].shape == (1, 10)


@pytest.mark.parametrize("fname", ["official_small_kd0.pth", "official_small_kd1_train.pth"])
def test_kd_and_plain_checkpoints_export(tmp_path, fname):
    _, _, ig, meta = export.export(os.path.join(OFFICIAL, fname), str(tmp_path / "m"),
                                   img_size=(32, 32))
    assert meta["provenance"]["kd_heads_averaged"] == ("kd1" in fname)
    assert ig.tensors["head.weight"].shape == (10, 96)


def test_integer_close_to_float_on_official_small(tmp_path, ref_npz):
    """Integer logits follow the float ones (random weights amplify any difference, so loose)."""
    ck = os.path.join(OFFICIAL, "official_small_kd0.pth")
    _, fg, _, _ = export.export(ck, str(tmp_path / "m"), img_size=(32, 32))
    g = intref.load_model(str(tmp_path / "m"))
    u8 = ref_npz["input_u8"]
    fi = intref.run(fg, u8, mode="float")
    ii = intref.run(g, u8)
    first = "ConvBlock1_1.0.Conv.lif1"
    assert (fi["spikes"][first] != ii["spikes"][first]).mean() < 0.01
    assert ii["saturations"] == 0


def _bad(tmp_path, obj, name="bad.pth"):
    p = tmp_path / name
    torch.save(obj, p)
    r = subprocess.run([EXPORT, str(p), "-o", str(tmp_path / "out")], capture_output=True,
                       text=True)
    assert r.returncode != 0
    assert not (tmp_path / "out" / "graph.json").exists()
    return r.stderr


def test_bad_checkpoints_clear_errors(tmp_path):
    sd = torch.load(os.path.join(OFFICIAL, "official_small_kd0.pth"))
    broken = dict(sd)
    del broken["block3.2.attn.q_conv.1.weight"]
    broken["block3.2.attn.extra.weight"] = torch.zeros(3)
    err = _bad(tmp_path, broken)
    assert "missing (1): block3.2.attn.q_conv.1.weight" in err
    assert "unexpected (1): block3.2.attn.extra.weight" in err
    err = _bad(tmp_path, {"conv.weight": torch.zeros(3, 3, 3, 3)}, "other.pth")
    assert "not a Meta-SpikeFormer" in err and "conv.weight" in err
    err = _bad(tmp_path, [1, 2, 3], "list.pth")
    assert "expected a state dict" in err
    p = tmp_path / "garbage.pth"
    p.write_bytes(b"not a checkpoint")
    r = subprocess.run([EXPORT, str(p), "-o", str(tmp_path / "o2")], capture_output=True, text=True)
    assert r.returncode != 0 and "not a PyTorch checkpoint" in r.stderr


def test_safetensors_roundtrip_and_layout(tmp_path):
    t = {"b": np.arange(5, dtype=np.int32), "a": np.array([[-1, 2]], np.int8)}
    p = tmp_path / "x.safetensors"
    safetensors.write(str(p), t)
    raw = p.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    hdr = json.loads(raw[8:8 + n])
    assert list(k for k in hdr) == ["a", "b"]
    assert hdr["a"]["data_offsets"] == [0, 2] and hdr["b"]["data_offsets"] == [2, 22]
    assert len(raw) == 8 + n + 22
    back = safetensors.read(str(p))
    assert all(np.array_equal(back[k], t[k]) for k in t)
