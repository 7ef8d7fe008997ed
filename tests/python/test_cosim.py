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
    """Starts a long cycle run on a fresh client; returns (thread, result dict, child pids seen
    while it ran): cycle runs are served from worker threads, so the list should stay empty."""
    import time
    res = {}

    def go():
        with Client.connect(ep, timeout=120) as c:
            c.load_model(model_dir)
            c.set_chip(TINY_CHIP)
            try:
                res["reply"] = c.run(images(n), T=1, mode="cycle")
            except ServerError as e:
                res["error"] = e

    t = threading.Thread(target=go)
    t.start()
    kids = set()
    while t.is_alive():
        kids.update(children(pid))
        time.sleep(0.005)
    t.join()
    return res, sorted(kids)


def test_cycle_timeout_cancels_the_worker_thread(model_dir):
    """A cycle run over --timeout gets `timeout`; the run stops (its one worker thread serves the
    next request at once, whereas 2,000 images take ~20 s or more) and no process was forked. The
    timeout is 2 s: with 0.5 s, load_model itself timed out once on a loaded machine."""
    p, ep = start_server("--timeout", "2", "--workers", "1")
    try:
        res, kids = cycle_request_in_background(ep, p.pid, model_dir, 2000)
        assert res["error"].code == "timeout", res
        assert kids == [], "a cycle run forked a process"
        with Client.connect(ep, timeout=20) as c:
            assert c.hello()["type"] == "hello"
            c.load_model(model_dir)
            assert len(c.run(images(1))["predictions"]) == 1  # the worker is free again
    finally:
        log = stop_server(p, ep)
    assert "error timeout" in log


def test_cycle_runs_in_threads_concurrently(server, model_dir):
    """Two clients' cycle runs proceed at once in the server process (no fork), each verified and
    equal to the same run made alone."""
    x = images(2, seed=5)
    with Client.connect(server, timeout=120) as c:
        c.load_model(model_dir)
        c.set_chip(TINY_CHIP)
        alone = c.run(x, T=1, mode="cycle")
    got, errors = [], []

    def go():
        try:
            with Client.connect(server, timeout=120) as c:
                c.load_model(model_dir)
                c.set_chip(TINY_CHIP)
                got.append(c.run(x, T=1, mode="cycle"))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=go) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    for r in got:
        assert r["verified"] is True
        for k in ("predictions", "spikes", "energy_pJ", "energy_by_component_pJ"):
            assert r[k] == alone[k], k
        assert r["latency"]["cycles"] == alone["latency"]["cycles"]
        for k in ("summary", "layers", "cores", "links", "events"):
            assert r["report"][k] == alone["report"][k], k


# ------------------------------------------------------------------ issue 18 regressions

def read_safetensors(path):
    """{name: ndarray} of a safetensors file (8-byte header length, JSON header, data)."""
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    meta = json.loads(raw[8:8 + n])
    dt = {"U8": np.uint8, "I8": np.int8, "I32": np.int32, "F32": np.float32}
    out = {}
    for name, d in meta.items():
        if name == "__metadata__":
            continue
        a, b = d["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=dt[d["dtype"]]).reshape(d["shape"])
    return out


def vm_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_inline_graph_with_a_node_without_inputs_is_rejected(server, model_dir):
    """Issue 18 defect 2: a node whose "inputs" is [] killed the server (NULL read in attach)."""
    with open(os.path.join(model_dir, "graph.json")) as f:
        g = json.load(f)
    tensors = read_safetensors(os.path.join(model_dir, "weights.safetensors"))
    head = next(n for n in g["nodes"] if n["op"] == "Linear")
    head["inputs"] = []
    with Client.connect(server, timeout=30) as c:
        e = expect_error(lambda: c.load_model(graph=g, tensors=tensors), "bad_model")
        assert "head" in e.message, e.message
        assert c.hello()["type"] == "hello"


@pytest.mark.parametrize("mode", [None, 1, ["golden"], {"m": "cycle"}])
def test_run_mode_of_the_wrong_type_is_bad_header(server, model_dir, mode):
    """Issue 18 defect 3: "mode": null / 1 / ["golden"] gave `internal` instead of `bad_header`."""
    with Client.connect(server, timeout=30) as c:
        c.load_model(model_dir)
        e = expect_error(lambda: c.request("run", tensors={"x": images(1)}, mode=mode), "bad_header")
        assert "mode" in e.message


def test_tensor_shape_size_is_checked_without_overflow(server):
    """Issue 18 defect 5: [2^40, 2^40] overflowed the size product to 0, so a 0-byte frame passed."""
    for shape in ([2**40, 2**40], [2**62, 4], [2**63 - 1, 2], [2**32] * 3, [0, 2**62]):
        frames = [hdr(type="run", tensors=[{"name": "x", "dtype": "int32", "shape": shape}]), b""]
        if 0 in shape:
            expect_error(lambda: raw(server, frames), "no_model")  # 0 bytes is exactly right
        else:
            expect_error(lambda: raw(server, frames), "too_large")
    for shape in ([2**64 - 1], [0, 2**63], [-1, -1]):  # entries outside 0..2^63-1
        expect_error(lambda: raw(server, [hdr(type="run", tensors=[{"name": "x", "dtype": "uint8", "shape": shape}]),
                                          b""]), "bad_tensor")


def test_deeply_nested_header_is_bad_json(server):
    """Issue 18 defect 1: a header nested 100,000 deep killed the server (stack overflow)."""
    deep = b'{"type": "hello", "id": 1, "protocol": 1, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    e = expect_error(lambda: raw(server, [deep], rid=None), "bad_json")
    assert "nested deeper" in e.message and len(e.message) < 400, e.message
    expect_error(lambda: raw(server, [b"[" * 1_000_000], rid=None), "bad_json")
    with Client.connect(server) as c:
        assert c.hello()["type"] == "hello"


def test_large_header_refused_before_parsing(model_dir):
    """Issue 18 defect 5: 20 MiB of '[' in a header took the server to 1.6 GB before the parse
    failed. Now a header frame over --max-header-bytes (default 1 MiB) is refused unparsed."""
    p, ep = start_server()
    try:
        with Client.connect(ep, timeout=30) as c:
            c.hello()
            before = vm_rss_kb(p.pid)
            for _ in range(3):
                e = expect_error(lambda: c.request_raw([b"[" * (20 << 20)], None), "too_large")
                assert "header" in e.message
            e = expect_error(lambda: c.request_raw([b"[" * (1 << 20)], None), "bad_json")
            grown = vm_rss_kb(p.pid) - before
            assert grown < 120_000, f"RSS grew by {grown} kB"
            assert c.hello()["type"] == "hello"
    finally:
        stop_server(p, ep)


def test_sessions_freed_on_disconnect_and_after_idle_timeout(model_dir):
    """Issue 18 defect 5: sessions were never freed. A client that disconnects (also one that
    vanishes with a request in flight) loses its session; so does one idle past --session-timeout."""
    import time
    p, ep = start_server("--session-timeout", "1.5", "--workers", "2")
    try:
        for _ in range(5):
            with Client.connect(ep, timeout=30) as c:
                c.load_model(model_dir)
        ctx = zmq.Context.instance()
        for _ in range(3):  # requests in flight when the client goes away
            d = ctx.socket(zmq.DEALER)
            d.connect(ep)
            d.send_multipart([hdr(type="load_model", path=model_dir)])
            time.sleep(0.05)
            d.close(linger=0)
        with Client.connect(ep, timeout=30) as watcher:
            end = time.monotonic() + 10
            while watcher.stats()["sessions"] and time.monotonic() < end:
                time.sleep(0.05)
            s = watcher.stats()
            assert s["sessions"] == 0, s
            assert s["sessions_freed"]["disconnect"] == 8, s
            with Client.connect(ep, timeout=30) as idle:
                idle.load_model(model_dir)
                assert watcher.stats()["sessions"] == 1
                time.sleep(2.0)
                s = watcher.stats()
                assert s["sessions"] == 0 and s["sessions_freed"]["idle"] == 1, s
                expect_error(lambda: idle.run(images(1)), "no_model")  # documented: load again
    finally:
        stop_server(p, ep)
