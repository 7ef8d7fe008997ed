"""Inputs as users have them (issue 16 item 5), through the spikechip binary: PNG / JPEG with the
official evaluation transform checked byte for byte against PIL, normalised float .npy back to the
u8 pixels of the official reference, .npz members, a directory with a labels file, --dump-spikes
for several inputs, and one clear error for each kind of bad file."""
import json
import os
import subprocess

import numpy as np
import pytest

from conftest import OFFICIAL, REPO, run_spikechip as _sc
from spikechip_py import safetensors

PIL = pytest.importorskip("PIL.Image")
FMNIST = os.path.join(REPO, "models", "fmnist")
EXPORT = os.path.join(REPO, "scripts", "spikechip-export")




def _seen(model, inp, tmp_path, *extra):
    """The u8 input tensors the model saw ([N, F, C, H, W]) and the stdout."""
    dump = tmp_path / "seen.safetensors"
    r = _sc("infer", "--model", model, "--input", inp, "--dump-spikes", dump, "--dump-inputs", "all", *extra)
    assert r.returncode == 0, r.stderr
    t = safetensors.read(str(dump))
    return t["input"], r.stdout


@pytest.fixture(scope="module")
def rgb_model(tmp_path_factory):
    """A synthetic 3-channel 32x32 model (spikechip model build)."""
    d = tmp_path_factory.mktemp("rgb") / "m"
    r = _sc("model", "build", "--dims", "16,32,32,32", "--blocks", "1,1", "--input", "32", "--channels", "3",
            "--classes", "10", "-o", d)
    assert r.returncode == 0, r.stderr
    return str(d)


@pytest.fixture(scope="module")
def official_small(tmp_path_factory):
    """The official reference model exported at 32x32 (provenance.normalize = ImageNet)."""
    d = tmp_path_factory.mktemp("official") / "m"
    ck = os.path.join(OFFICIAL, "official_small_kd0.pth")
    subprocess.run([EXPORT, ck, "-o", str(d), "--input-size", "32"], check=True, capture_output=True)
    return str(d)


def _pil_eval(img, mode, S):
    """The official evaluation transform done with PIL itself (torchvision's Resize(int(S/0.875),
    BICUBIC) + CenterCrop(S) formulas), in the mode the model takes."""
    img = img.convert(mode)
    if img.size != (S, S):
        size = int(S / (224 / 256)) if S <= 224 else S
        w, h = img.size
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = size, int(size * long / short)
        nw, nh = (new_short, new_long) if w <= h else (new_long, new_short)
        img = img.resize((nw, nh), PIL.BICUBIC)
        top, left = int(round((nh - S) / 2.0)), int(round((nw - S) / 2.0))
        img = img.crop((left, top, left + S, top + S))
    a = np.asarray(img, dtype=np.uint8)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def _images(tmp_path):
    rng = np.random.default_rng(16)
    smooth = lambda h, w, c: np.clip(  # noqa: E731  (photo-like: JPEG of noise is all artefacts)
        np.cumsum(rng.integers(-12, 13, size=(h, w, c)), axis=1) + 128, 0, 255).astype(np.uint8)
    files = {}
    im = PIL.fromarray(smooth(37, 45, 3), "RGB")
    im.save(tmp_path / "rgb.png"), files.update({"rgb.png": im})
    im = PIL.fromarray(smooth(61, 50, 1)[:, :, 0], "L")
    im.save(tmp_path / "grey.png"), files.update({"grey.png": im})
    im = PIL.fromarray(smooth(40, 40, 3), "RGB").quantize(37)
    im.save(tmp_path / "palette.png"), files.update({"palette.png": im})
    im = PIL.fromarray(np.dstack([smooth(33, 31, 3), rng.integers(0, 256, (33, 31, 1), np.uint8)]), "RGBA")
    im.save(tmp_path / "rgba.png"), files.update({"rgba.png": im})
    im = PIL.fromarray(smooth(30, 36, 3), "RGB")
    im.save(tmp_path / "interlaced.png", interlace=1)
    files["interlaced.png"] = im
    im = PIL.fromarray(smooth(32, 32, 3), "RGB")
    im.save(tmp_path / "same.png"), files.update({"same.png": im})
    for name, arr, kw in (("rgb.jpg", smooth(40, 53, 3), {"quality": 90}),
                          ("grey.jpeg", smooth(29, 29, 1)[:, :, 0], {"quality": 75}),
                          ("prog.jpg", smooth(50, 40, 3), {"quality": 85, "progressive": True}),
                          ("sub.jpg", smooth(48, 64, 3), {"quality": 80, "subsampling": 2})):
        PIL.fromarray(arr).save(tmp_path / name, **kw)
        files[name] = PIL.open(tmp_path / name)   # what PIL decodes
    return files


@pytest.mark.parametrize("model_kind", ["rgb", "fmnist"])
def test_png_and_jpeg_equal_pil(tmp_path, rgb_model, model_kind):
    files = _images(tmp_path)
    model, mode, S = (rgb_model, "RGB", 32) if model_kind == "rgb" else (FMNIST, "L", 28)
    seen, out = _seen(model, tmp_path, tmp_path)
    names = sorted(files)
    assert seen.shape == (len(names), 1, 3 if mode == "RGB" else 1, S, S)
    for k, name in enumerate(names):
        want = _pil_eval(files[name], mode, S)
        diff = int((seen[k, 0] != want).sum())
        assert diff == 0, f"{name}: {diff} of {want.size} values differ from PIL"
    # --image-transform eval applies it to an image of the model's size as well (resize 32 -> 36, crop 32)
    seen, _ = _seen(rgb_model, tmp_path / "same.png", tmp_path, "--image-transform", "eval")
    img = files["same.png"].resize((36, 36), PIL.BICUBIC).crop((2, 2, 34, 34))
    assert np.array_equal(seen[0, 0], np.asarray(img).transpose(2, 0, 1))
    r = _sc("infer", "--model", rgb_model, "--input", tmp_path / "rgb.png", "--image-transform", "none")
    assert r.returncode == 1 and "rgb.png: image is 45x37 but the model's input is 32x32" in r.stderr


def test_png_and_jpeg_through_infer_and_run(tmp_path):
    img = np.load(os.path.join(FMNIST, "sample.npy"))[0, 0]          # a Fashion-MNIST test image
    label = json.load(open(os.path.join(FMNIST, "sample.json")))["labels"][0]
    PIL.fromarray(img, "L").save(tmp_path / "x.png")
    PIL.fromarray(img, "L").save(tmp_path / "x.jpg", quality=95)
    npy = tmp_path / "x.npy"
    np.save(npy, img)
    ref = _sc("infer", "--model", FMNIST, "--input", npy)
    assert ref.returncode == 0, ref.stderr
    pred = ref.stdout.split("prediction ")[1].split(",")[0]
    png = _sc("infer", "--model", FMNIST, "--input", tmp_path / "x.png")
    assert png.returncode == 0 and f"prediction {pred}," in png.stdout   # lossless: the same input
    same = lambda out: out.splitlines()[0].split(":", 1)[1].rsplit(",", 1)[0]  # noqa: E731  (all but the time)
    assert same(png.stdout) == same(ref.stdout)
    jpg = _sc("infer", "--model", FMNIST, "--input", tmp_path / "x.jpg")
    assert jpg.returncode == 0 and "prediction" in jpg.stdout, jpg.stderr
    for f in ("x.png", "x.jpg"):
        r = _sc("run", "--model", FMNIST, "--chip", "tiny", "--input", tmp_path / f, "-o", tmp_path / ("run-" + f))
        assert r.returncode == 0 and "verified bit-exact against golden" in r.stdout, r.stderr
        rep = json.load(open(tmp_path / ("run-" + f) / "report.json"))
        assert rep["status"] == "complete" and rep["run"]["verified"] is True
        assert rep["inputs"][0]["origin"].endswith(f)
    assert int(pred) == label


def test_float_npy_and_npz_of_the_official_inputs(tmp_path, official_small, ref_npz):
    """The official normalised float inputs convert back to exactly their u8 images."""
    x, u8 = ref_npz["input"], ref_npz["input_u8"]
    assert x.dtype == np.float32 and x.shape == (4, 3, 32, 32)
    np.save(tmp_path / "x32.npy", x)
    np.save(tmp_path / "x64.npy", x.astype(np.float64))
    for f in ("x32.npy", "x64.npy"):
        seen, _ = _seen(official_small, tmp_path / f, tmp_path)
        assert np.array_equal(seen[:, 0], u8), f
    labels = np.array([3, 1, 4, 1], np.int64)
    np.savez(tmp_path / "a.npz", images=x, labels=labels, other=np.zeros(3))
    np.savez_compressed(tmp_path / "c.npz", images=u8, labels=labels)
    for f in ("a.npz:images", "c.npz:images"):
        seen, out = _seen(official_small, f"{tmp_path}/{f}", tmp_path)
        assert np.array_equal(seen[:, 0], u8), f
        assert "[2]: prediction" in out and "(label 4)" in out, out
    np.savez(tmp_path / "one.npz", u8[0])
    seen, out = _seen(official_small, tmp_path / "one.npz", tmp_path)
    assert np.array_equal(seen[0, 0], u8[0])
    r = _sc("infer", "--model", official_small, "--input", tmp_path / "a.npz")
    assert r.returncode == 1 and "holds 3 arrays (images, labels, other): name one, as" in r.stderr
    r = _sc("infer", "--model", official_small, "--input", f"{tmp_path}/a.npz:nope")
    assert r.returncode == 1 and "no array 'nope'" in r.stderr and "images, labels, other" in r.stderr
    bad = x.copy()
    bad[1, 2, 3, 4] = 40.0
    np.save(tmp_path / "range.npy", bad)
    r = _sc("infer", "--model", official_small, "--input", tmp_path / "range.npy")
    assert r.returncode == 1 and "range.npy: 1 of 12288 values do not map to a u8 pixel" in r.stderr
    assert "provenance.normalize" in r.stderr
    np.save(tmp_path / "nan.npy", np.full((3, 32, 32), np.nan, np.float32))
    r = _sc("infer", "--model", official_small, "--input", tmp_path / "nan.npy")
    assert r.returncode == 1 and "3072 of 3072 values" in r.stderr


def test_directory_with_labels_file(tmp_path):
    d = tmp_path / "imgs"
    d.mkdir()
    x = np.load(os.path.join(FMNIST, "sample.npy"))[:3, 0]
    labels = json.load(open(os.path.join(FMNIST, "sample.json")))["labels"][:3]
    for i in range(3):
        PIL.fromarray(x[i], "L").save(d / f"img{i}.png")
    (d / "labels.txt").write_text("# file label\n" + "".join(f"img{i}.png {labels[i]}\n" for i in range(3)))
    r = _sc("infer", "--model", FMNIST, "--input", d)
    assert r.returncode == 0, r.stderr
    for i in range(3):
        assert f"img{i}.png: prediction" in r.stdout and f"(label {labels[i]})" in r.stdout
    other = tmp_path / "l.csv"
    other.write_text("img0.png,7\nimg1.png, 8\nimg2.png\t9\n")
    r = _sc("infer", "--model", FMNIST, "--input", d, "--labels", other, "-o", tmp_path / "r.json")
    assert r.returncode == 0, r.stderr
    assert [i["label"] for i in json.load(open(tmp_path / "r.json"))["inputs"]] == [7, 8, 9]
    for text, msg in (("img0.png 1\nimg1.png 2\n", "has no label for"),
                      ("img0.png 1\nimg1.png 2\nimg2.png 3\nimg9.png 4\n", "labels 'img9.png', which is not an input"),
                      ("img0.png one\n", "l.csv:1: expected '<file name> <class index>'"),
                      ("img0.png 1\nimg0.png 2\n", "l.csv:2: 'img0.png' is labelled twice")):
        other.write_text(text)
        r = _sc("infer", "--model", FMNIST, "--input", d, "--labels", other)
        assert r.returncode == 1 and msg in r.stderr, (text, r.stderr)


def test_dump_spikes_of_several_inputs(tmp_path):
    npy = os.path.join(FMNIST, "sample.npy")
    one = tmp_path / "one.safetensors"
    assert _sc("infer", "--model", FMNIST, "--input", npy, "--dump-spikes", one).returncode == 0
    first = safetensors.read(str(one))
    assert "input" not in first and first["head_lif" if "head_lif" in first else "lif"].ndim == 4
    sel = tmp_path / "sel.safetensors"
    r = _sc("infer", "--model", FMNIST, "--input", npy, "--dump-spikes", sel, "--dump-inputs", "5,0")
    assert r.returncode == 0, r.stderr
    t = safetensors.read(str(sel))
    x = np.load(npy)
    assert np.array_equal(t["input"][:, 0], x[[0, 5]])
    for name, s in first.items():
        assert t[name].shape == (2,) + s.shape and np.array_equal(t[name][0], s), name
    r = _sc("infer", "--model", FMNIST, "--input", npy, "--dump-spikes", sel, "--dump-inputs", "8")
    assert r.returncode == 2 and "input 8 does not exist (8 inputs, indices 0..7)" in r.stderr
    r = _sc("infer", "--model", FMNIST, "--input", npy, "--dump-inputs", "all")
    assert r.returncode == 2 and "--dump-inputs needs --dump-spikes" in r.stderr


def test_bad_image_and_archive_files_give_one_clear_error(tmp_path):
    PIL.fromarray(np.zeros((20, 20), np.uint8), "L").save(tmp_path / "ok.png")
    PIL.fromarray(np.zeros((20, 20, 3), np.uint8), "RGB").save(tmp_path / "ok.jpg")
    png, jpg = (tmp_path / "ok.png").read_bytes(), (tmp_path / "ok.jpg").read_bytes()
    np.savez_compressed(tmp_path / "ok.npz", a=np.zeros((1, 28, 28), np.uint8))
    npz = (tmp_path / "ok.npz").read_bytes()
    cmyk = tmp_path / "cmyk.jpg"
    PIL.fromarray(np.zeros((8, 8, 4), np.uint8), "CMYK").save(cmyk)
    cases = {
        "trunc.png": (png[:len(png) // 2], "not a readable PNG image"),
        "garbage.png": (b"\x89PNG\r\n\x1a\nnonsense" * 3, "not a readable PNG image"),
        "empty.jpg": (b"", "not a readable JPEG image"),
        "trunc.jpg": (jpg[:len(jpg) - 40], "truncated file"),
        "text.jpeg": (b"hello, not a jpeg", "not a readable JPEG image"),
        "trunc.npz": (npz[:len(npz) // 2], "not a readable .npz archive"),
        "flip.npz": (npz[:60] + bytes([npz[60] ^ 0xFF]) + npz[61:], "not a readable .npz archive"),
        "huge.png": (None, "above the limit of"),
    }
    big = PIL.new("L", (9000, 8000))   # 72 M pixels > the 67 M limit; a few KB compressed
    big.save(tmp_path / "huge.png", optimize=False)
    for name, (data, msg) in cases.items():
        if data is not None:
            (tmp_path / name).write_bytes(data)
        r = _sc("infer", "--model", FMNIST, "--input", tmp_path / name, "-o", tmp_path / "r.json")
        assert r.returncode == 1, (name, r.stdout, r.stderr)
        assert name in r.stderr and msg in r.stderr, (name, r.stderr)
        assert "internal error" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert not (tmp_path / "r.json").exists()
    r = _sc("infer", "--model", FMNIST, "--input", cmyk)
    assert r.returncode == 1 and "a CMYK JPEG; convert it to RGB" in r.stderr
    r = _sc("infer", "--model", os.path.join(REPO, "models", "fmnist-events"), "--input", tmp_path / "ok.png")
    assert r.returncode == 1 and "the model takes events" in r.stderr
