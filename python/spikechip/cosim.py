"""spikechip.cosim: the blocking client of `spikechip serve` (docs/cosim.md, protocol 1), for a
trainer that talks to a co-simulation server over ZeroMQ (another process or machine). In one
process, spikechip.run / spikechip.infer do the same without a server.

    from spikechip.cosim import Client
    c = Client.connect("tcp://127.0.0.1:5555")
    c.hello(); c.load_model("models/fmnist")
    c.update_weights_from(module)          # PyTorch module -> fold + quantise (export.py) -> integer tensors
    r = c.run(x_u8, T=1)                   # r["predictions"], r["energy_pJ"], r["report"]["layers"]

Every request carries an id; a reply with another id (the late answer of a request that timed
out here) is discarded. Server errors raise ServerError(code, message); no reply within the
timeout raises TimeoutError and the socket is replaced, so the next request starts clean.
"""
import itertools
import json
import time

import numpy as np
import zmq

from .errors import CosimError

PROTOCOL = 1
_DTYPES = {"uint8": np.uint8, "int8": np.int8, "int16": np.int16, "int32": np.int32, "float32": np.float32}
_NP_TO_WIRE = {np.dtype(v).str: k for k, v in _DTYPES.items()}


class ServerError(CosimError):
    def __init__(self, code, message, reply=None):
        super().__init__(f"server error {code}: {message}")
        self.code, self.message, self.reply = code, message, reply


class TimeoutError(CosimError):  # noqa: A001 - deliberately shadows the builtin inside this module
    pass


def _as_wire(name, arr):
    a = np.ascontiguousarray(arr)
    wire = _NP_TO_WIRE.get(a.dtype.str)  # '<i4' etc.: big-endian arrays do not match
    if wire is None:
        raise CosimError(f"tensor '{name}': dtype {a.dtype} is not one of {sorted(_DTYPES)} (little-endian)")
    return {"name": name, "dtype": wire, "shape": list(a.shape)}, a


class Client:
    def __init__(self, addr, timeout=60.0, context=None):
        self.addr, self.timeout = addr, float(timeout)
        self._ctx = context or zmq.Context.instance()
        self._ids = itertools.count(1)
        self._sock = None
        self._open()

    @classmethod
    def connect(cls, addr, timeout=60.0):
        return cls(addr, timeout)

    def _open(self):
        if self._sock is not None:
            self._sock.close(linger=0)
        self._sock = self._ctx.socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.connect(self.addr)

    def close(self):
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ----------------------------------------------------------------- transport

    def request(self, type_, tensors=None, timeout=None, **fields):
        """Sends one request; returns (header, {name: ndarray}). Raises ServerError / TimeoutError."""
        rid = next(self._ids)
        header = {"type": type_, "id": rid, "protocol": PROTOCOL, **fields}
        frames = []
        if tensors:
            desc = []
            for name, arr in tensors.items():
                d, a = _as_wire(name, arr)
                desc.append(d)
                frames.append(memoryview(a).cast("B"))
            header["tensors"] = desc
        return self.request_raw([json.dumps(header).encode()] + frames, rid, timeout)

    def request_raw(self, frames, rid, timeout=None):
        """Sends raw frames (tests use it for malformed input) and waits for the reply to `rid`."""
        if self._sock is None:
            raise CosimError("client is closed")
        self._sock.send_multipart(frames, copy=False)
        deadline = self.timeout if timeout is None else float(timeout)
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        end = time.monotonic() + deadline
        while True:
            left = end - time.monotonic()
            if left <= 0 or not poller.poll(max(1, int(left * 1000))):
                self._open()  # drop any late reply
                raise TimeoutError(f"no reply to request {rid} from {self.addr} within {deadline:g} s")
            parts = self._sock.recv_multipart()
            h = json.loads(parts[0])
            if h.get("id") != rid:
                continue  # the late reply of an earlier request that timed out
            tensors = {}
            for d, raw in zip(h.get("tensors", []), parts[1:]):
                tensors[d["name"]] = np.frombuffer(raw, dtype=_DTYPES[d["dtype"]]).reshape(d["shape"])
            if h.get("type") == "error":
                raise ServerError(h.get("code"), h.get("message"), h)
            return h, tensors

    # ----------------------------------------------------------------- requests

    def hello(self):
        return self.request("hello", client="spikechip.cosim")[0]

    def stats(self):
        return self.request("stats")[0]

    def shutdown(self):
        return self.request("shutdown")[0]

    def load_model(self, path=None, graph=None, tensors=None):
        """A model directory on the server (path) or a graph.json dict + integer tensors."""
        if (path is None) == (graph is None):
            raise CosimError("load_model needs a path or a graph")
        h = (self.request("load_model", path=str(path)) if path is not None
             else self.request("load_model", tensors=tensors, graph=graph))[0]
        self.model = h["model"]
        return self.model

    def set_chip(self, path=None, chip=None):
        if (path is None) == (chip is None):
            raise CosimError("set_chip needs a path or a chip dict")
        return self.request("set_chip", **({"path": str(path)} if path is not None else {"chip": chip}))[0]

    def map(self, placement=None, seed=None):
        f = {k: v for k, v in (("placement", placement), ("seed", seed)) if v is not None}
        return self.request("map", **f)[0]

    def update_weights(self, tensors, quant=None):
        """Named integer graph tensors (`<node>.weight` int8 ...); the server checks names, dtypes, shapes."""
        f = {"quant": quant} if quant is not None else {}
        return self.request("update_weights", tensors=tensors, **f)[0]

    def update_weights_from(self, module):
        """Fold + quantise a PyTorch Meta-SpikeFormer exactly as scripts/spikechip-export does, using
        the loaded model's provenance (input size, normalisation, heads), and send every integer
        tensor and the quantisation records. Returns the server reply."""
        tensors, quant = export_tensors(module, self._model_or_fail()["provenance"])
        return self.update_weights(tensors, quant)

    def _model_or_fail(self):
        m = getattr(self, "model", None)
        if m is None:
            raise CosimError("load a model first (load_model)")
        return m

    def run(self, x, T=None, mode="golden", labels=None, layers=True, timeout=None):
        """x: uint8 [B,C,H,W] (or [C,H,W]); returns the run_result header (predictions, spikes,
        energy_pJ per input, latency, report with per-layer costs). mode "golden" (bit-exact
        executor, paper-formula energy) or "cycle" (cycle-accurate chip after set_chip: latency
        cycles, chip energy by component, verified against golden; as `spikechip run`)."""
        x = np.asarray(x)
        if x.dtype != np.uint8:
            raise CosimError(f"run: x must be uint8, got {x.dtype}")
        if x.ndim == 3:
            x = x[None]
        f = {"mode": mode, "layers": bool(layers)}
        if T is not None:
            f["T"] = int(T)
        if labels is not None:
            f["labels"] = [int(v) for v in labels]
        return self.request("run", tensors={"x": x}, timeout=timeout, **f)[0]


def export_tensors(module, provenance):
    """(integer tensors {name: ndarray}, quant {node: dict}) of `module` as the exporter makes them."""
    from ._bridge import exporter
    export = exporter()
    import torch
    sd = module.state_dict()
    cfg = export.infer_config(sd, "module")
    norm = provenance.get("normalize", {})
    img = provenance.get("input_size")
    if img is None or "mean" not in norm or "std" not in norm:
        raise CosimError("the loaded model's provenance lacks input_size / normalize: it was not made by "
                         "spikechip-export, so the module cannot be quantised the same way")
    was_training = module.training
    module.eval()
    try:
        fg, streams, groups = export.fold(module, cfg, tuple(img), norm["mean"], norm["std"],
                                          provenance.get("num_heads", 8))
        ig = export.quantise(fg, streams, groups)
    finally:
        module.train(was_training)
    tensors = {k: (v.numpy() if torch.is_tensor(v) else np.asarray(v)) for k, v in ig.tensors.items()}
    quant = {n["name"]: n["quant"] for n in ig.nodes if "quant" in n}
    return tensors, quant
