"""Precision as a parameter (issue 16 item 1): models exported at weight widths 4/6/8/12/16 (and
per-layer widths) and membrane widths 16/24/32 run bit for bit the same in the PyTorch integer
reference (intref), the C++ golden executor and the chip, saturations counted alike, for every
weight width x membrane width (all 15 pairs) on a small official-layout model and on the shipped
Fashion-MNIST model; SRAM bytes and weight reads follow
the width (docs/semantics.md "What the widths cost"); a model wider than the chip is refused at map
time; graph.json's precision is checked on load."""
import json
import os
import shutil
import subprocess

import numpy as np
import pytest

from conftest import OFFICIAL, REPO, run_spikechip as _sc, spikechip_binary
from spikechip_py import export, intref, safetensors

EXPORT = os.path.join(REPO, "scripts", "spikechip-export")
CKPT = os.path.join(OFFICIAL, "official_small_kd0.pth")
# Every weight width x every membrane width (docs/semantics.md), and one per-layer mix.
CROSS = [(wb, mb) for wb in (4, 6, 8, 12, 16) for mb in (16, 24, 32)]
WIDTHS = CROSS + ["mixed"]
# Per-layer widths: 4-bit blocks, a 16-bit encoder, a 12-bit head (spikechip-export --layer-weight-bits).
MIXED = (4, 24, [("downsample1_1.encode_conv", 16), ("head*", 12)])


def export_args(w):
    if w == "mixed":
        wb, mb, layers = MIXED
        return ["--weight-bits", str(wb), "--membrane-bits", str(mb)] + sum(
            (["--layer-weight-bits", f"{p}={b}"] for p, b in layers), [])
    return ["--weight-bits", str(w[0]), "--membrane-bits", str(w[1])]


def widths_of(w):
    """(widest weight bits, membrane bits) of a WIDTHS entry: what the chip must take."""
    return (16, MIXED[1]) if w == "mixed" else w




@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("prec")
    out = {}
    for w in WIDTHS:
        m = d / (w if w == "mixed" else f"w{w[0]}m{w[1]}")
        if w in ("mixed", (4, 16)):      # the command line's flags; the rest in process (no torch start-up each)
            subprocess.run([EXPORT, CKPT, "-o", str(m), "--input-size", "32", *export_args(w)],
                           check=True, capture_output=True)
        else:
            export.export(CKPT, str(m), img_size=(32, 32), weight_bits=w[0], membrane_bits=w[1])
        out[w] = str(m)
    return out


def check_widths(m, w):
    """graph.json's precision and per-layer entries, the stored dtypes and the value ranges."""
    g = json.load(open(os.path.join(m, "graph.json")))
    wb, mb = (MIXED[0], MIXED[1]) if w == "mixed" else w
    assert g.get("precision", {"weight_bits": 8, "membrane_bits": 32}) == {"weight_bits": wb, "membrane_bits": mb}
    assert ("precision" in g) == ((wb, mb) != (8, 32))       # the defaults are written as before
    t = safetensors.read(os.path.join(m, "weights.safetensors"))
    per_layer = {n["name"]: n.get("weight_bits", wb) for n in g["nodes"] if n["op"] in ("Conv2d", "Linear")}
    if w == "mixed":
        assert per_layer["downsample1_1.encode_conv"] == 16 and per_layer["head"] == 12
        assert sorted(set(per_layer.values())) == [4, 12, 16]
    widest = {}
    for name, b in per_layer.items():
        v = t[name + ".weight"]
        assert v.dtype == (np.int8 if b <= 8 else np.int16), name
        widest[b] = max(widest.get(b, 0), int(np.abs(v).max()))
    # Every width is used in full by some layer, and none goes beyond (layers sharing a residual
    # stream's scale may use less).
    if w == "mixed":     # the 16-bit encoder shares its residual stream's scale with 4-bit convs
        assert all(v <= 2 ** (b - 1) - 1 for b, v in widest.items()) and widest[4] == 7 and widest[16] > 127
    else:
        assert widest == {b: 2 ** (b - 1) - 1 for b in widest}
    return mb


@pytest.mark.parametrize("w", WIDTHS, ids=str)
def test_golden_equals_intref_at_every_width(models, tmp_path, ref_npz, w):
    m = models[w]
    mb = check_widths(m, w)
    t = safetensors.read(os.path.join(m, "weights.safetensors"))
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
    if w == (8, 16):
        assert ref["saturations"] > 0, "8-bit weights on 16-bit membranes saturate on this model (the test's point)"
    acc = np.array([i["output_acc"] for i in report["inputs"]])
    assert np.array_equal(acc, ref["acc"].numpy())


@pytest.mark.parametrize("w", WIDTHS, ids=str)
def test_chip_equals_golden_at_every_width(models, tmp_path, ref_npz, w):
    m = models[w]
    wb, mb = widths_of(w)
    np.save(tmp_path / "x.npy", ref_npz["input_u8"][:1])
    r = _sc("run", "--model", m, "--chip", "meta15m", "--set", f"core.weight_bits={wb}", "--set",
            f"core.membrane_bits={mb}", "--input", tmp_path / "x.npy", "-T", 2, "-o", tmp_path / "run")
    assert r.returncode == 0, r.stderr
    assert "verified bit-exact against golden" in r.stdout
    rep = json.load(open(tmp_path / "run" / "report.json"))
    assert rep["run"]["verified"] is True
    assert rep["chip"]["config"]["core"].get("membrane_bits", 32) == mb   # written only when set


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
                      ({"weight_bits": 10, "membrane_bits": 32}, "precision.weight_bits: 10 is not supported"),
                      ({"weight_bits": 16, "membrane_bits": 32}, "dtype I8, expected I16"),
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


def test_sixteen_bit_membranes_add_at_the_sixteen_bit_price(models, tmp_path, ref_npz):
    """The same 4 / 16 model on a chip with 16-bit membranes and on one with 32-bit ones (same
    32-bit words, so the same SRAM energy): every accumulate moves from adds32 to adds16, and the
    adders' energy is the count times the table's add_16bit (0.05 pJ) instead of add_32bit (0.1)."""
    np.save(tmp_path / "x.npy", ref_npz["input_u8"][:1])
    reps = {}
    for mb in (16, 32):
        r = _sc("run", "--model", models[(4, 16)], "--chip", "meta15m", "--set", f"core.membrane_bits={mb}",
                "--set", "core.membrane_word_bits=32", "--input", tmp_path / "x.npy", "-T", 2, "-o", tmp_path / str(mb))
        assert r.returncode == 0, r.stderr
        reps[mb] = json.load(open(tmp_path / str(mb) / "report.json"))
    ev16, ev32 = reps[16]["events"], reps[32]["events"]
    assert ev16["adds32"] == 0 and ev32["adds16"] == 0 and ev16["adds16"] == ev32["adds32"] > 0
    e16, e32 = (reps[mb]["energy_by_component_pJ"] for mb in (16, 32))
    assert abs(e16["adders"] - 0.05 * ev16["adds16"]) < 1e-6 * e16["adders"]
    assert abs(e32["adders"] - 0.1 * ev32["adds32"]) < 1e-6 * e32["adders"]
    assert all(abs(e16[k] - e32[k]) <= 1e-9 * max(1.0, abs(e32[k])) for k in e32 if k not in ("adders", "total"))


# ------------------------------------------------------------------ the shipped model at every width
FMNIST = os.path.join(REPO, "models", "fmnist")
# The whole cross (8 / 32 is the shipped model itself): each pair costs ~1 s (an in-process export,
# intref and golden on the 8 sample images, a chip run on the tiny preset).
SHIPPED_WIDTHS = [w for w in CROSS if w != (8, 32)]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    d = tmp_path_factory.mktemp("fmnist")
    out = {}
    for wb, mb in SHIPPED_WIDTHS + [(8, 32)]:
        m = d / f"w{wb}m{mb}"
        if (wb, mb) == (8, 32):           # the command line, as the shipped model was made
            subprocess.run([EXPORT, os.path.join(FMNIST, "checkpoint.pth"), "-o", str(m), "--name", "fmnist-tiny",
                            "--weight-bits", str(wb), "--membrane-bits", str(mb)], check=True, capture_output=True)
        else:
            export.export(os.path.join(FMNIST, "checkpoint.pth"), str(m), name="fmnist-tiny", weight_bits=wb,
                          membrane_bits=mb)
        out[(wb, mb)] = str(m)
    return out


def test_shipped_model_reexports_byte_identical_at_8_32(shipped):
    for f in ("graph.json", "weights.safetensors"):
        assert open(os.path.join(shipped[(8, 32)], f), "rb").read() == open(os.path.join(FMNIST, f), "rb").read(), f


@pytest.mark.parametrize("wb,mb", SHIPPED_WIDTHS + [(8, 32)])
def test_shipped_model_golden_intref_chip_bit_for_bit(shipped, tmp_path, wb, mb):
    """The 8 sample test images: intref == golden (every spike, saturations, accumulators) and the
    chip run verified bit-exact against golden on a chip declaring the widths."""
    m = FMNIST if (wb, mb) == (8, 32) else shipped[(wb, mb)]
    u8 = np.load(os.path.join(FMNIST, "sample.npy"))
    ref = intref.run(intref.load_model(m), u8, T=1)
    dump, rep = tmp_path / "s.safetensors", tmp_path / "r.json"
    r = _sc("infer", "--model", m, "--input", os.path.join(FMNIST, "sample.npy"), "--dump-spikes", dump,
            "--dump-inputs", "all", "-o", rep)
    assert r.returncode == 0, r.stderr
    cpp = safetensors.read(str(dump))
    assert set(ref["spikes"]) <= set(cpp)
    for name, sp in ref["spikes"].items():
        assert int((cpp[name].transpose(1, 0, 2, 3, 4) != sp).sum()) == 0, f"{name}: spikes differ"
    report = json.load(open(rep))
    assert report["summary"]["saturations"] == ref["saturations"]
    assert np.array_equal(np.array([i["output_acc"] for i in report["inputs"]]), ref["acc"].numpy())
    r = _sc("run", "--model", m, "--chip", "tiny", "--set", f"core.weight_bits={wb}", "--set",
            f"core.membrane_bits={mb}", "--input", os.path.join(FMNIST, "sample.npy"), "-o", tmp_path / "run")
    assert r.returncode == 0, r.stderr
    run = json.load(open(tmp_path / "run" / "report.json"))
    assert run["run"]["verified"] is True and "verified bit-exact against golden" in r.stdout
    assert [i["prediction"] for i in run["inputs"]] == [i["prediction"] for i in report["inputs"]]


def test_range_calibration_keeps_wide_weights_off_the_membrane_limit(shipped, tmp_path):
    """16-bit weights on 24-bit membranes: scales from the weights alone put the encoder's values
    beyond 2^23 (saturations, accuracy lost); --calibration coarsens the scales so the calibration
    images' float activations fit: the integer model then runs them without a saturation, stays
    bit-exact golden == intref == chip, and agrees with the float model on the samples."""
    from spikechip_py import data
    imgs = data.load("train")[0][:64]
    np.save(tmp_path / "calib.npy", imgs)
    m = tmp_path / "c16m24"
    subprocess.run([EXPORT, os.path.join(FMNIST, "checkpoint.pth"), "-o", str(m), "--weight-bits", "16",
                    "--membrane-bits", "24", "--calibration", str(tmp_path / "calib.npy")], check=True, capture_output=True)
    assert "64 images of calib.npy" in json.load(open(m / "graph.json"))["provenance"]["quantisation"]["calibration"]
    plain = intref.run(intref.load_model(shipped[(16, 24)]), imgs, T=1, record=False)
    cal = intref.run(intref.load_model(str(m)), imgs, T=1, record=False)
    assert plain["saturations"] > 1000 and cal["saturations"] == 0, (plain["saturations"], cal["saturations"])
    float8 = intref.predict(intref.run(intref.load_model(FMNIST), imgs, T=1, record=False)["acc"])
    assert (intref.predict(cal["acc"]) == float8).mean() > (intref.predict(plain["acc"]) == float8).mean()
    np.save(tmp_path / "x.npy", imgs[:4])
    r = _sc("run", "--model", m, "--chip", "tiny", "--set", "core.weight_bits=16", "--set", "core.membrane_bits=24",
            "--input", tmp_path / "x.npy", "-o", tmp_path / "run")
    assert r.returncode == 0 and "verified bit-exact against golden" in r.stdout, r.stderr
    rep = json.load(open(tmp_path / "run" / "report.json"))
    assert [i["prediction"] for i in rep["inputs"]] == list(intref.predict(cal["acc"][:4]))


# ------------------------------------------------------------------ what the widths cost
def hand_param_bytes(graph, tensors, node):
    """docs/semantics.md "What the widths cost", from graph.json and the tensors alone."""
    prec = graph.get("precision", {})
    mbytes = prec.get("membrane_bits", 32) // 8
    if node["op"] in ("Conv2d", "Linear"):
        b = node.get("weight_bits", prec.get("weight_bits", 8))
        fan_in = int(np.prod(tensors[node["name"] + ".weight"].shape[1:]))
        return -(-fan_in * b // 8) + mbytes + 1
    return mbytes if node["op"] == "LIF" else 0


@pytest.mark.parametrize("w", [(4, 16), (12, 24), "mixed"], ids=str)
def test_sram_bytes_follow_the_widths(models, tmp_path, w):
    m = models[w]
    wb, mb = widths_of(w)
    g = json.load(open(os.path.join(m, "graph.json")))
    t = safetensors.read(os.path.join(m, "weights.safetensors"))
    by_name = {n["name"]: n for n in g["nodes"]}
    r = _sc("map", "--model", m, "--chip", "meta15m", "--set", f"core.weight_bits={wb}", "--set",
            f"core.membrane_bits={mb}", "-o", tmp_path / "map.json")
    assert r.returncode == 0, r.stderr
    mp = json.load(open(tmp_path / "map.json"))
    assert mp["clusters"]
    for c in mp["clusters"]:
        names = [by_name[n] if isinstance(n, str) else g["nodes"][n] for n in c["nodes"]]
        assert c["weight_bytes_per_channel"] == sum(hand_param_bytes(g, t, n) for n in names), c
        assert c["membrane_bytes_per_neuron"] % (mb // 8) == 0


def test_narrower_weights_need_fewer_weight_reads_and_less_energy(models, tmp_path, ref_npz):
    """The 4-bit model relabelled as 8-bit (same integers, so the same spikes and SOPs): packed
    4-bit weights take half the weight SRAM per channel and at most the 8-bit model's reads, at
    least half of them (runs of k weights: ceil(k/16) vs ceil(k/8) 64-bit words)."""
    four = models[(4, 16)]
    eight = tmp_path / "as8"
    shutil.copytree(four, eight)
    g = json.load(open(eight / "graph.json"))
    g["precision"]["weight_bits"] = 8
    json.dump(g, open(eight / "graph.json", "w"))
    np.save(tmp_path / "x.npy", ref_npz["input_u8"][:1])
    reps = {}
    for name, m in (("4", four), ("8", eight)):
        r = _sc("run", "--model", m, "--chip", "meta15m", "--set", "core.membrane_bits=16", "--input",
                tmp_path / "x.npy", "-T", 2, "-o", tmp_path / name)
        assert r.returncode == 0, r.stderr
        reps[name] = json.load(open(tmp_path / name / "report.json"))
    s4, s8 = reps["4"]["summary"], reps["8"]["summary"]
    assert s4["sops"] == s8["sops"] and s4["spikes"] == s8["spikes"]
    reads = {k: sum(e["count"] for e in v["events"]["weight_reads"]) for k, v in reps.items()}
    assert reads["8"] / 2 <= reads["4"] < reads["8"], reads
    # Same chip, same word: the weight-SRAM energy is reads x one access's energy.
    e = {k: v["energy_by_component_pJ"]["weight_sram"] for k, v in reps.items()}
    assert abs(e["4"] / e["8"] - reads["4"] / reads["8"]) < 1e-9, (e, reads)


def test_sixteen_bit_model_on_an_eight_bit_chip_is_refused(models, tmp_path, ref_npz):
    np.save(tmp_path / "x.npy", ref_npz["input_u8"][:1])
    for w, what in (((16, 32), "16-bit weights"), ("mixed", "16-bit weights")):
        r = _sc("run", "--model", models[w], "--chip", "meta15m", "--input", tmp_path / "x.npy", "-o", tmp_path / "o")
        assert r.returncode == 1 and what in r.stderr and "core.weight_bits" in r.stderr, r.stderr
        assert not (tmp_path / "o" / "report.json").exists()
    for sets, key in ((["core.weight_bits=16", "core.weight_word_bits=8"], "/core/weight_bits"),
                      (["core.weight_bits=10"], "/core/weight_bits"),
                      (["core.membrane_word_bits=16"], "/core/membrane_word_bits")):
        r = _sc("map", "--model", models[(4, 16)], "--chip", "meta15m", *sum((["--set", x] for x in sets), []),
                "-o", tmp_path / "m.json")
        assert r.returncode != 0 and key in r.stderr, r.stderr


# ------------------------------------------------------------------ the exploration command
def test_precision_sweep_writes_its_pareto_page(tmp_path):
    out = tmp_path / "ps"
    r = subprocess.run([os.path.join(REPO, "scripts", "precision-sweep"), "-o", str(out), "--weight-bits", "4,16",
                        "--membrane-bits", "24", "--limit", "200", "-j", "2", "--spikechip", spikechip_binary()],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    sw = json.load(open(out / "precision.json"))
    assert len(sw["points"]) == 2 and "top1_error_pct" in sw["metrics"]
    for p in sw["points"]:
        assert p["status"] == "ok" and p["metrics"]["verified"] is True
        wb = p["params"]["core.weight_bits"]
        ev = json.load(open(out / "eval" / f"w{wb}m24.json"))
        assert ev["eval"]["count"] == 200
        assert abs(p["metrics"]["top1_error_pct"] - 100 * (1 - ev["eval"]["correct"] / 200)) < 1e-9
        assert p["params"]["core.weight_sram_bytes"] == 131072 * wb // 8
    html = open(out / "pareto.html").read()
    assert "top1_error_pct" in html and "Top-1 error vs" in html
    assert (out / "precision.md").read_text().count("\n") == 4
