"""Integer reference executor of a spikechip model directory (docs/semantics.md, bit for bit).

Straightforward dense code on int64 tensors. Convolutions run as float64 convolutions of
integers, which is exact: every partial sum here is below 2^53 (|w| <= 2^15 for 16-bit weights,
spikes or inputs <= 255, fan-in < 2^30), and the per-channel shift and bias are then applied in int64.

The same executor, with mode="float", runs the *folded float* graph the exporter builds before
quantising (float weights, LIF thresholds in float units, SDSA scale 0.125, Mean divides),
which is how the exporter checks folding against the unfolded PyTorch model.
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

from . import safetensors

I32_MIN, I32_MAX = -(2 ** 31), 2 ** 31 - 1
SDSA_FLOAT_SCALE = 0.125   # the official `(q @ k^T v) * 0.125`


class Graph:
    def __init__(self, meta, tensors):
        self.meta = meta
        self.nodes = meta["nodes"]
        self.tensors = tensors

    @property
    def lif_names(self):
        return [n["name"] for n in self.nodes if n["op"] == "LIF"]


def load_model(path):
    with open(os.path.join(path, "graph.json")) as f:
        meta = json.load(f)
    tensors = safetensors.read(os.path.join(path, "weights.safetensors"))
    return Graph(meta, {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in tensors.items()})


class _Sat:
    """Saturation to the model's membrane width m (graph.json precision.membrane_bits, default 32):
    [-2^(m-1), 2^(m-1) - 1], counted."""

    def __init__(self, bits=32):
        self.count = 0
        self.lo, self.hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def __call__(self, x):
        over = (x > self.hi) | (x < self.lo)
        n = int(over.sum())
        if n:
            self.count += n
            x = x.clamp(self.lo, self.hi)
        return x


def _conv(node, x, t, mode, sat):
    name = node["name"]
    w = t[name + ".weight"]
    b = t[name + ".bias"]
    a = node.get("attrs", {})
    if node["op"] == "Linear":
        xf = x.reshape(x.shape[0], -1)
        acc = xf.double() @ w.double().t()
        acc = acc.reshape(acc.shape[0], -1, 1, 1)
    else:
        acc = F.conv2d(x.double(), w.double(), stride=tuple(a.get("stride", [1, 1])),
                       padding=tuple(a.get("padding", [0, 0])), groups=a.get("groups", 1))
    if mode == "float":
        return acc + b.double().view(1, -1, 1, 1)
    acc = torch.round(acc).to(torch.int64)
    shift = t[name + ".shift"].to(torch.int64).view(1, -1, 1, 1)
    return sat(acc * (2 ** shift) + b.to(torch.int64).view(1, -1, 1, 1))


def _sdsa(node, q, k, v, mode, sat):
    B, C, H, W = q.shape
    h = node["attrs"]["heads"]
    d = C // h
    N = H * W
    # [B, heads, N, d]
    qh, kh, vh = (s.reshape(B, h, d, N).transpose(2, 3).to(torch.int64) for s in (q, k, v))
    A = kh.transpose(2, 3) @ vh           # [B,h,d,d] coincidence counts
    out = qh @ A                          # [B,h,N,d] q-masked row sums
    out = out.transpose(2, 3).reshape(B, C, H, W)
    if mode == "float":
        return out.double() * SDSA_FLOAT_SCALE
    return sat(out << node["attrs"].get("shift", 0))


def run(graph, x, T=None, mode="int", record=True, peaks=None, force=None):
    """Execute `graph` on a batch.

    x: uint8 [B,C,H,W] image batch (encoding image) or [T,B,C,H,W] event frames (encoding
    events); numpy or torch. Returns dict with 'spikes' {lif name: uint8 [T,B,C,H,W]} (if
    record), 'acc' (int64 [B,classes], the Output accumulators; float64 in float mode),
    'logits' (acc * scale / T), 'saturations'.
    peaks: a dict to update with {node name: per-channel max |value|} of every value the integer
    model saturates (Conv2d / Linear / Add outputs, LIF H, Mean sums before any division), over
    all inputs and timesteps seen so far (calibration, export.quantise).
    force: {lif name: [T, B, C, H, W] spikes} (teacher forcing): each such LIF still computes and
    records its own spikes and keeps its own membrane, but the nodes after it read the given
    spikes (spikechip_py.agreement).
    """
    nodes, t = graph.nodes, graph.tensors
    T = T or graph.meta.get("timesteps", 1)
    x = torch.as_tensor(np.asarray(x))
    inp = nodes[0]
    if inp["op"] != "Input":
        raise ValueError("first node must be Input")
    events = inp.get("attrs", {}).get("encoding", "image") == "events"
    if events and x.dim() != 5:
        raise ValueError(f"event model needs [T,B,C,H,W] frames, got shape {list(x.shape)}")
    zp = t[inp["name"] + ".zero_point"].to(torch.int64).view(1, -1, 1, 1)
    sat = _Sat(graph.meta.get("precision", {}).get("membrane_bits", 32))
    state = {}
    spikes = {n["name"]: [] for n in nodes if n["op"] == "LIF"} if record else {}
    acc = None
    for step in range(T):
        frame = x[step] if events else x
        val = {}
        for node in nodes:
            op, name = node["op"], node["name"]
            ins = [val[i] for i in node["inputs"]]
            if op == "Input":
                v = frame.to(torch.int64) - zp
                out = v.double() if mode == "float" else v
            elif op in ("Conv2d", "Linear"):
                out = _conv(node, ins[0], t, mode, sat)
            elif op == "Add":
                out = ins[0]
                for o in ins[1:]:
                    out = out + o
                if mode != "float":
                    out = sat(out)
            elif op == "LIF":
                tau = node.get("attrs", {}).get("tau_shift", 1)
                th = t[name + ".threshold"].view(1, -1, 1, 1)
                V = state.get(name)
                if V is None:
                    V = torch.zeros_like(ins[0])
                if mode == "float":
                    H = (V + ins[0]) / (2 ** tau)
                    S = H >= th.double()
                    state[name] = torch.where(S, torch.zeros_like(H), H)
                else:
                    H = sat((V + ins[0]) >> tau)
                    S = H >= th.to(torch.int64)
                    state[name] = torch.where(S, torch.zeros_like(H), H)
                out = S.to(torch.int64)
                if record:
                    spikes[name].append(S.to(torch.uint8))
                if force is not None and name in force:
                    out = torch.as_tensor(np.asarray(force[name][step])).to(out.dtype)
            elif op == "SDSA":
                out = _sdsa(node, *ins, mode, sat)
            elif op == "Mean":
                s = ins[0].sum(dim=(2, 3), keepdim=True)
                out = s / node["attrs"]["count"] if mode == "float" else sat(s)
            elif op == "Output":
                o = ins[0].reshape(ins[0].shape[0], -1)
                acc = o.clone() if acc is None else acc + o
                out = o
            else:
                raise ValueError(f"node {name}: unknown op {op!r}")
            val[name] = out
            if peaks is not None and op in ("Conv2d", "Linear", "Add", "LIF", "Mean"):
                v = H if op == "LIF" else s if op == "Mean" else out
                m = v.abs().amax(dim=tuple(i for i in range(v.dim()) if i != 1)).double()
                peaks[name] = m if name not in peaks else torch.maximum(peaks[name], m)
    res = {"acc": acc, "saturations": sat.count}
    scale = nodes[-1].get("quant", {}).get("scale", 1.0)
    if isinstance(scale, list):
        scale = scale[0]
    res["logits"] = acc.double() * (1.0 if mode == "float" else scale) / T
    if record:
        res["spikes"] = {k: torch.stack(v).numpy() for k, v in spikes.items()}
    return res


def predict(acc):
    """argmax with ties to the lowest index (numpy documents first-occurrence)."""
    return np.argmax(np.asarray(acc), axis=1)
