"""Precision as a parameter (issue 16 item 1): models exported at weight widths 4/6/8 and membrane
widths 16/24/32 run bit for bit the same in the PyTorch integer reference (intref), the C++ golden
executor and the chip, saturations counted alike; a model wider than the chip is refused at map
time; graph.json's precision is checked on load."""
import json
import os
import shutil
import subprocess

import numpy as np
import pytest

from conftest import OFFICIAL, REPO, run_spikechip as _sc
from spikechip_py import intref, safetensors

EXPORT = os.path.join(REPO, "scripts", "spikechip-export")
CKPT = os.path.join(OFFICIAL, "official_small_kd0.pth")
WIDTHS = [(4, 16), (6, 24), (8, 16), (4, 32)]   # every weight and membrane width at least once




@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("prec")
    out = {}
    for wb, mb in WIDTHS:
        m = d / f"w{wb}m{mb}"
        subprocess.run([EXPORT, CKPT, "-o", str(m), "--input-size", "32", "--weight-bits", str(wb),
                        "--membrane-bits", str(mb)], check=True, capture_output=True)
        out[(wb, mb)] = str(m)
    return out


@pytest.mark.parametrize("wb,mb", WIDTHS)
def test_golden_equals_intref_at_every_width(models, tmp_path, ref_npz, wb, mb):
    m = models[(wb, mb)]
    g = json.load(open(os.path.join(m, "graph.json")))
    assert g["precision"] == {"weight_bits": wb, "membrane_bits": mb}
    t = safetensors.read(os.path.join(m, "weights.safetensors"))
    q = 2 ** (wb - 1) - 1
    ws = [v for k, v in t.items() if k.endswith(".weight")]
    assert max(int(np.abs(w).max()) for w in ws) == q          # the full width is used, and no more
    lim = 2 ** (mb - 1)
    assert all(int(v.max()) < lim and int(v.min()) >= -lim for k, v in t.items()
               if k.endswith((".bias", ".threshold")))
    u8 = ref_npz["input_u8"]
    np.save(tmp_path / "x.npy", u8)
    ref = intref.run(intref.load_model(m), u8, T=2)
    dump, rep = tmp_path / "s.safetensors", tmp_path / "r.json"
    r = _sc("infer", "--model", m, "--input", tmp_path / "x.npy", "-T", 2, "--dump-spikes", dump,
            "--dump-inputs", "all", "-o", rep)
    assert r.returncode == 0, r.stderr
    cpp = safetensors.read(str(dump))
    for name, s in ref["spikes"].items():                      # [T, B, C, H, W] vs [B, T, C, H, W]
        got = cpp[name].transpose(1, 0, 2, 3, 4)
        assert int((got != s).sum()) == 0, f"{name}: spikes differ"
    report = json.load(open(rep))
    assert report["summary"]["saturations"] == ref["saturations"]
    if (wb, mb) == (8, 16):
        assert ref["saturations"] > 0, "8-bit weights on 16-bit membranes saturate on this model (the test's point)"
    acc = np.array([i["output_acc"] for i in report["inputs"]])
    assert np.array_equal(acc, ref["acc"].numpy())


@pytest.mark.parametrize("wb,mb", [(4, 16), (6, 24)])
def test_chip_equals_golden_at_narrow_widths(models, tmp_path, ref_npz, wb, mb):
    m = models[(wb, mb)]
    np.save(tmp_path / "x.npy", ref_npz["input_u8"][:1])
    r = _sc("run", "--model", m, "--chip", "meta15m", "--set", f"core.weight_bits={wb}", "--set",
            f"core.membrane_bits={mb}", "--input", tmp_path / "x.npy", "-T", 2, "-o", tmp_path / "run")
    assert r.returncode == 0, r.stderr
    assert "verified bit-exact against golden" in r.stdout
    rep = json.load(open(tmp_path / "run" / "report.json"))
    assert rep["run"]["verified"] is True
    assert rep["chip"]["config"]["core"]["membrane_bits"] == mb


def test_model_wider_than_the_chip_is_refused_at_map_time(models, tmp_path, ref_npz):
    m = models[(6, 24)]
    np.save(tmp_path / "x.npy", ref_npz["input_u8"][:1])
    for args, what in ((["--set", "core.membrane_bits=16"], "24-bit membranes"),
                       (["--set", "core.weight_bits=4"], "6-bit weights")):
        r = _sc("run", "--model", m, "--chip", "meta15m", *args, "--input", tmp_path / "x.npy", "-o", tmp_path / "o")
        assert r.returncode == 1 and what in r.stderr and "at most" in r.stderr, r.stderr
        assert "--set core." in r.stderr and not (tmp_path / "o" / "report.json").exists()
        r = _sc("map", "--model", m, "--chip", "meta15m", *args, "-o", tmp_path / "map.json")
        assert r.returncode == 1 and what in r.stderr, r.stderr
    r = _sc("run", "--model", m, "--chip", "meta15m", "--set", "core.membrane_bits=20", "--input", tmp_path / "x.npy")
    assert r.returncode != 0 and "core.membrane_bits" in r.stderr


def test_precision_record_is_checked_on_load(tmp_path):
    src = os.path.join(REPO, "models", "fmnist")
    for prec, msg in (({"weight_bits": 4, "membrane_bits": 32}, "does not fit 4 bits"),
                      ({"weight_bits": 12, "membrane_bits": 32}, "precision.weight_bits: 12 is not supported"),
                      ({"weight_bits": 8, "membrane_bits": 20}, "precision.membrane_bits: 20 is not supported"),
                      ({"weight_bits": 8, "bits": 3}, "unknown key in precision")):
        d = tmp_path / "m"
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(src, d)
        g = json.load(open(d / "graph.json"))
        g["precision"] = prec
        json.dump(g, open(d / "graph.json", "w"))
        r = _sc("infer", "--model", d, "--input", os.path.join(src, "sample.npy"))
        assert r.returncode == 1 and msg in r.stderr, r.stderr
        assert "graph.json" in r.stderr or "weights.safetensors" in r.stderr


def test_defaults_write_no_precision_entry(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    subprocess.run([EXPORT, CKPT, "-o", str(a), "--input-size", "32"], check=True, capture_output=True)
    subprocess.run([EXPORT, CKPT, "-o", str(b), "--input-size", "32", "--weight-bits", "8", "--membrane-bits", "32"],
                   check=True, capture_output=True)
    assert "precision" not in json.load(open(a / "graph.json"))
    for f in ("graph.json", "weights.safetensors"):
        assert (a / f).read_bytes().replace(b'"a"', b'"b"') == (b / f).read_bytes()
