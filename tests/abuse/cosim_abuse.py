#!/usr/bin/env python3
"""Co-simulation abuse test (issue 18; run by ctest as cosim_abuse, docs/reliability.md).

A real `spikechip serve` on 127.0.0.1 takes, from several client threads at once, thousands of
malformed and valid requests and clients that vanish with a request in flight, in two equal
waves. Checked: `hello` from a separate client is answered within 2 s all along; no reply is
`internal` and the log has no "internal error"; every session is freed once its client is gone
(stats.sessions back to 0; every session opened was freed on its disconnect); VmRSS
(/proc/<pid>/status) stays under a bound, and the second wave leaves it where the first did
(no growth per request = nothing leaks). Inputs come from a fixed seed. Exit 0 on success."""
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import zmq

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("SPIKECHIP_BINARY", os.path.join(REPO, "build", "spikechip"))
MODEL = os.path.join(REPO, "models", "fmnist")
CHIP = os.path.join(REPO, "arch", "presets", "tiny.json")
CLIENTS = 6
REQUESTS_PER_CLIENT = 400  # per wave
RSS_LIMIT_KB = 700_000     # peak bound (the server idles at ~20 MB; a model session is ~1 MB)
WAVE_GROWTH_KB = 40_000    # wave 2 may not leave more than this above wave 1


def vm_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def hdr(**kw):
    return json.dumps({"id": 1, "protocol": 1, **kw}).encode()


def x_frame(b, rng):
    return rng.integers(0, 256, (b, 1, 28, 28), dtype=np.uint8).tobytes()


def malformed(rng, graph_text):
    """One malformed request (frames), from a fixed menu plus random mutation."""
    k = rng.integers(0, 16)
    if k == 0:
        return [bytes(rng.integers(0, 256, rng.integers(0, 200), dtype=np.uint8))]
    if k == 1:
        return [hdr(type="run")[: rng.integers(0, 20)]]
    if k == 2:
        return [b'{"type": "hello", "id": 1, "protocol": 1, "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"]
    if k == 3:
        return [hdr(type="run", mode=[None, 1, ["golden"], {"a": 1}, "fast"][rng.integers(0, 5)]),
                x_frame(1, rng)][: 2 if rng.integers(0, 2) else 1]
    if k == 4:
        dims = [int(2 ** rng.integers(0, 64)) for _ in range(rng.integers(1, 5))]
        return [hdr(type="run", tensors=[{"name": "x", "dtype": "uint8", "shape": dims}]), b""]
    if k == 5:
        return [hdr(type="run", tensors=[{"name": "x", "dtype": "uint8", "shape": [1, 1, 28, 28]}])]  # missing frame
    if k == 6:
        return [hdr(type="update_weights", tensors=[{"name": "head.weight", "dtype": "int8", "shape": [3]}]), b"abc"]
    if k == 7:
        return [hdr(type="load_model", path="/nonexistent/" + "x" * int(rng.integers(1, 5000)))]
    if k == 8:
        g = json.loads(graph_text)
        g["nodes"][int(rng.integers(1, len(g["nodes"])))]["inputs"] = []
        return [hdr(type="load_model", graph=g)]
    if k == 9:
        return [hdr(type="set_chip", chip={"name": "x", "mesh": {"width": -1}})]
    if k == 10:
        return [hdr(type="map", placement=["snake", 3, None, "nope"][rng.integers(0, 4)], seed=-1)]
    if k == 11:
        return [hdr(type=["frobnicate", "", "x" * 3000][rng.integers(0, 3)])]
    if k == 12:
        return [json.dumps({"type": "hello", "id": [1], "protocol": 1}).encode()]
    if k == 13:
        return [hdr(type="run", T=int(rng.integers(-5, 10 ** 6)), labels="no"), x_frame(1, rng)]
    if k == 14:
        return [b'{"type": "hello", "id": 1, "protocol": 1e999}']
    text = bytearray(hdr(type="run", T=1, mode="golden", tensors=[{"name": "x", "dtype": "uint8", "shape": [1, 1, 28, 28]}]))
    for _ in range(int(rng.integers(1, 6))):
        text[int(rng.integers(0, len(text)))] = int(rng.integers(0, 256))
    return [bytes(text), x_frame(1, rng)]


def valid(rng):
    k = rng.integers(0, 6)
    if k == 0:
        return [hdr(type="hello")]
    if k == 1:
        return [hdr(type="stats")]
    if k == 2:
        return [hdr(type="load_model", path=MODEL)]
    if k == 3:
        return [hdr(type="set_chip", path=CHIP)]
    b = int(rng.integers(1, 4))
    return [hdr(type="run", T=1, layers=bool(rng.integers(0, 2)),
                tensors=[{"name": "x", "dtype": "uint8", "shape": [b, 1, 28, 28]}]), x_frame(b, rng)]


class Failure(Exception):
    pass


def header_of(reply):
    """The reply header (a request whose first frame was empty reads as REQ-style: the empty
    delimiter is echoed before the header)."""
    if reply and reply[0] == b"" and len(reply) > 1:
        reply = reply[1:]
    try:
        return json.loads(reply[0])
    except ValueError:
        raise Failure(f"reply is not a JSON header: {reply[0][:80]!r}") from None


def client_thread(ep, seed, graph_text, out, errors):
    rng = np.random.default_rng(seed)
    ctx = zmq.Context.instance()
    counts = {"malformed": 0, "valid": 0, "vanished": 0, "replies": 0}
    try:
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(ep)
        s.send_multipart([hdr(type="load_model", path=MODEL)])
        for i in range(REQUESTS_PER_CLIENT):
            r = rng.random()
            if r < 0.05:  # a client that vanishes with a request in flight
                v = ctx.socket(zmq.DEALER)
                v.setsockopt(zmq.LINGER, 200)
                v.connect(ep)
                v.send_multipart([hdr(type="load_model", path=MODEL)])
                if rng.integers(0, 2):
                    v.send_multipart(valid(rng))
                time.sleep(0.002)
                v.close()
                counts["vanished"] += 1
                continue
            frames = malformed(rng, graph_text) if r < 0.7 else valid(rng)
            counts["malformed" if r < 0.7 else "valid"] += 1
            s.send_multipart(frames)
            # read whatever has arrived (replies may lag: up to 16 queued per client)
            while s.poll(0 if i % 8 else 5000):
                h = header_of(s.recv_multipart())
                counts["replies"] += 1
                if h.get("type") == "error" and h.get("code") == "internal":
                    raise Failure(f"internal error reply: {h}")
                if not (i % 8):
                    break
        while s.poll(15000):
            h = header_of(s.recv_multipart())
            counts["replies"] += 1
            if h.get("code") == "internal":
                raise Failure(f"internal error reply: {h}")
        s.close()
    except Exception as e:  # noqa: BLE001 - reported by the main thread
        errors.append(e)
    out.append(counts)


def hello_ok(ctx, ep, timeout_ms=2000):
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(ep)
    try:
        s.send_multipart([hdr(type="hello")])
        if not s.poll(timeout_ms):
            return False
        return json.loads(s.recv_multipart()[0]).get("type") == "hello"
    finally:
        s.close()


def request(ctx, ep, frames, timeout_ms=10000):
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(ep)
    try:
        s.send_multipart(frames)
        if not s.poll(timeout_ms):
            raise Failure("no reply to " + frames[0][:60].decode(errors="replace"))
        return json.loads(s.recv_multipart()[0])
    finally:
        s.close()


def wave(ep, pid, wave_no, graph_text, peak):
    out, errors, threads = [], [], []
    for c in range(CLIENTS):
        t = threading.Thread(target=client_thread, args=(ep, 1000 * wave_no + c, graph_text, out, errors))
        t.start()
        threads.append(t)
    ctx = zmq.Context.instance()
    hellos = 0
    while any(t.is_alive() for t in threads):
        if not hello_ok(ctx, ep):
            raise Failure(f"wave {wave_no}: hello not answered within 2 s")
        hellos += 1
        peak[0] = max(peak[0], vm_rss_kb(pid))
        time.sleep(0.2)
    for t in threads:
        t.join()
    if errors:
        raise Failure(f"wave {wave_no}: {errors[0]!r}")
    total = {k: sum(c[k] for c in out) for k in out[0]}
    total["hellos"] = hellos
    return total


def main():
    t0 = time.monotonic()
    with open(os.path.join(MODEL, "graph.json")) as f:
        graph_text = f.read()
    log = tempfile.TemporaryFile(mode="w+")
    p = subprocess.Popen([BINARY, "serve", "--bind", "tcp://127.0.0.1:*", "--workers", "2", "--timeout", "20",
                          "--max-message-bytes", "4000000", "--max-batch", "8"],
                         stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        line = p.stdout.readline()
        if not line.startswith("listening on "):
            raise Failure("server did not start: " + line)
        ep = line.split()[-1]
        ctx = zmq.Context.instance()
        base = vm_rss_kb(p.pid)
        peak = [base]
        results, after = [], []
        for w in (1, 2):
            results.append(wave(ep, p.pid, w, graph_text, peak))
            end = time.monotonic() + 20
            while True:
                st = request(ctx, ep, [hdr(type="stats")])
                if st["sessions"] == 0 or time.monotonic() > end:
                    break
                time.sleep(0.1)
            if st["sessions"] != 0:
                raise Failure(f"wave {w}: {st['sessions']} session(s) not freed after every client left: {st}")
            after.append(vm_rss_kb(p.pid))
            print(f"wave {w}: {results[-1]}, RSS after {after[-1]} kB, sessions_freed {st['sessions_freed']}")
        st = request(ctx, ep, [hdr(type="stats")])
        freed = st["sessions_freed"].get("disconnect", 0)
        if freed != st["sessions_opened"] or freed < CLIENTS * 2:
            raise Failure(f"{st['sessions_opened']} sessions opened, {st['sessions_freed']} freed")
        if "internal" in st["errors_by_code"]:
            raise Failure(f"internal errors: {st['errors_by_code']}")
        if not hello_ok(ctx, ep):
            raise Failure("hello not answered at the end")
        print(f"requests {st['requests']}, errors {sum(st['errors_by_code'].values())}, "
              f"RSS base {base} kB, peak {peak[0]} kB, after waves {after} kB, {time.monotonic() - t0:.1f} s")
        if peak[0] > RSS_LIMIT_KB:
            raise Failure(f"peak RSS {peak[0]} kB over {RSS_LIMIT_KB} kB")
        if after[1] - after[0] > WAVE_GROWTH_KB:
            raise Failure(f"RSS grew by {after[1] - after[0]} kB from wave 1 to wave 2 (a leak?)")
        request(ctx, ep, [hdr(type="shutdown")])
        if p.wait(15) != 0:
            raise Failure(f"server exit code {p.returncode}")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        log.seek(0)
        text = log.read()
        log.close()
    if "internal error" in text:
        raise Failure("log has 'internal error': " + text[text.index("internal error") - 200:][:600])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print("FAIL:", e)
        sys.exit(1)
