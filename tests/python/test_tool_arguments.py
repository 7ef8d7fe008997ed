"""The Python tools (scripts/*, the examples) on arguments and inputs they cannot take: one line
naming the option or file and what to do, exit 2 (a usage error) or 1 (an input), no traceback and
no output (session 37). Before, each case below either printed a traceback (`--batch 0`,
`--heads 3`, `--index 10000`, an events model in spike-agreement, `-o` under /proc, a --replot
file of another kind), ran on silently with a wrong result (`--limit -5` took all but the last
five images; `eval_fashion_mnist --sample -2` wrote "images 0..-3" into the model's sample.json;
a trace written under an .npz name) or wrote a corrupt model and exited 0 (`spikechip-export
--std 0`: Infinity in graph.json; a checkpoint with a NaN weight: some finite integer)."""
import argparse
import os
import subprocess

import numpy as np
import pytest

from conftest import REPO
from spikechip_py import cli

S = os.path.join(REPO, "scripts")
CKPT = os.path.join(REPO, "models", "fmnist", "checkpoint.pth")
SAMPLE = os.path.join(REPO, "models", "fmnist", "sample.npy")


def run(tmp_path, *args):
    return subprocess.run([str(a) for a in args], cwd=tmp_path, capture_output=True, text=True, timeout=300)


CASES = [  # (tool, arguments, exit code, part of the message); {t} is the test's directory
    ("make_fmnist_events", ["--index", "10000", "-o", "a.evt"], 2, "the test set has 10000 images (0..9999)"),
    ("make_fmnist_events", ["-o", "a.npz"], 2, "a trace is written as .evt"),
    ("make_fmnist_events", ["--frames", "2", "--limit", "-5", "-o", "f.npz"], 2, "argument --limit: must be >= 0, got -5"),
    ("make_fmnist_events", ["-o", "/proc/spikechip-no-such/a.evt"], 2, "nothing is made under /dev or /proc"),
    ("make_fmnist_events", ["-o", "e" * 252 + ".evt"], 2, "a name in it is 256 bytes long, more than the 255"),
    ("eval_fashion_mnist", ["--model", "{t}/none"], 1, "none/checkpoint.pth: not a PyTorch checkpoint"),
    ("eval_fashion_mnist", ["--limit", "5", "--sample", "6"], 2, "--sample 6: more than the 5 images evaluated"),
    ("eval_fashion_mnist", ["--batch", "0"], 2, "argument --batch: must be >= 1, got 0"),
    ("spike-agreement", [CKPT, os.path.join(REPO, "models", "fmnist-events"), "--input", SAMPLE], 1,
     "an events model; spike-agreement compares image models"),
    ("spike-agreement", [CKPT, os.path.join(REPO, "models", "fmnist"), "--input", "{t}/f32.npy"], 1,
     "float32 [2, 1, 28, 28]; the model takes uint8 images [N, 1, 28, 28]"),
    ("precision-sweep", ["-o", "{t}/f32.npy"], 2, "is a file, not a directory"),
    ("precision-sweep", ["-o", "{t}/" + "p" * 256 + "/sub"], 2, "a name in it is 256 bytes long"),
    ("precision-sweep", ["-o", "{t}/p", "--inputs", "{t}/none.npy"], 2, "--inputs {t}/none.npy: no such file"),
    ("spikechip-export", [CKPT, "-o", "{t}/x", "--std", "0"], 2, "argument --std: must be a finite number > 0, got 0"),
    ("spikechip-export", [CKPT, "-o", "{t}/x", "-T", "100000"], 2, "must be 1..65536, got 100000"),
    ("spikechip-export", [CKPT, "-o", "{t}/x", "--heads", "3"], 1, "give --heads n dividing the attention widths 64 and 64"),
    ("spikechip-export", ["{t}/nan.pth", "-o", "{t}/x"], 1, "1 tensor(s) hold NaN or infinite values"),
    ("train_fashion_mnist", ["--out", "{t}/x", "--heads", "3"], 2, "--heads 3 does not divide the attention widths"),
    ("train_fashion_mnist", ["--out", "{t}/x", "--train-limit", "10"], 2, "--batch 64 is more than the 10 training images"),
    ("examples/energy_aware_training", ["--refresh", "0"], 2, "argument --refresh: must be >= 1, got 0"),
    ("examples/energy_aware_training", ["--replot", "{t}/f32.npy"], 1, "f32.npy"),
    ("examples/energy_aware_training", ["--plot", "/proc/spikechip-no-such.png"], 2, "nothing is made under /dev or /proc"),
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    t = tmp_path_factory.mktemp("inputs")
    np.save(t / "f32.npy", np.zeros((2, 1, 28, 28), np.float32))
    import torch
    ckpt = torch.load(CKPT, weights_only=False)
    w = ckpt["model"]["ConvBlock1_1.0.Conv.pwconv2.weight"]
    w[0, 0, 0, 0] = float("nan")
    torch.save(ckpt, t / "nan.pth")
    return t


@pytest.mark.parametrize("tool,args,code,message", CASES, ids=[f"{c[0]}:{' '.join(c[1][-2:])}" for c in CASES])
def test_a_bad_argument_is_one_line(tmp_path, inputs, tool, args, code, message):
    args = [a.replace("{t}", str(inputs)) for a in args]
    before = sorted(os.listdir(inputs))
    r = run(tmp_path, "/usr/bin/python3", os.path.join(S, tool), *args)
    assert r.returncode == code, (r.returncode, r.stderr[-800:])
    assert message.replace("{t}", str(inputs)) in r.stderr, r.stderr[-800:]
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    assert os.listdir(tmp_path) == [] and sorted(os.listdir(inputs)) == before  # nothing written


@pytest.mark.parametrize("variable", ["SPIKECHIP_FMNIST_DIR", "FMNIST_DIR"])
def test_a_missing_dataset_is_one_line(tmp_path, variable):
    # The binary reads $SPIKECHIP_FMNIST_DIR, the Python tools read only $FMNIST_DIR, and a missing
    # or damaged dataset was a traceback of gzip.open. Both names now; one line, exit 1.
    env = {k: v for k, v in os.environ.items() if k not in ("SPIKECHIP_FMNIST_DIR", "FMNIST_DIR")}
    for tool, args in (("make_fmnist_events", ["-o", "a.evt"]), ("eval_fashion_mnist", ["--limit", "5", "--sample", "0"])):
        r = subprocess.run(["/usr/bin/python3", os.path.join(S, tool), *args], cwd=tmp_path, capture_output=True,
                           text=True, timeout=300, env={**env, variable: str(tmp_path / "none")})
        assert r.returncode == 1 and r.stderr == (f"{tool}: {tmp_path}/none/t10k-images-idx3-ubyte.gz: cannot open "
                                                  "(install dataset-fashion-mnist or set SPIKECHIP_FMNIST_DIR)\n"), r.stderr
    (tmp_path / "none").mkdir()
    (tmp_path / "none" / "t10k-images-idx3-ubyte.gz").write_bytes(b"not gzip")
    r = subprocess.run(["/usr/bin/python3", os.path.join(S, "make_fmnist_events"), "-o", "a.evt"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300, env={**env, variable: str(tmp_path / "none")})
    assert r.returncode == 1 and "cannot read (Not a gzipped file" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert sorted(os.listdir(tmp_path)) == ["none"]


def test_the_fmnist_energy_example_takes_one_to_eight_inputs(tmp_path):
    r = run(tmp_path, "/usr/bin/python3", os.path.join(REPO, "examples", "python", "fmnist_energy.py"), "--inputs", "9")
    assert r.returncode == 2 and "holds 8 images (1..8)" in r.stderr, r.stderr


def test_the_argument_types(tmp_path):
    with pytest.raises(argparse.ArgumentTypeError, match="must be 1..64, got 65"):
        cli.int_range(1, 64)("65")
    with pytest.raises(argparse.ArgumentTypeError, match="expected an integer, got 'x'"):
        cli.int_range(0)("x")
    assert cli.int_range(0)("0") == 0 and cli.float_range(positive=True)("0.5") == 0.5
    for bad in ("nan", "inf", "-1e400"):
        with pytest.raises(argparse.ArgumentTypeError, match="finite"):
            cli.float_range()(bad)
    assert cli.int_list(4)("16,32,64,64") == [16, 32, 64, 64]
    with pytest.raises(argparse.ArgumentTypeError):
        cli.int_list(5)("2,2,2,2")
    f = tmp_path / "file"
    f.write_text("x")
    for typ, path, msg in ((cli.output_dir, f, "is a file, not a directory"),
                           (cli.output_file, tmp_path, "is a directory"),
                           (cli.output_file, f / "sub" / "x.json", "is a file, not a directory"),
                           (cli.output_file, "/dev/spikechip-no-such", "no such device")):
        with pytest.raises(argparse.ArgumentTypeError, match=msg):
            typ(str(path))
    assert cli.output_file("/dev/null") == "/dev/null" and cli.output_dir(str(tmp_path / "new" / "dir"))
    # Names up to the file system's 255 bytes pass; longer names, or a path over PATH_MAX, do not (session 38).
    assert cli.output_file(str(tmp_path / ("n" * 255))) and cli.output_dir(str(tmp_path / ("d" * 255) / "x"))
    for typ, path, msg in ((cli.output_file, tmp_path / ("n" * 256), "256 bytes long"),
                           (cli.output_dir, tmp_path / ("d" * 300) / "x", "300 bytes long"),
                           (cli.output_dir, "/".join([str(tmp_path)] + ["p" * 200] * 21), "the path is")):
        with pytest.raises(argparse.ArgumentTypeError, match=msg):
            typ(str(path))
