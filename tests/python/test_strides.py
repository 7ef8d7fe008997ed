"""Non-official downsampling strides (model/trainer/exporter option `strides`, e.g. 2,2,2,1,1 to keep
stage 3 at 4x4 tokens on 28x28 inputs): the weights do not record strides, so the checkpoint's
'config' carries them; the export follows them, records them in provenance, the folded float graph
still equals the PyTorch model spike for spike, and the C++ golden executor and the chip run the
exported graph bit-exact. The official layout stays unrecorded (shipped exports unchanged)."""
import json
import os
import subprocess

import numpy as np
import pytest
import torch

from conftest import REPO, randomise_batchnorm, spikechip_binary
from spikechip_py import export, intref, safetensors
from spikechip_py.model import OFFICIAL_STRIDES, Spiking_vit_MetaFormer

EXPORT = os.path.join(REPO, "scripts", "spikechip-export")
STRIDES = [2, 2, 2, 1, 1]
MEAN, STD = 0.286, 0.353


def _checkpoint(path, strides):
    """A small random 28x28 model as the trainer saves it ('config' with strides when not official)."""
    torch.manual_seed(4321)
    m = Spiking_vit_MetaFormer(img_size_h=28, img_size_w=28, embed_dim=[16, 32, 64, 64], num_heads=8,
                               in_channels=1, num_classes=10, blocks3=1, blocks4=1, T=1, strides=strides)
    randomise_batchnorm(m, (0.5, 1.5))
    torch.save({"model": m.state_dict(), "config": m.config,
                "normalize": {"mean": [MEAN], "std": [STD]}}, path)
    return str(path), m


@pytest.fixture(scope="module")
def strided(tmp_path_factory):
    d = tmp_path_factory.mktemp("strided")
    ck, _ = _checkpoint(d / "ck.pth", STRIDES)
    out = d / "m"
    model, fg, _, meta = export.export(ck, str(out))
    return ck, str(out), model, fg, meta


def _conv(meta_or_nodes, name):
    nodes = meta_or_nodes["nodes"] if isinstance(meta_or_nodes, dict) else meta_or_nodes
    return next(n for n in nodes if n["name"] == name)


def test_config_records_only_non_official_strides():
    assert "strides" not in Spiking_vit_MetaFormer(embed_dim=[16, 32, 64, 64], blocks3=1, blocks4=1).config
    m = Spiking_vit_MetaFormer(embed_dim=[16, 32, 64, 64], blocks3=1, blocks4=1, strides=STRIDES)
    assert m.config["strides"] == STRIDES and m.downsample3.encode_conv.stride == (1, 1)
    with pytest.raises(ValueError):
        Spiking_vit_MetaFormer(strides=[2, 2, 2])


def test_export_follows_the_checkpoint_strides(strided):
    _, out, _, _, meta = strided
    g = json.load(open(os.path.join(out, "graph.json")))
    assert g["provenance"]["strides"] == STRIDES
    for name, s in zip(("downsample1_1", "downsample1_2", "downsample2", "downsample3", "downsample4"),
                       STRIDES):
        assert _conv(g, f"{name}.encode_conv")["attrs"]["stride"] == [s, s], name
    # 28 -> 14 -> 7 -> 4 -> 4 -> 4: stage 3 and 4 attend over 16 tokens (official: 4)
    assert [n["shape"] for n in g["nodes"] if n["op"] == "SDSA"] == [[64, 4, 4], [64, 4, 4]]
    assert _conv(g, "head_mean")["attrs"]["count"] == 16


def test_folded_float_equals_unfolded(strided):
    _, _, model, fg, _ = strided
    m = model.double()
    m.record_spikes()
    u8 = np.random.default_rng(7).integers(0, 256, size=(4, 1, 28, 28), dtype=np.uint8)
    zp = round(255 * MEAN)
    with torch.no_grad():
        y = m((torch.from_numpy(u8).double() - zp) / (255 * STD))
    r = intref.run(fg, u8, T=1, mode="float")
    np.testing.assert_allclose(r["logits"].numpy(), y.numpy(), atol=1e-9)
    fired = 0
    for name, lif in m.lif_modules():
        s = r["spikes"][name]
        assert np.array_equal(s, lif.last_spikes.numpy().astype(np.uint8).reshape(s.shape)), name
        fired += int(s.sum())
    assert fired > 0


def test_strides_flag_overrides_with_a_warning(strided, tmp_path):
    ck = strided[0]
    r = subprocess.run([EXPORT, ck, "-o", str(tmp_path / "o"), "--strides", "2,2,2,2,1"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "--strides 2,2,2,2,1 overrides the checkpoint's config strides = 2,2,2,1,1" in r.stderr
    g = json.load(open(tmp_path / "o" / "graph.json"))
    assert "strides" not in g["provenance"]
    assert _conv(g, "downsample3.encode_conv")["attrs"]["stride"] == [2, 2]
    bad = subprocess.run([EXPORT, ck, "-o", str(tmp_path / "b"), "--strides", "2,2"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "five positive integers" in bad.stderr


def test_official_strides_stay_unrecorded(tmp_path):
    ck, _ = _checkpoint(tmp_path / "ck.pth", None)
    _, _, ig, meta = export.export(ck, str(tmp_path / "m"))
    assert "strides" not in meta["provenance"]
    assert [_conv(ig.nodes, f"{n}.encode_conv")["attrs"]["stride"][0]
            for n in ("downsample1_1", "downsample1_2", "downsample2", "downsample3", "downsample4")] \
        == list(OFFICIAL_STRIDES)


def test_golden_and_chip_bit_exact(strided, tmp_path):
    b = spikechip_binary()
    _, out, _, _, _ = strided
    g = intref.load_model(out)
    x = np.random.default_rng(11).integers(0, 256, size=(2, 1, 28, 28), dtype=np.uint8)
    np.save(tmp_path / "x.npy", x[:1])
    dump = tmp_path / "s.safetensors"
    r = subprocess.run([b, "infer", "--model", out, "--input", str(tmp_path / "x.npy"), "-T", "1",
                        "--dump-spikes", str(dump)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    cpp = safetensors.read(str(dump))
    ref = intref.run(g, x[:1], T=1)["spikes"]
    assert set(cpp) == set(ref)
    for name, s in ref.items():
        assert int((cpp[name].reshape(s.shape) != s).sum()) == 0, f"{name}: spikes differ"
    run = subprocess.run([b, "run", "--model", out, "--chip", os.path.join(REPO, "arch", "presets", "tiny.json"),
                          "--input", str(tmp_path / "x.npy"), "-o", str(tmp_path / "run"), "--quiet"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "verified bit-exact against golden" in run.stdout
