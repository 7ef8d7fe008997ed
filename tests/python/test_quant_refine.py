"""Quantisation refinements (issue 16 item 2, spikechip-export --refine; spikechip_py/quant_refine.py):
each moves integer biases or thresholds only, so refined models stay golden == intref == chip bit
for bit; each does what it claims, checked by a path independent of the exporter's (a float
convolution of a constant image, the float model's own membranes, the integer model's own
accumulators); together they narrow the integer-vs-float gap of the shipped model."""
import json
import os
import subprocess

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import REPO, run_spikechip as _sc
from spikechip_py import agreement, data, export, intref, safetensors

EXPORT = os.path.join(REPO, "scripts", "spikechip-export")
FMNIST = os.path.join(REPO, "models", "fmnist")
CKPT = os.path.join(FMNIST, "checkpoint.pth")
ALL = ("zero-point", "bias", "thresholds")


@pytest.fixture(scope="module")
def calib():
    return data.load("train")[0][:128]


@pytest.fixture(scope="module")
def refined(tmp_path_factory, calib):
    """The shipped checkpoint exported plain and with each refinement, at 8 / 32."""
    d = tmp_path_factory.mktemp("refine")
    out = {}
    for key in ((), ("zero-point",), ("bias",), ("thresholds",), ALL):
        m = d / ("plain" if not key else "+".join(key))
        _, fg, ig, meta = export.export(CKPT, str(m), name="fmnist-tiny", calibration=("train128", calib)
                                        if "bias" in key else None, refine=key)
        out[key] = (str(m), fg, ig, meta)
    return out


def node(g, name):
    return next(n for n in g.nodes if n["name"] == name)


def test_plain_export_is_the_shipped_model(refined):
    for f in ("graph.json", "weights.safetensors"):
        assert open(os.path.join(refined[()][0], f), "rb").read() == open(os.path.join(FMNIST, f), "rb").read(), f
    assert "refinements" not in refined[()][3]["provenance"]["quantisation"]
    assert "zero-point residual" in refined[ALL][3]["provenance"]["quantisation"]["refinements"]


def test_zero_point_residual_is_the_border_weighted_offset(refined):
    """The first conv's integer bias moves by the float conv of a constant image of the residual
    (zero-padded like the model), averaged over output positions, in membrane units; no other
    tensor changes."""
    _, fg, plain, meta = refined[()]
    ig = refined[("zero-point",)][2]
    first = "downsample1_1.encode_conv"
    mean = meta["provenance"]["normalize"]["mean"]
    r = fg.tensors["input.zero_point"].double() - 255 * torch.tensor(mean, dtype=torch.double)
    a = node(fg, first)["attrs"]
    img = r.view(1, -1, 1, 1) * torch.ones(1, *fg.nodes[0]["shape"], dtype=torch.double)
    shift = F.conv2d(img, fg.tensors[first + ".weight"], stride=a["stride"], padding=a["padding"]).mean(dim=(0, 2, 3))
    s = torch.tensor(node(plain, first)["quant"]["out_scale"], dtype=torch.double)
    want = torch.round((fg.tensors[first + ".bias"] + shift) / s).to(torch.int32)
    assert torch.equal(ig.tensors[first + ".bias"], want)
    assert not torch.equal(want, plain.tensors[first + ".bias"])       # the residual is not nothing here
    assert [k for k in ig.tensors if not torch.equal(ig.tensors[k], plain.tensors[k])] == [first + ".bias"]


def test_bias_correction_centres_every_conv_on_the_float_mean(refined, calib):
    """Each conv's integer output (its own accumulators, read from a forced integer run), minus
    the float conv's output on the same float inputs, averages to within half a step per channel
    on the calibration images; without the correction some channels are further off."""
    _, fg, plain, _ = refined[()]
    corr = refined[("bias",)][2]
    f = intref.run(fg, calib, T=1, mode="float")
    worst = {}
    for key, ig in (("plain", plain), ("bias", corr)):
        worst[key] = 0.0
        for n in (n for n in ig.nodes if n["op"] in ("Conv2d", "Linear")):
            src = n["inputs"][0]
            x = (torch.from_numpy(calib).double() - fg.tensors["input.zero_point"].double().view(1, -1, 1, 1)
                 if src == "input" else torch.from_numpy(f["spikes"][src][0]).double())
            fn = node(fg, n["name"])
            want = _apply(fn, x, fg.tensors[n["name"] + ".weight"], fg.tensors[n["name"] + ".bias"])
            w = ig.tensors[n["name"] + ".weight"].double().reshape(fg.tensors[n["name"] + ".weight"].shape)
            sh = 2.0 ** ig.tensors[n["name"] + ".shift"].double()
            got = _apply(fn, x, w * sh.view(-1, *[1] * (w.dim() - 1)), ig.tensors[n["name"] + ".bias"].double())
            s = torch.tensor(n["quant"]["out_scale"], dtype=torch.double)
            off = ((got - want / s.view(1, -1, 1, 1)).mean(dim=(0, 2, 3))).abs().max()
            worst[key] = max(worst[key], float(off))
    assert worst["bias"] <= 0.5 + 1e-6, worst
    assert worst["plain"] > 1.0, worst


def _apply(n, x, w, b):
    if n["op"] == "Linear":
        return (x.reshape(x.shape[0], -1) @ w.reshape(w.shape[0], -1).t() + b).reshape(x.shape[0], -1, 1, 1)
    a = n["attrs"]
    return F.conv2d(x, w, stride=a["stride"], padding=a["padding"]) + b.view(1, -1, 1, 1)


def test_thresholds_fire_where_the_float_lif_fires(refined):
    """A LIF fed by its own conv: at T = 1 it fires when conv accumulator (before the bias) A
    satisfies A + bias >= 2 theta_int; with exact thresholds that is A >= (2 theta - b) / s, the
    float LIF's condition for the same weights, for every channel. On the teacher-forced runs of
    64 test images, every layer agrees with the float model at least as well as before."""
    _, fg, plain, _ = refined[()]
    ig = refined[("thresholds",)][2]
    own = 0
    for n in ig.nodes:
        if n["op"] != "LIF":
            continue
        src = node(ig, n["inputs"][0])
        readers = [m["name"] for m in ig.nodes if src["name"] in m["inputs"]]
        if src["op"] != "Conv2d" or readers != [n["name"]]:      # a residual stream: has an Add reader
            continue
        s = torch.tensor(src["quant"]["out_scale"], dtype=torch.double)
        bound = torch.ceil((2 * fg.tensors[n["name"] + ".threshold"] - fg.tensors[src["name"] + ".bias"]) / s - 1e-9)
        got = 2 * ig.tensors[n["name"] + ".threshold"].double() - ig.tensors[src["name"] + ".bias"].double()
        assert torch.equal(got, bound), n["name"]
        own += 1
    assert own >= 10          # pwconv1, conv1, q/k/v_conv, fc1_conv of every block
    x = data.load("test")[0][:64]
    a = agreement.agreement(fg, plain, x, 1)
    b = agreement.agreement(fg, ig, x, 1)
    for la, lb in zip(a["layers"], b["layers"]):
        assert lb["teacher_forced"] >= la["teacher_forced"] - 1e-3, la["name"]
    assert b["teacher_forced"] > a["teacher_forced"] and b["end_to_end"] > a["end_to_end"]


@pytest.mark.parametrize("wb,mb", [(8, 32), (4, 16), (16, 24)])
def test_refined_models_golden_intref_chip_bit_for_bit(tmp_path, calib, wb, mb):
    """All refinements (from the command line), calibrated: intref == golden on the 8 sample
    images (every spike, accumulators, saturations) and the chip verified against golden."""
    np.save(tmp_path / "calib.npy", calib)
    m = tmp_path / "m"
    r = subprocess.run([EXPORT, CKPT, "-o", str(m), "--weight-bits", str(wb), "--membrane-bits", str(mb),
                        "--calibration", str(tmp_path / "calib.npy"), "--refine", "all"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    q = json.load(open(m / "graph.json"))["provenance"]["quantisation"]
    assert "bias correction" in q["refinements"] and "exact thresholds" in q["refinements"]
    sample = os.path.join(FMNIST, "sample.npy")
    ref = intref.run(intref.load_model(str(m)), np.load(sample), T=1)
    r = _sc("infer", "--model", m, "--input", sample, "--dump-spikes", tmp_path / "s.safetensors",
            "--dump-inputs", "all", "-o", tmp_path / "r.json")
    assert r.returncode == 0, r.stderr
    cpp = safetensors.read(str(tmp_path / "s.safetensors"))
    for name, sp in ref["spikes"].items():
        assert int((cpp[name].transpose(1, 0, 2, 3, 4) != sp).sum()) == 0, name
    rep = json.load(open(tmp_path / "r.json"))
    assert rep["summary"]["saturations"] == ref["saturations"]
    assert np.array_equal(np.array([i["output_acc"] for i in rep["inputs"]]), ref["acc"].numpy())
    r = _sc("run", "--model", m, "--chip", "tiny", "--set", f"core.weight_bits={wb}", "--set",
            f"core.membrane_bits={mb}", "--input", sample, "-o", tmp_path / "run")
    assert r.returncode == 0 and "verified bit-exact against golden" in r.stdout, r.stderr


def test_refine_flag_errors(tmp_path):
    for args, msg in ((["--refine", "bias"], "--refine bias needs --calibration"),
                      (["--refine", "zero-point,rounding"], "unknown rounding")):
        r = subprocess.run([EXPORT, CKPT, "-o", str(tmp_path / "m"), *args], capture_output=True, text=True)
        assert r.returncode == 2 and msg in r.stderr, r.stderr
        assert not (tmp_path / "m").exists()
