"""The in-process Python API (`import spikechip`, docs/python.md) against the command line: every
call, its bad inputs (the same one-line messages as `spikechip`, as spikechip.Error subclasses),
and a run equal field for field to `spikechip run` on the same inputs."""
import contextlib
import fcntl
import json
import os
import resource
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

import spikechip
from conftest import REPO

BINARY = os.environ.get("SPIKECHIP_BINARY", os.path.join(REPO, "build", "spikechip"))
MODEL = "models/fmnist"
CHIP = "arch/presets/tiny.json"
SAMPLE = "models/fmnist/sample.npy"
# Report fields that measure the machine, not the chip.
RUN_TIME_FIELDS = ("wall_s", "chip_wall_s", "golden_wall_s", "cycles_per_wall_s", "sops_per_wall_s")


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch):
    monkeypatch.chdir(REPO)  # the CLI and the API see the same relative paths


def cli(*args, ok=True):
    p = subprocess.run([BINARY, *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if ok:
        assert p.returncode == 0, p.stderr
    return p


def cli_error(*args):
    """The one-line message `spikechip` prints for a failing command (exit code 1)."""
    p = cli(*args, ok=False)
    assert p.returncode == 1, (p.returncode, p.stderr)
    line = p.stderr.strip().splitlines()[-1]
    assert line.startswith("spikechip: error: "), line
    return line[len("spikechip: error: "):]


def raises(cls, fn):
    with pytest.raises(cls) as e:
        fn()
    assert isinstance(e.value, spikechip.Error)
    return str(e.value)


@pytest.fixture(scope="module")
def model():
    return spikechip.Model.load(MODEL)


@pytest.fixture(scope="module")
def chip():
    return spikechip.Chip.load(CHIP)


@pytest.fixture(scope="module")
def cli_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    cli("run", "--model", MODEL, "--chip", CHIP, "--input", SAMPLE, "-o", str(out), "-q")
    with open(out / "report.json") as f:
        return json.load(f), str(out / "report.json")


@pytest.fixture(scope="module")
def py_report(model, chip):
    return spikechip.run(model, chip, SAMPLE, spikes=True)


def without_run_time(r):
    r = json.loads(json.dumps(r))
    for k in RUN_TIME_FIELDS:
        r["run"].pop(k)
    return r


# ------------------------------------------------------------------------------------ package
def test_package_is_documented_and_typed():
    assert spikechip.__version__ == cli("--version").stdout.split()[-1]
    for f in (spikechip.run, spikechip.infer, spikechip.map, spikechip.sweep, spikechip.Model.load,
              spikechip.Model.from_torch, spikechip.Chip.load, spikechip.Chip.set, spikechip.Report.reprice):
        assert f.__doc__ and len(f.__doc__) > 40, f
        assert "return" in f.__annotations__, f
    assert os.path.exists(os.path.join(os.path.dirname(spikechip.__file__), "py.typed"))
    for name in ("UsageError", "ModelError", "ChipConfigError", "InputError", "MappingError",
                 "SimulationError", "VerificationError", "SweepError", "CosimError"):
        assert issubclass(getattr(spikechip, name), spikechip.Error)
    assert issubclass(spikechip.VerificationError, spikechip.SimulationError)


# -------------------------------------------------------------------------------------- model
def test_model_load_and_info(model):
    assert (model.name, model.timesteps, model.input_shape, model.encoding) == ("fmnist-tiny", 1, (1, 28, 28), "image")
    assert model.info() == json.loads(cli("model", "info", MODEL, "--json").stdout)


def test_model_missing_and_invalid(tmp_path):
    msg = raises(spikechip.ModelError, lambda: spikechip.Model.load("no/such/model"))
    assert msg == cli_error("model", "info", "no/such/model")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "graph.json").write_text("{\"nodes\": 3}")
    (bad / "weights.safetensors").write_bytes(b"")
    msg = raises(spikechip.ModelError, lambda: spikechip.Model.load(bad))
    assert msg == cli_error("model", "info", str(bad))


def test_model_from_torch_checkpoint_equals_shipped(model):
    pytest.importorskip("torch")
    m = spikechip.Model.from_torch(os.path.join(MODEL, "checkpoint.pth"), timesteps=1)
    x = np.load(SAMPLE)
    a, b = spikechip.infer(model, x, spikes=True), spikechip.infer(m, x, spikes=True)
    assert np.array_equal(a["output_acc"], b["output_acc"])
    for k in a["spikes"]:
        assert np.array_equal(a["spikes"][k], b["spikes"][k]), k
    msg = raises(spikechip.ModelError, lambda: spikechip.Model.from_torch("no/such.pth"))
    assert "no/such.pth" in msg


def test_model_from_torch_module_like(model):
    torch = pytest.importorskip("torch")
    from spikechip._bridge import exporter
    export = exporter()
    sd, _ = export.load_checkpoint(os.path.join(MODEL, "checkpoint.pth"))
    module, _ = export.build_checked(sd, "checkpoint", 8, (28, 28), 1)
    module.train()
    m = spikechip.Model.from_torch(module, like=model)
    assert module.training  # left as it was
    x = np.load(SAMPLE)
    assert np.array_equal(spikechip.infer(m, x)["output_acc"], spikechip.infer(model, x)["output_acc"])
    assert m.name == model.name
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(0.5)
    m2 = spikechip.Model.from_torch(module, like=model)
    assert not np.array_equal(spikechip.infer(m2, x)["output_acc"], spikechip.infer(model, x)["output_acc"])
    raises(spikechip.UsageError, lambda: spikechip.Model.from_torch(module))


# --------------------------------------------------------------------------------------- chip
def test_chip_load_by_name_set_and_dict(chip):
    assert spikechip.Chip.load("tiny").to_dict() == chip.to_dict()
    c = chip.set("core.adder_lanes", 32)
    assert c["core.adder_lanes"] == 32 and chip["core.adder_lanes"] == 16  # immutable
    assert spikechip.Chip.load("tiny", core__adder_lanes=32).to_dict() == c.to_dict()
    assert spikechip.Chip.from_dict(c.to_dict()).to_dict() == c.to_dict()
    assert spikechip.Chip.from_dict({"name": "x", "mesh": {"width": 2, "height": 3}})["mesh.height"] == 3


def test_chip_errors_are_the_files_errors(tmp_path):
    d = json.load(open(CHIP))
    d["core"]["adder_lanez"] = 32
    bad = tmp_path / "chip.json"
    bad.write_text(json.dumps(d))
    want = cli_error("map", "--model", MODEL, "--chip", str(bad), "-o", str(tmp_path / "m.json"))
    assert raises(spikechip.ChipConfigError, lambda: spikechip.Chip.load(bad)) == want
    msg = raises(spikechip.ChipConfigError, lambda: spikechip.Chip.load(CHIP).set("core.adder_lanez", 32))
    assert msg == want.replace(str(bad), CHIP)
    d["core"].pop("adder_lanez")
    d["core"]["adder_lanes"] = -4
    bad.write_text(json.dumps(d))
    want = cli_error("map", "--model", MODEL, "--chip", str(bad), "-o", str(tmp_path / "m.json"))
    assert raises(spikechip.ChipConfigError, lambda: spikechip.Chip.load(CHIP).set("core.adder_lanes", -4)) == \
        want.replace(str(bad), CHIP)
    missing = cli_error("map", "--model", MODEL, "--chip", "no/chip.json", "-o", str(tmp_path / "m.json"))
    assert raises(spikechip.ChipConfigError, lambda: spikechip.Chip.load("no/chip.json")) == missing
    assert "presets: " in raises(spikechip.ChipConfigError, lambda: spikechip.Chip.load("nosuchpreset"))


# ---------------------------------------------------------------------------------------- map
def test_map_equals_cli_and_is_inspectable(model, chip, tmp_path):
    cli("map", "--model", MODEL, "--chip", CHIP, "-o", str(tmp_path / "m.json"), "--placement", "snake")
    m = spikechip.map(model, chip, placement="snake")
    assert m.to_dict() == json.load(open(tmp_path / "m.json"))
    g = m.groups
    n = len(g["id"])
    assert n == m.summary["groups"] and g["core"].shape == (n, 2)
    assert set(m.placement) == set(g["id"].tolist())
    assert all(0 <= x < m.mesh[0] and 0 <= y < m.mesh[1] for x, y in m.placement.values())
    assert m.routes[0]["kind"] == "pixel"
    ll = m.link_loads
    assert ll["from"].shape[1] == 2 and (ll["load"] > 0).all()
    assert ll["load"].max() == pytest.approx(m.summary["max_link_load"])
    m.save(tmp_path / "again.json")
    assert spikechip.Mapping.load(tmp_path / "again.json").to_dict() == m.to_dict()
    # measured rates from inputs, as --rates-from-inputs
    cli("map", "--model", MODEL, "--chip", CHIP, "-o", str(tmp_path / "r.json"), "--rates-from-inputs", SAMPLE)
    assert spikechip.map(model, chip, rates_from_inputs=np.load(SAMPLE)).to_dict() == json.load(open(tmp_path / "r.json"))


def test_map_at_timesteps_equals_cli_and_a_mismatch_names_t(model, chip, tmp_path):
    # spikechip.map(T=) is `spikechip map -T` (session 33 gave the CLI its -T); a run at other
    # timesteps than its mapping's names both and the remedies.
    cli("map", "--model", MODEL, "--chip", CHIP, "-T", "2", "-o", str(tmp_path / "t2.json"))
    m2 = spikechip.map(model, chip, T=2)
    assert m2.to_dict() == json.load(open(tmp_path / "t2.json"))
    assert m2.to_dict()["model"]["hash"] != spikechip.map(model, chip).to_dict()["model"]["hash"]
    x = np.load(SAMPLE)[:1]
    assert spikechip.run(model, chip, x, mapping=m2, T=2).summary["latency_cycles"] > 0
    msg = raises(spikechip.MappingError, lambda: spikechip.run(model, chip, x, mapping=m2))
    assert "made for this model at T = 2 and this run has T = 1" in msg, msg
    assert "spikechip.map(..., T=1)" in msg and "or run at T = 2" in msg, msg


def test_map_model_that_does_not_fit(model, tmp_path):
    d = json.load(open(CHIP))
    d["mesh"] = {"width": 2, "height": 2}
    d["tech"]["energy_table"] = "arch/energy/45nm.json"  # found in the source tree
    small = tmp_path / "small.json"
    small.write_text(json.dumps(d))
    want = cli_error("map", "--model", MODEL, "--chip", str(small), "-o", str(tmp_path / "m.json"))
    c = spikechip.Chip.load(small)
    assert raises(spikechip.MappingError, lambda: spikechip.map(model, c)) == want
    assert raises(spikechip.MappingError, lambda: spikechip.run(model, c, SAMPLE)) == want
    raises(spikechip.UsageError, lambda: spikechip.map(model, c, chips=0))
    # time-multiplexed, cut by --phases min-dram / min-time: the same file as the command line
    for phases in ("min-dram", "min-time"):
        cli("map", "--model", MODEL, "--chip", str(small), "--time-multiplex", "--phases", phases,
            "-o", str(tmp_path / "tm.json"))
        tm = spikechip.map(model, c, time_multiplex=True, phases=phases)
        assert tm.to_dict() == json.load(open(tmp_path / "tm.json"))
        assert tm.to_dict()["options"]["phases"] == phases and len(tm.summary["phase_table"]) >= 2
    msg = raises(spikechip.UsageError, lambda: spikechip.map(model, c, time_multiplex=True, phases="fewest"))
    assert "greedy" in msg and "min-dram" in msg and "min-time" in msg


# -------------------------------------------------------------------------------------- infer
def test_infer_equals_cli(model, tmp_path):
    cli("infer", "--model", MODEL, "--input", SAMPLE, "-o", str(tmp_path / "i.json"))
    want = json.load(open(tmp_path / "i.json"))
    r = spikechip.infer(model, SAMPLE)
    assert r["report"] == want
    x = np.load(SAMPLE)
    ra = spikechip.infer(model, x, spikes=True)
    assert ra["predictions"].tolist() == r["predictions"].tolist() == [i["prediction"] for i in want["inputs"]]
    assert ra["output_acc"].shape == (8, 10)
    s = ra["spikes"]["ConvBlock1_1.0.lif1"]
    assert s.dtype == np.uint8 and s.shape[:2] == (8, 1)
    # one image [H, W] and a non-contiguous view give the same results
    assert spikechip.infer(model, x[3, 0])["predictions"].tolist() == [r["predictions"][3]]
    assert spikechip.infer(model, x[::2])["predictions"].tolist() == r["predictions"][::2].tolist()


def test_bad_inputs_raise_the_cli_messages(model, chip, tmp_path):
    wrong = np.zeros((2, 3, 28, 28), np.uint8)
    np.save(tmp_path / "wrong.npy", wrong)
    want = cli_error("infer", "--model", MODEL, "--input", str(tmp_path / "wrong.npy"))
    assert raises(spikechip.InputError, lambda: spikechip.infer(model, wrong)) == want.replace(str(tmp_path / "wrong.npy"), "inputs")
    assert raises(spikechip.InputError, lambda: spikechip.run(model, chip, wrong)) == want.replace(str(tmp_path / "wrong.npy"), "inputs")
    assert isinstance(pytest.raises(ValueError, spikechip.infer, model, wrong).value, spikechip.InputError)
    want = cli_error("infer", "--model", MODEL, "--input", "no/such.npy")
    assert raises(spikechip.InputError, lambda: spikechip.infer(model, "no/such.npy")) == want
    assert raises(spikechip.InputError, lambda: spikechip.run(model, chip, "no/such.npy")) == want
    np.save(tmp_path / "i.npy", np.zeros((1, 28, 28), np.int32))
    want = cli_error("infer", "--model", MODEL, "--input", str(tmp_path / "i.npy"))
    assert "uint8" in raises(spikechip.InputError, lambda: spikechip.infer(model, np.zeros((1, 28, 28), np.int32)))
    assert "uint8" in want
    # normalised float images are converted as the CLI does (docs/model-format.md "Inputs")
    np.save(tmp_path / "f.npy", np.full((1, 28, 28), 40.0, np.float32))
    want = cli_error("infer", "--model", MODEL, "--input", str(tmp_path / "f.npy"))
    got = raises(spikechip.InputError, lambda: spikechip.infer(model, np.full((1, 28, 28), 40.0, np.float32)))
    assert "784 of 784 values do not map to a u8 pixel" in got and "784 of 784 values" in want
    raises(spikechip.InputError, lambda: spikechip.infer(model, [1, 2, 3]))
    raises(spikechip.UsageError, lambda: spikechip.run(model, chip, SAMPLE, T=99))
    raises(spikechip.UsageError, lambda: spikechip.infer(model, SAMPLE, labels=[1]))


def test_bad_map_and_chip_arguments_are_usage_errors(model, chip):
    # Session 37: seed=-1 was a TypeError of the binding ("incompatible function arguments"), seed=1.5
    # was taken as 1, rates=0.2 a TypeError ("'float' object is not iterable"), rate_samples=0 made a
    # mapping from no sample (the CLI's --rate-samples is 1..1000000), and chip.set(key, nan) reached
    # the strict reader as a JSON parse error.
    for kw in ({"seed": -1}, {"seed": 1.5}, {"seed": True}, {"rates": 0.2}, {"rate_samples": 0},
               {"rate_samples": -1, "rates_from_inputs": SAMPLE}):
        raises(spikechip.UsageError, lambda: spikechip.map(model, chip, **kw))
    assert "is not a JSON value" in raises(spikechip.UsageError, lambda: chip.set("core.adder_lanes", float("nan")))
    assert "is not a JSON value" in raises(spikechip.UsageError, lambda: chip.set("core.adder_lanes", object()))
    assert spikechip.map(model, chip, seed=np.int64(1)).summary == spikechip.map(model, chip, seed=1).summary


# ---------------------------------------------------------------------------------------- run
def test_run_equals_cli_field_for_field(cli_report, py_report):
    want, _ = cli_report
    assert without_run_time(py_report.data) == without_run_time(want)
    assert py_report.verified and py_report.status == "complete"


def test_run_from_array_and_mapping(model, chip, cli_report, tmp_path):
    want, _ = cli_report
    x = np.load(SAMPLE)
    m = spikechip.map(model, chip, rates_from_inputs=x)
    r = spikechip.run(model, chip, x, mapping=m, labels=list(range(8)))
    got = without_run_time(r.data)
    w = without_run_time(want)
    for d in (got, w):
        d["tool"].pop("command")
        for i in d["inputs"]:
            i.pop("origin"), i.pop("label")
    assert got == w
    assert r.inputs["label"].tolist() == list(range(8))
    other = spikechip.map(model, chip.set("core.adder_lanes", 8))
    raises(spikechip.MappingError, lambda: spikechip.run(model, chip, x, mapping=other))
    raises(spikechip.UsageError, lambda: spikechip.run(model, chip, x, mapping=m, chips=2))


def test_report_tables_and_spikes(model, py_report):
    r = py_report
    L = r.layers
    assert len(L["name"]) == len(model.info()["nodes"]) and L["shape"].shape[1] == 3
    assert L["energy_pJ"].sum() == pytest.approx(r.summary["energy_pJ"], rel=1e-9)
    assert sum(r.energy_by_component.values()) == pytest.approx(r.summary["energy_pJ"], rel=1e-9)
    assert set(r.cores) >= {"id", "x", "y", "busy_cycles", "stall_cycles.waiting_input", "utilisation"}
    assert r.links["from"].shape[1] == 2 and r.links["flits"].sum() > 0
    assert r.predictions.tolist() == r.inputs["prediction"].tolist()
    golden = spikechip.infer(model, SAMPLE, spikes=True)["spikes"]
    for name in ("ConvBlock1_1.0.lif1", "block4.0.attn.attn_lif"):
        for i in (0, 7):
            s = r.spikes(name, i)
            assert s.dtype == np.uint8 and np.array_equal(s, golden[name][i])
    raises(spikechip.UsageError, lambda: r.spikes("output"))
    raises(spikechip.UsageError, lambda: r.spikes("ConvBlock1_1.0.lif1", 8))
    try:
        import pandas  # noqa: F401
    except ImportError:
        return
    df = r.to_pandas("layers")
    assert list(df["name"]) == list(L["name"]) and df["energy_pJ"].sum() == pytest.approx(r.summary["energy_pJ"])


@contextlib.contextmanager
def file_size_limit(n):
    """A disk that refuses files above n bytes, as a full one does (EFBIG; Python ignores SIGXFSZ)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (n, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_a_write_the_disk_refuses_is_a_write_error(py_report, tmp_path):
    # spikechip.WriteError, also an OSError, with the CLI's message; the report written there
    # before is still whole (its report.json was removed first before session 34); to_json(path)
    # writes whole or not at all (it opened the file in place).
    out = tmp_path / "r"
    py_report.write(out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert len(before["report.html"]) > 64 * 1024 and len(py_report.to_json()) > 64 * 1024
    with file_size_limit(64 * 1024):
        with pytest.raises(spikechip.WriteError) as e:
            py_report.write(out)
        with pytest.raises(spikechip.WriteError) as j:
            py_report.to_json(out / "report.json")
    assert isinstance(e.value, OSError) and isinstance(e.value, spikechip.Error)
    assert f"{out}/report.html: write failed (File too large)" in str(e.value), str(e.value)
    assert f"{out}/report.json: write failed (File too large)" in str(j.value), str(j.value)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_reprice_equals_spikechip_energy(model, py_report, cli_report, tmp_path):
    _, path = cli_report
    same = py_report.reprice(py_report.data["chip"]["energy_table"])
    for k in ("energy_pJ", "paper_energy_pJ", "energy_per_sop_pJ"):
        assert same.summary[k] == pytest.approx(py_report.summary[k], rel=1e-12)
    assert same.layers["energy_pJ"] == pytest.approx(py_report.layers["energy_pJ"], rel=1e-12)
    r28 = py_report.reprice("arch/energy/28nm.json")
    want = json.loads(cli("energy", "--report", path, "--table", "arch/energy/28nm.json").stdout)
    assert r28.summary["energy_pJ"] == pytest.approx(want["energy_pJ"], rel=1e-12)
    assert r28.energy_by_component == pytest.approx(want["components_pJ"], rel=1e-12)
    assert r28.summary["energy_pJ"] < py_report.summary["energy_pJ"]
    assert r28.layers["energy_pJ"].sum() == pytest.approx(r28.summary["energy_pJ"], rel=1e-9)
    assert r28.inputs["energy_pJ"].mean() == pytest.approx(r28.summary["energy_pJ"], rel=1e-9)
    from_file = spikechip.Report.load(path).reprice("arch/energy/28nm.json")
    assert from_file.summary["energy_pJ"] == pytest.approx(want["energy_pJ"], rel=1e-12)
    raises(spikechip.ChipConfigError, lambda: py_report.reprice("no/table.json"))
    out = py_report.write(tmp_path / "out")
    assert json.load(open(out)) == py_report.data and os.path.exists(tmp_path / "out" / "report.html")
    # Report.load reads as `spikechip report` does (session 21): a run directory stands for its
    # report.json; a golden report of `infer` is refused (it loaded as a Report before).
    assert spikechip.Report.load(tmp_path / "out").data == py_report.data
    golden = tmp_path / "golden.json"
    json.dump(spikechip.infer(model, SAMPLE)["report"], open(golden, "w"))
    assert "is not a run report" in raises(spikechip.Error, lambda: spikechip.Report.load(golden))
    assert "report.json: cannot open run report file" in raises(spikechip.Error, lambda: spikechip.Report.load(tmp_path))


def test_time_limit_gives_a_partial_report(model, chip):
    x = np.repeat(np.load(SAMPLE), 16, axis=0)  # ~0.3 s of chip simulation here: well past the limit
    r = spikechip.run(model, chip, x, time_limit=0.05)
    assert r.status == "partial" and r.data["partial_reason"] == "time limit" and not r.verified
    for bad in (-1.0, float("nan"), float("inf")):  # were taken as "no limit" (session 21)
        msg = raises(spikechip.UsageError, lambda: spikechip.run(model, chip, SAMPLE, time_limit=bad))
        assert "time_limit" in msg and ">= 0" in msg


def test_timestep_limit_of_a_run(chip, tmp_path):
    # A model whose own timesteps are above a run's 64: refused as by `spikechip run` (it was
    # simulated here); T=2 runs it, and the golden takes its own T (session 21).
    d = tmp_path / "m"
    d.mkdir()
    g = json.load(open(os.path.join(REPO, MODEL, "graph.json")))
    g["timesteps"] = 100
    json.dump(g, open(d / "graph.json", "w"))
    os.symlink(os.path.join(REPO, MODEL, "weights.safetensors"), d / "weights.safetensors")
    m = spikechip.Model.load(str(d))
    msg = raises(spikechip.UsageError, lambda: spikechip.run(m, chip, SAMPLE))
    assert "the model's timesteps 100 are more than a chip run takes (1..64)" in msg
    assert "T 65 is out of range 1..64" in raises(spikechip.UsageError, lambda: spikechip.run(m, chip, SAMPLE, T=65))
    assert spikechip.run(m, chip, SAMPLE, T=2).status == "complete"
    for bad in (0, -3, 1.5, True):  # T=0 and -3 were taken as "the model's", 1.5 as 1
        msg = raises(spikechip.UsageError, lambda: spikechip.run(m, chip, SAMPLE, T=bad))
        assert "T must be None (the model's) or a number of timesteps >= 1" in msg
    assert spikechip.infer(m, SAMPLE, T=np.int64(2))["report"]["run"]["timesteps"] == 2


def test_labels_are_class_indices(model, chip):
    # -5 was taken; 10**30 raised pybind11's RuntimeError (not a spikechip.Error); session 21.
    x = np.load(SAMPLE)[:1]
    assert "labels[0]: -5 is not a class index 0..1000000" in raises(
        spikechip.UsageError, lambda: spikechip.run(model, chip, x, labels=[-5]))
    assert "labels[0]: must be an integer class index" in raises(
        spikechip.UsageError, lambda: spikechip.infer(model, x, labels=[10**30]))
    assert spikechip.infer(model, x, labels=[3])["report"]["inputs"][0]["label"] == 3


# ------------------------------------------------------------------- GIL, Ctrl-C, progress
def test_gil_released_and_parallel_runs(model, chip, py_report):
    ticks = []
    results = {}

    def work(k):  # several runs each, so that both threads simulate for many ticks on a fast machine
        for _ in range(6):
            results[k] = spikechip.run(model, chip, SAMPLE)

    ts = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in ts:
        t.start()
    while any(t.is_alive() for t in ts):
        ticks.append(time.monotonic())
        time.sleep(0.01)
    assert len(ticks) > 5  # the main thread ran while both simulated (holding the GIL would give ~1)
    for k in range(2):
        assert without_run_time(results[k].data) == without_run_time(py_report.data)


def test_ctrl_c_stops_cleanly_and_progress(model, chip):
    # The interrupt is sent 0.2 s after the first progress report (not at a fixed time from the
    # start: on a fast machine a short run ends before any fixed delay). 512 inputs take seconds,
    # so an interrupt that is honoured ends the run long before it would finish on its own.
    seen = []
    x = np.repeat(np.load(SAMPLE), 64, axis=0)

    def on_progress(d):
        if not seen:
            threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        seen.append(d)

    # Python's own Ctrl-C handler, whatever this process inherited: a shell starts a background
    # job (`cmd &`) with SIGINT ignored, and Python then keeps it ignored (the run went to the end).
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        t0 = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            spikechip.run(model, chip, x, progress=on_progress)
        assert time.monotonic() - t0 < 5
    finally:
        signal.signal(signal.SIGINT, old)
    assert seen[-1]["input"] < len(x) - 1  # stopped early, not at the end
    assert seen and {"phase", "input", "inputs", "fraction", "cycle"} <= set(seen[0])

    def fail(d):
        if d["phase"] == "simulate":
            raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        spikechip.run(model, chip, x[:8], progress=fail)
    assert spikechip.run(model, chip, x[:1]).verified  # the interpreter goes on


# -------------------------------------------------------------------------------------- sweep
def test_sweep(tmp_path):
    spec = {"name": "lanes", "job": "run", "model": MODEL, "inputs": SAMPLE, "chip": CHIP,
            "grid": {"core.adder_lanes": [8, 16]}}
    res = spikechip.sweep(spec, jobs=2, out_dir=tmp_path / "s")
    assert len(res) == 2 and [p["status"] for p in res.points] == ["ok", "ok"]
    t = res.table
    assert t["params.core.adder_lanes"].tolist() == [8, 16] and (t["metrics.energy_pJ"] > 0).all()
    assert os.path.exists(tmp_path / "s" / "results.csv")
    msg = raises(spikechip.SweepError, lambda: spikechip.sweep({**spec, "grid": {"core.bogus": [1]}}, out_dir=tmp_path / "b"))
    assert "bogus" in msg
    # Run again where the disk refuses its outputs (a 64 KiB file-size limit, inherited by the
    # sweep's processes): WriteError, not the earlier sweep.json's results as if they were new.
    with open(tmp_path / "s" / "sweep.json", "rb") as f:
        earlier = f.read()
    with file_size_limit(64 * 1024):
        e = raises(spikechip.WriteError, lambda: spikechip.sweep(spec, out_dir=tmp_path / "s"))
    assert "write failed (File too large)" in e, e
    with open(tmp_path / "s" / "sweep.json", "rb") as f:
        assert f.read() == earlier
    # Another sweep holding the directory (its flock on .sweep.lock, as the CLI takes it): SweepError
    # naming it, not the earlier sweep.json's results as if they were new.
    with open(tmp_path / "s" / ".sweep.lock", "w") as lock:
        lock.write("12345\n")
        lock.flush()
        fcntl.flock(lock, fcntl.LOCK_EX)
        msg = raises(spikechip.SweepError, lambda: spikechip.sweep(spec, out_dir=tmp_path / "s"))
    assert msg == (f"{tmp_path / 's'}: another spikechip sweep (process 12345) is using this directory; wait for it "
                   "to end, or give another -o"), msg


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def _simulating(pid):
    """True once `pid` is `spikechip run` with its stop handlers in place (the chip has started)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if b"\0run\0" not in f.read():
                return False
        with open(f"/proc/{pid}/status") as f:
            cgt = next(int(ln.split()[1], 16) for ln in f if ln.startswith("SigCgt:"))
        return bool(cgt >> (signal.SIGTERM - 1) & 1)
    except (OSError, StopIteration):
        return False


def test_ctrl_c_stops_a_sweep_and_keeps_its_results(tmp_path):
    # Session 35: the sweep used to be killed with Python's KeyboardInterrupt (its points with it),
    # and a notebook's interrupt, sent to Python alone, left it running until then. Now Python passes
    # the interrupt on once: the point stops with a partial report, sweep.json holds the results so
    # far, KeyboardInterrupt propagates, and the same call finishes the sweep.
    x = np.repeat(np.load(SAMPLE), 1024 // len(np.load(SAMPLE)) + 1, axis=0)[:1024]
    np.save(tmp_path / "in.npy", x)
    spec = {"name": "stopped", "job": "run", "model": MODEL, "inputs": str(tmp_path / "in.npy"), "chip": CHIP,
            "grid": {"core.adder_lanes": [8, 16]}}
    out = tmp_path / "s"
    me = os.getpid()

    def interrupt_once_simulating():
        for _ in range(12000):
            if any(_simulating(pt) for sw in _children(me) for pt in _children(sw)):
                os.kill(me, signal.SIGINT)  # as a notebook's "interrupt the kernel"
                return
            time.sleep(0.005)

    old = signal.signal(signal.SIGINT, signal.default_int_handler)  # see test_ctrl_c_stops_cleanly_and_progress
    try:
        threading.Thread(target=interrupt_once_simulating, daemon=True).start()
        with pytest.raises(KeyboardInterrupt):
            spikechip.sweep(spec, jobs=1, out_dir=out)
    finally:
        signal.signal(signal.SIGINT, old)
    with open(out / "sweep.json") as f:
        sw = json.load(f)
    assert sw["status"] == "partial" and len(sw["points"]) == 1, sw
    assert sw["points"][0]["error"].startswith(
        "interrupted: the point's run stopped early (interrupted (SIGTERM), partial report)"), sw
    assert _children(me) == []  # nothing left running
    res = spikechip.sweep(spec, jobs=1, out_dir=out)
    assert res.data["status"] == "complete" and [p["status"] for p in res.points] == ["ok", "ok"]


# -------------------------------------------------------------------------------------- cosim
def test_cosim_client_both_import_paths():
    from spikechip.cosim import Client, CosimError, ServerError
    from spikechip_py.cosim_client import Client as OldClient
    assert OldClient is Client and issubclass(ServerError, CosimError) and issubclass(CosimError, spikechip.Error)
    assert spikechip.cosim.Client is Client


def test_in_process_equals_cosim_after_weight_update(model, chip):
    """The energy-aware training example's measurement both ways: update_weights_from + run
    mode=cycle over ZeroMQ, and Model.from_torch + spikechip.run in process."""
    torch = pytest.importorskip("torch")
    from spikechip._bridge import exporter
    from spikechip.cosim import Client
    export = exporter()
    sd, _ = export.load_checkpoint(os.path.join(MODEL, "checkpoint.pth"))
    module, _ = export.build_checked(sd, "checkpoint", 8, (28, 28), 1)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(1 + 0.05 * torch.randn_like(p))
    x = np.load(SAMPLE)
    p = subprocess.Popen([BINARY, "serve", "--bind", "tcp://127.0.0.1:*", "--workers", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ep = p.stdout.readline().split()[-1]
    try:
        with Client.connect(ep, timeout=120) as c:
            c.load_model(os.path.join(REPO, MODEL))
            c.set_chip(os.path.join(REPO, CHIP))
            c.update_weights_from(module)
            via = c.run(x, mode="cycle")
            c.shutdown()
    finally:
        p.wait(20)
    r = spikechip.run(spikechip.Model.from_torch(module, like=model), chip, x)
    assert via["verified"] and r.verified
    for k in ("summary", "layers", "cores", "links", "events"):
        assert via["report"][k] == r.data[k], k
    base = spikechip.run(model, chip, x)
    assert base.summary["energy_pJ"] != r.summary["energy_pJ"]  # the update changed something


def test_paths_that_are_not_utf8(tmp_path, cli_report):
    # A file name may hold any bytes; Python gives them as surrogates (os.fsdecode). Before session
    # 38, Model.load of such a directory was a pybind TypeError ("incompatible function arguments"),
    # a run's input path a RuntimeError, and Model.path / Report.load a UnicodeDecodeError.
    import shutil
    d = os.fsdecode(bytes(tmp_path) + b"/\xe9tude")
    shutil.copytree(MODEL, d)
    model = spikechip.Model.load(d)
    assert model.path == d and os.fsencode(model.path).endswith(b"/\xe9tude")
    shutil.copy(CHIP, d + "/chip.json")
    chip = spikechip.Chip.load(d + "/chip.json")
    assert chip.path == d + "/chip.json"
    mapping = spikechip.map(model, chip, rates_from_inputs=d + "/sample.npy")
    mapping.save(d + "/m.json")
    assert spikechip.Mapping.load(d + "/m.json").to_dict() == mapping.to_dict()
    report = spikechip.run(model, chip, d + "/sample.npy", mapping=mapping)
    assert report.verified and report.summary["latency_cycles"] == cli_report[0]["summary"]["latency_cycles"]
    report.write(d + "/out")
    loaded = spikechip.Report.load(d + "/out")
    shutil.copy("arch/energy/28nm.json", d + "/t.json")
    a, b = report.reprice(d + "/t.json"), loaded.reprice(d + "/t.json")
    assert a.summary["energy_pJ"] == pytest.approx(b.summary["energy_pJ"])
    assert a.data["chip"]["energy_table"].endswith("\ufffdtude/t.json")  # written as the binary writes it
    b.write(d + "/out2")
    assert json.load(open(d + "/out2/report.json"))["summary"]["energy_pJ"] == pytest.approx(b.summary["energy_pJ"])
    assert spikechip.infer(model, d + "/sample.npy")["predictions"].tolist() == report.summary["top1_predictions"]
    # Errors name such a path with its bytes as \xNN (the message was empty before).
    with pytest.raises(spikechip.ModelError, match=r"\\xe9tude/none: model directory not found"):
        spikechip.Model.load(d + "/none")
    os.mkdir(d + "/empty")
    with pytest.raises(spikechip.InputError, match=r"\\xe9tude/empty: directory has no"):
        spikechip.infer(model, d + "/empty")
