"""Co-simulation server (docs/cosim.md): a real `spikechip serve` process driven over ZeroMQ."""
import json
import os
import subprocess
import threading

import numpy as np
import pytest
import torch
import zmq

from conftest import OFFICIAL, REPO
from spikechip_py import export
from spikechip_py.cosim_client import Client, ServerError, TimeoutError as CosimTimeout

BINARY = os.environ.get("SPIKECHIP_BINARY", os.path.join(REPO, "build", "spikechip"))
CKPT = os.path.join(OFFICIAL, "official_small_kd0.pth")


def start_server(*args):
    p = subprocess.Popen([BINARY, "serve", "--bind", "tcp://127.0.0.1:*", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.startswith("listening on "), (line, p.stderr.read() if p.poll() is not None else "")
    return p, line.split()[-1]


def stop_server(p, ep):
    if p.poll() is None:
        with Client.connect(ep, timeout=10) as c:
            c.shutdown()
        assert p.wait(10) == 0
    return p.stderr.read()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cosim")
    export.export(CKPT, str(d / "m"), img_size=(32, 32), T=1)
    return str(d / "m")


@pytest.fixture(scope="module")
def server():
    p, ep = start_server("--workers", "2", "--max-batch", "64", "--max-message-bytes", "8000000")
    yield ep
    log = stop_server(p, ep)
    assert "stopped after" in log


def images(n, seed=0):
    return np.random.RandomState(seed).randint(0, 256, (n, 3, 32, 32)).astype(np.uint8)


def test_round_trip_every_message(server, model_dir):
    with Client.connect(server, timeout=30) as c:
        h = c.hello()
        assert h["protocol"] == 1 and h["server"] == "spikechip" and "run" in h["capabilities"]["requests"]
        m = c.load_model(model_dir)
        assert m["input"]["shape"] == [3, 32, 32] and m["num_classes"] == 10
        names = {t["name"] for t in m["tensors"]}
        assert "head.weight" in names
        ch = c.set_chip(os.path.join(REPO, "arch", "presets", "tiny.json"))
        assert ch["chip"]["cores"] == 64
        mp = c.map(placement="snake")
        assert mp["summary"]["cores_used"] >= 1
        r = c.run(images(3), T=1, labels=[1, 2, 3])
        assert len(r["predictions"]) == 3 and r["batch"] == 3 and r["mode"] == "golden"
        layers = r["report"]["layers"]
        assert sum(l["paper_energy_pJ"] for l in layers) == pytest.approx(sum(r["energy_pJ"]))
        # graph JSON + weight frames gives the same results as the directory
        with open(os.path.join(model_dir, "graph.json")) as f:
            graph = json.load(f)
        from spikechip_py import safetensors as st
        tensors = st.read(os.path.join(model_dir, "weights.safetensors"))
        c.load_model(graph=graph, tensors={k: np.asarray(v) for k, v in tensors.items()})
        r2 = c.run(images(3), T=1, labels=[1, 2, 3])
        assert r2["predictions"] == r["predictions"] and r2["energy_pJ"] == r["energy_pJ"]
        s = c.stats()
        assert s["requests_by_type"]["run"] >= 2 and s["sessions"] >= 1


def test_golden_matches_cli_infer(server, model_dir, tmp_path):
    """The server's run report equals `spikechip infer` on the same images (same executor)."""
    x = images(2, seed=3)
    np.save(tmp_path / "x.npy", x)
    subprocess.run([BINARY, "infer", "--model", model_dir, "--input", str(tmp_path / "x.npy"),
                    "-o", str(tmp_path / "r.json")], check=True, capture_output=True)
    with open(tmp_path / "r.json") as f:
        ref = json.load(f)
    with Client.connect(server) as c:
        c.load_model(model_dir)
        r = c.run(x)
    assert r["predictions"] == [i["prediction"] for i in ref["inputs"]]
    assert r["energy_pJ"] == [i["paper_energy_pJ"] for i in ref["inputs"]]


def test_update_weights_equals_reexport(server, model_dir, tmp_path):
    sd, extras = export.load_checkpoint(CKPT)
    module, _ = export.build_checked(sd, CKPT, 8, (32, 32), 1)
    torch.manual_seed(5)
    with torch.no_grad():  # a "training step": perturb every float parameter
        for p in module.parameters():
            p.add_(0.05 * torch.randn_like(p) * p.abs().mean())
    ck = tmp_path / "perturbed.pth"
    torch.save(module.state_dict(), ck)
    export.export(str(ck), str(tmp_path / "re"), img_size=(32, 32), T=1)
    x = images(8, seed=1)
    with Client.connect(server) as c:
        c.load_model(model_dir)
        before = c.run(x)
        reply = c.update_weights_from(module)
        assert reply["model_version"] == before["model_version"] + 1 and "head.weight" in reply["updated"]
        after = c.run(x)
        c.load_model(str(tmp_path / "re"))
        ref = c.run(x)
    for k in ("predictions", "spikes", "energy_pJ"):
        assert after[k] == ref[k], k
    assert after["report"]["layers"] == ref["report"]["layers"]
    assert after["report"]["inputs"] == ref["report"]["inputs"]  # output accumulators, logits
    assert after["spikes"] != before["spikes"]  # the update mattered


def raw(ep, frames, rid=1, timeout=10):
    with Client.connect(ep, timeout=timeout) as c:
        return c.request_raw(frames, rid)


def expect_error(fn, code):
    with pytest.raises(ServerError) as e:
        fn()
    assert e.value.code == code, e.value
    return e.value


def hdr(**kw):
    return json.dumps({"id": 1, "protocol": 1, **kw}).encode()


def test_bad_input_answered_and_server_alive(server, model_dir):
    expect_error(lambda: raw(server, [b"{not json"], rid=None), "bad_json")
    expect_error(lambda: raw(server, [hdr(type="frobnicate")]), "unknown_type")
    expect_error(lambda: raw(server, [json.dumps({"type": "hello", "id": 1, "protocol": 99}).encode()]),
                 "protocol_mismatch")
    expect_error(lambda: raw(server, [json.dumps({"type": "hello", "id": 1}).encode()]), "bad_header")
    expect_error(lambda: raw(server, [hdr(type="run", tensors=[{"name": "x", "dtype": "uint8", "shape": [1]}])]),
                 "bad_frames")
    expect_error(lambda: raw(server, [hdr(type="run", tensors=[{"name": "x", "dtype": "uint8", "shape": [4]}]),
                                      b"abc"]), "bad_tensor")
    expect_error(lambda: raw(server, [hdr(type="run", tensors=[{"name": "x", "dtype": "complex", "shape": [1]}]),
                                      b"a"]), "bad_tensor")
    expect_error(lambda: raw(server, [hdr(type="run"), b"x" * 8_100_000]), "too_large")
    expect_error(lambda: raw(server, [hdr(type="hello", bogus=1)]), "bad_header")
    with Client.connect(server) as c:
        expect_error(lambda: c.run(images(1)), "no_model")
        expect_error(lambda: c.update_weights({"head.weight": np.zeros((10, 96), np.int8)}), "no_model")
        expect_error(lambda: c.load_model("/nonexistent/model"), "bad_model")
        expect_error(lambda: c.set_chip(chip={"name": "x", "bogus": 1}), "bad_chip")
        c.load_model(model_dir)
        expect_error(lambda: c.map(), "no_chip")
        expect_error(lambda: c.run(images(1)[:, :, :16]), "bad_tensor")
        expect_error(lambda: c.request("run", tensors={"x": images(1).astype(np.int8)}), "bad_tensor")
        expect_error(lambda: c.run(images(65)), "too_large")
        expect_error(lambda: c.run(images(1), T=0), "bad_header")
        expect_error(lambda: c.run(images(1), mode="cycle"), "no_chip")
        expect_error(lambda: c.run(images(1), mode="fast"), "bad_header")
        expect_error(lambda: c.update_weights({"nope.weight": np.zeros((1,), np.int8)}), "bad_tensor")
        expect_error(lambda: c.update_weights({"head.weight": np.zeros((10, 95), np.int8)}), "bad_tensor")
        expect_error(lambda: c.update_weights({"head.weight": np.zeros((10, 96), np.int32)}), "bad_tensor")
        expect_error(lambda: c.update_weights({"head.shift": np.full((10,), 99, np.uint8)}), "bad_tensor")
        # a client that disconnects mid-request: its reply is dropped, the server goes on
        c2 = zmq.Context.instance().socket(zmq.DEALER)
        c2.connect(server)
        c2.send_multipart([hdr(type="load_model", path=model_dir)])
        c2.close(linger=500)
        assert c.hello()["protocol"] == 1
        s = c.stats()
        assert s["errors_by_code"]["bad_tensor"] >= 4


def test_concurrent_clients_and_hello_not_blocked(server, model_dir, tmp_path):
    """Two clients with different models get their own results; hello answers during long runs."""
    sd, _ = export.load_checkpoint(CKPT)
    module, _ = export.build_checked(sd, CKPT, 8, (32, 32), 1)
    with torch.no_grad():
        module.head.bias.add_(torch.arange(10, dtype=torch.float32))  # a visibly different model
    torch.save(module.state_dict(), tmp_path / "b.pth")
    export.export(str(tmp_path / "b.pth"), str(tmp_path / "b"), img_size=(32, 32), T=1)
    x = images(16, seed=7)
    expected = {}
    for d in (model_dir, str(tmp_path / "b")):
        with Client.connect(server) as c:
            c.load_model(d)
            expected[d] = c.run(x)["report"]["inputs"]
    assert expected[model_dir] != expected[str(tmp_path / "b")]
    got, errors = {}, []

    def worker(d):
        try:
            with Client.connect(server) as c:
                c.load_model(d)
                got[d] = [c.run(x)["report"]["inputs"] for _ in range(2)]
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(d,)) for d in expected]
    for t in ts:
        t.start()
    with Client.connect(server, timeout=2) as c:
        for _ in range(5):
            assert c.hello()["type"] == "hello"
    for t in ts:
        t.join()
    assert not errors, errors
    for d, exp in expected.items():
        assert got[d] == [exp, exp]


def test_timeout_cancels_run_and_server_survives(model_dir):
    # The timeout must leave load_model room on a loaded machine (0.05 s did not), and the run must
    # take several times longer than it (1024 images x T=4 is ~4 s of golden work unloaded).
    p, ep = start_server("--timeout", "1.0", "--workers", "1")
    try:
        with Client.connect(ep, timeout=60) as c:
            c.load_model(model_dir)
            e = expect_error(lambda: c.run(images(1024), T=4), "timeout")
            assert "cancelled" in e.message
            assert c.hello()["type"] == "hello"
            assert c.stats()["errors_by_code"]["timeout"] == 1
    finally:
        log = stop_server(p, ep)
    assert "error timeout" in log


def test_client_timeout_raises():
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.ROUTER)  # accepts, never answers
    port = s.bind_to_random_port("tcp://127.0.0.1")
    try:
        with Client.connect(f"tcp://127.0.0.1:{port}", timeout=0.2) as c:
            with pytest.raises(CosimTimeout):
                c.hello()
    finally:
        s.close(linger=0)


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_signal_shutdown_leaves_no_process(model_dir, sig):
    import signal
    p, ep = start_server()
    with Client.connect(ep) as c:
        c.load_model(model_dir)
        c.run(images(2))
    p.send_signal(getattr(signal, sig))
    assert p.wait(10) == 0
    assert "signal received" in p.stderr.read()
    # the process and its threads are gone (no zombie: wait() reaped it)
    assert not os.path.exists(f"/proc/{p.pid}") or open(f"/proc/{p.pid}/stat").read().split()[2] != "Z"


TINY_CHIP = os.path.join(REPO, "arch", "presets", "tiny.json")


def test_cycle_matches_cli_run(server, model_dir, tmp_path):
    """mode "cycle" reports what `spikechip run` reports for the same model, chip and inputs."""
    x = images(2, seed=11)
    np.save(tmp_path / "x.npy", x)
    subprocess.run([BINARY, "run", "--model", model_dir, "--chip", TINY_CHIP, "--input", str(tmp_path / "x.npy"),
                    "-T", "1", "--quiet", "-o", str(tmp_path / "out")], check=True, capture_output=True)
    with open(tmp_path / "out" / "report.json") as f:
        ref = json.load(f)
    with Client.connect(server, timeout=60) as c:
        assert "cycle" in c.hello()["capabilities"]["modes"]
        c.load_model(model_dir)
        c.set_chip(TINY_CHIP)
        r = c.run(x, T=1, mode="cycle", labels=[3, 4])
        lean = c.run(x, T=1, mode="cycle", layers=False)
    assert r["mode"] == "cycle" and r["verified"] is True and ref["run"]["verified"] is True
    assert r["predictions"] == ref["summary"]["top1_predictions"]
    assert r["latency"]["cycles"] == [i["latency_cycles"] for i in ref["inputs"]]
    assert r["latency"]["s"] == pytest.approx([i["latency_cycles"] / ref["chip"]["clock_hz"] for i in ref["inputs"]])
    assert r["energy_pJ"] == [i["energy_pJ"] for i in ref["inputs"]]
    assert sum(r["spikes"]) / len(r["spikes"]) == ref["summary"]["spikes"]  # report counts are per inference
    assert r["energy_by_component_pJ"] == ref["energy_by_component_pJ"]
    rep = r["report"]
    for k in ("summary", "layers", "cores", "links", "events", "mapping"):
        assert rep[k] == ref[k], k
    assert [i["label"] for i in rep["inputs"]] == [3, 4] and "timeline" not in rep
    assert lean["energy_pJ"] == r["energy_pJ"] and "layers" not in lean["report"]


def children(pid):
    """Live child processes of pid (zombies too: a zombie means a child was not reaped)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    st = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(st[1]) == pid:
                out.append(int(d))
    return out


def cycle_request_in_background(ep, pid, model_dir, n):
    """Starts a long cycle run on a fresh client; returns (thread, result dict, child pid)."""
    import time
    res = {}

    def go():
        with Client.connect(ep, timeout=60) as c:
            c.load_model(model_dir)
            c.set_chip(TINY_CHIP)
            try:
                res["reply"] = c.run(images(n), T=1, mode="cycle")
            except ServerError as e:
                res["error"] = e

    t = threading.Thread(target=go)
    t.start()
    end, kids = time.monotonic() + 20, []
    while not kids and time.monotonic() < end and t.is_alive():
        kids = children(pid)
        time.sleep(0.005)
    return t, res, kids



def wait_no_children(pid, seconds=5):
    import time
    end = time.monotonic() + seconds
    while children(pid) and time.monotonic() < end:
        time.sleep(0.02)
    return children(pid)


def test_cycle_timeout_kills_worker(model_dir):
    p, ep = start_server("--timeout", "0.5", "--workers", "1")
    try:
        t, res, kids = cycle_request_in_background(ep, p.pid, model_dir, 200)
        assert len(kids) == 1, "the cycle run did not fork a worker"
        t.join()
        assert res["error"].code == "timeout", res
        assert wait_no_children(p.pid) == []  # killed and reaped: no process, no zombie
        with Client.connect(ep, timeout=5) as c:
            assert c.hello()["type"] == "hello"
    finally:
        log = stop_server(p, ep)
    assert "error timeout" in log


def test_cycle_worker_crash_is_an_error_reply(model_dir):
    import signal
    p, ep = start_server("--workers", "1")
    try:
        t, res, kids = cycle_request_in_background(ep, p.pid, model_dir, 200)
        assert len(kids) == 1
        os.kill(kids[0], signal.SIGSEGV)
        t.join()
        assert res["error"].code == "sim_failed" and "signal" in res["error"].message, res
        assert wait_no_children(p.pid) == []
        with Client.connect(ep, timeout=5) as c:
            assert c.hello()["type"] == "hello"
    finally:
        stop_server(p, ep)
