"""Meta-SpikeFormer checkpoint -> spikechip model directory (docs/model-format.md; official module names).

Steps: load + validate the state dict against the official layout; fold BatchNorms, RepConv
(1x1 -> BNAndPad -> dw3x3 -> pw1x1 -> BN -> BN => one dense 3x3 conv), SepConv
(dw7x7 -> pw1x1 -> BN => one dense 7x7 2C->C conv), the image normalisation (into the first
conv) and the kd heads (averaged) into a *float folded graph*; then quantise it (int8 weights,
per-output-channel shifts so every conv adding into a residual stream shares the stream's
per-channel membrane scale, int32 biases and thresholds) per docs/semantics.md.
"""
import fnmatch
import hashlib
import inspect
import json
import os
import re
import tempfile
import warnings

import numpy as np
import torch

from . import __version__, ckpt_settings, files, quant_refine, safetensors
from .intref import Graph
from .intref import run as _intref_run
from .model import OFFICIAL_STRIDES, Spiking_vit_MetaFormer

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
BN_EPS = 1e-5
SDSA_SHIFT = 4
MAX_SHIFT = 24
# A stream scale may sit at most 2^STREAM_SPREAD below the coarsest contributor's ideal scale:
# this bounds shifts (and membrane magnitudes) when one conv has near-zero weights.
STREAM_SPREAD = 12
# Calibrated ranges get 1/64 of headroom: the integer model's values differ from the float ones by
# rounding, so a value at exactly the observed peak could still saturate.
CALIBRATION_MARGIN = 1 + 1 / 64


class CheckpointError(ValueError):
    pass


class CheckpointWarning(UserWarning):
    """The checkpoint's recorded settings disagree with the flags, with each other or with its
    weights (spikechip_py/ckpt_settings.py)."""


# ----------------------------------------------------------------------------- loading

def load_checkpoint(path):
    """Returns (state_dict, extras) for a bare state dict or a {'model': sd, ...} wrapper.

    Official training checkpoints hold an argparse.Namespace ('args'): torch >= 2.6 refuses it
    unless weights_only=False (a full unpickling, so load only checkpoints you trust, as the
    official code does)."""
    kw = {"weights_only": False} if "weights_only" in inspect.signature(torch.load).parameters else {}
    try:
        obj = torch.load(path, map_location="cpu", **kw)
    except Exception as e:  # torch raises many types for a non-checkpoint file
        raise CheckpointError(f"{path}: not a PyTorch checkpoint ({type(e).__name__}: {e})")
    extras = {}
    if isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        extras = {k: v for k, v in obj.items() if k != "model"}
        obj = obj["model"]
    elif isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        extras = {k: v for k, v in obj.items() if k != "state_dict"}
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(torch.is_tensor(v) for v in obj.values()):
        raise CheckpointError(
            f"{path}: expected a state dict (name -> tensor) or a {{'model': state_dict}} wrapper, "
            f"found {type(obj).__name__}"
            + (f" with keys {sorted(obj)[:8]}" if isinstance(obj, dict) else ""))
    sd = {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}
    return sd, extras


def infer_config(sd, path="checkpoint"):
    """Model config from tensor shapes; raises CheckpointError if it is not this layout."""
    need = ["downsample1_1.encode_conv.weight", "downsample1_2.encode_conv.weight",
            "downsample2.encode_conv.weight", "downsample3.encode_conv.weight",
            "downsample4.encode_conv.weight", "head.weight"]
    missing = [k for k in need if k not in sd]
    if missing:
        raise CheckpointError(
            f"{path}: not a Meta-SpikeFormer (Spiking_vit_MetaFormer) state dict: missing "
            f"{', '.join(missing)}; it has {len(sd)} tensors, first: {', '.join(list(sd)[:6])}")
    w0 = sd["downsample1_1.encode_conv.weight"]
    dims = [int(sd[f"downsample{s}.encode_conv.weight"].shape[0]) for s in ("1_2", "2", "3", "4")]

    def count(prefix):
        return len({int(m.group(1)) for k in sd for m in [re.match(prefix + r"\.(\d+)\.", k)] if m})

    return dict(embed_dim=dims, in_channels=int(w0.shape[1]),
                num_classes=int(sd["head.weight"].shape[0]), blocks3=count("block3"),
                blocks4=count("block4"), kd="head_kd.weight" in sd)


def check_finite(sd, path):
    """CheckpointError when a tensor of state dict `sd` holds NaN or infinity (a diverged training
    run): such a weight was quantised into some finite integer and exported without a word."""
    bad = [k for k, v in sd.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"{path}: {len(bad)} tensor(s) hold NaN or infinite values, first {bad[0]}; "
                              "a model to export needs finite weights")


def build_checked(sd, path="checkpoint", num_heads=8, img_size=(224, 224), T=1, strides=None):
    """The model of state dict `sd`, checked against the layout. strides: the five downsampling
    strides (None: the official 2,2,2,2,1); the weights do not record them."""
    cfg = infer_config(sd, path)
    try:
        model = Spiking_vit_MetaFormer(img_size_h=img_size[0], img_size_w=img_size[1],
                                       num_heads=num_heads, T=T, strides=strides, **cfg)
    except AssertionError as e:  # the official layout asserts that the heads divide the widths
        raise CheckpointError(f"{path}: {e} (give --heads n dividing the attention widths "
                              f"{cfg['embed_dim'][2]} and {cfg['embed_dim'][3]})") from None
    ref = model.state_dict()
    missing = [k for k in ref if k not in sd]
    unexpected = [k for k in sd if k not in ref]
    wrong = [f"{k} {list(sd[k].shape)} (expected {list(ref[k].shape)})" for k in ref
             if k in sd and sd[k].shape != ref[k].shape]
    if missing or unexpected or wrong:
        msg = [f"{path}: state dict does not match Meta-SpikeFormer layout "
               f"(inferred embed_dim={cfg['embed_dim']}, blocks3={cfg['blocks3']}, "
               f"blocks4={cfg['blocks4']}, kd={cfg['kd']})"]
        for label, lst in (("missing", missing), ("unexpected", unexpected),
                           ("wrong shape", wrong)):
            if lst:
                msg.append(f"  {label} ({len(lst)}): " + ", ".join(lst[:12])
                           + (" ..." if len(lst) > 12 else ""))
        raise CheckpointError("\n".join(msg))
    check_finite(sd, path)
    model.load_state_dict(sd)
    return model.eval(), cfg


# ----------------------------------------------------------------------------- folding

def _bn(bn):
    a = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
    return a, bn.bias.double() - bn.running_mean.double() * a


def _repconv(seq):
    """nn.Sequential(RepConv, BatchNorm2d) -> dense 3x3 weight, bias (meta-spikeformer §2.3)."""
    rep, bn_out = seq[0], seq[1]
    w1 = rep.body[0].weight.double()[:, :, 0, 0]            # [C, C]
    a1, b1 = _bn(rep.body[1].bn)
    dw = rep.body[2][0].weight.double()[:, 0]                # [C, 3, 3]
    pw = rep.body[2][1].weight.double()[:, :, 0, 0]          # [O, C]
    ai, bi = _bn(rep.body[2][2])
    ao, bo = _bn(bn_out)
    g, b2 = ao * ai, ao * bi + bo
    w = torch.einsum("om,myx,mi->oiyx", pw, dw * a1.view(-1, 1, 1), w1) * g.view(-1, 1, 1, 1)
    bias = g * (pw @ (b1 * dw.sum(dim=(1, 2)))) + b2
    return w, bias


def _conv_bn(conv, bn):
    a, b = _bn(bn)
    w = conv.weight.double()
    if w.dim() == 3:                                         # Conv1d k=1 (MS_MLP) -> 1x1
        w = w.unsqueeze(-1)
    cb = conv.bias.double() if conv.bias is not None else torch.zeros(w.shape[0], dtype=torch.double)
    return w * a.view(-1, 1, 1, 1), cb * a + b


class _Builder:
    def __init__(self):
        self.nodes, self.t = [], {}

    def add(self, name, op, inputs, shape, attrs=None, source=None, **tensors):
        n = {"name": name, "op": op, "inputs": list(inputs), "shape": list(shape)}
        if attrs:
            n["attrs"] = attrs
        if source:
            n["source"] = source
        self.nodes.append(n)
        for k, v in tensors.items():
            self.t[f"{name}.{k}"] = v
        return name


@torch.no_grad()
def fold(model, cfg, img_size, mean, std, num_heads=8, encoding="image"):
    """Float folded graph (intref.Graph in float mode) plus the stream membership of each node.

    encoding "events": the model was trained on raw per-pixel event counts (2 channels), so
    the input unit is one event: zero points 0, scale 1, nothing to fold into the first conv.
    """
    b = _Builder()
    C, H, W = cfg["in_channels"], img_size[0], img_size[1]
    if encoding == "events":
        zp = torch.zeros(C, dtype=torch.int32)
        in_scale = torch.ones(C, dtype=torch.double)
    else:
        mean_t = torch.tensor(mean, dtype=torch.double)
        std_t = torch.tensor(std, dtype=torch.double)
        zp = torch.round(255 * mean_t).to(torch.int32)
        in_scale = 1.0 / (255 * std_t)
    b.add("input", "Input", [], [C, H, W], {"encoding": encoding},
          zero_point=zp)
    b.nodes[0]["quant"] = {"scale": [float(v) for v in in_scale]}
    streams = {}     # node name -> stream id (nodes whose output is a residual-stream membrane)
    groups = {}      # stream id -> conv names adding into it

    def conv_node(name, src, w, bias, stride, pad, shape_in, stream=None, source=None):
        O, _, kh, kw = w.shape
        Ho = (shape_in[1] + 2 * pad - kh) // stride + 1
        Wo = (shape_in[2] + 2 * pad - kw) // stride + 1
        b.add(name, "Conv2d", [src], [O, Ho, Wo],
              {"kernel": [kh, kw], "stride": [stride, stride], "padding": [pad, pad], "groups": 1},
              source=source, weight=w, bias=bias)
        if stream is not None:
            groups.setdefault(stream, []).append(name)
        return name, [O, Ho, Wo]

    def lif(name, src, shape, v_th=1.0):
        b.add(name, "LIF", [src], shape, {"tau_shift": 1}, source=name,
              threshold=torch.full((shape[0],), v_th, dtype=torch.double))
        return name

    def add(name, a, c, shape, stream):
        b.add(name, "Add", [a, c], shape)
        streams[name] = stream
        return name

    # The graph's input is (u8 - zp) * in_scale with zp = round(255 mean): it differs from the
    # official (u8/255 - mean)/std by the zero point's rounding (<= 0.5/(255 std), uniform
    # over the image), an input quantisation like any other. Folding that offset into the bias
    # instead would be wrong on the zero-padded border, so the graph takes it as is.
    w, bias = _conv_bn(model.downsample1_1.encode_conv, model.downsample1_1.encode_bn)
    w = w * in_scale.view(1, -1, 1, 1)     # the graph's input unit is one (u8 - zp) step
    st = model.strides     # downsample1_1, 1_2, 2, 3, 4 (official 2, 2, 2, 2, 1)
    cur, shape = conv_node("downsample1_1.encode_conv", "input", w, bias, st[0], 3, [C, H, W],
                           stream="s1_1", source="downsample1_1.encode_conv+encode_bn")
    streams[cur] = "s1_1"

    def conv_block(prefix, blk, u, shape, sid):
        c = shape[0]
        s = lif(f"{prefix}.Conv.lif1", u, shape)
        w, bb = _conv_bn(blk.Conv.pwconv1, blk.Conv.bn1)
        x, sh2 = conv_node(f"{prefix}.Conv.pwconv1", s, w, bb, 1, 0, shape,
                           source=f"{prefix}.Conv.pwconv1+bn1")
        s = lif(f"{prefix}.Conv.lif2", x, sh2)
        a2, b2 = _bn(blk.Conv.bn2)
        dw = blk.Conv.dwconv.weight.double()[:, 0]            # [2C, 7, 7]
        pw2 = blk.Conv.pwconv2.weight.double()[:, :, 0, 0]    # [C, 2C]
        w = pw2.view(c, -1, 1, 1) * dw.unsqueeze(0) * a2.view(-1, 1, 1, 1)
        x, _ = conv_node(f"{prefix}.Conv.pwconv2", s, w, b2, 1, 3, sh2, stream=sid,
                         source=f"{prefix}.Conv.dwconv+pwconv2+bn2")
        u1 = add(f"{prefix}.add1", u, x, shape, sid)
        s = lif(f"{prefix}.lif1", u1, shape)
        w, bb = _conv_bn(blk.conv1, blk.bn1)
        x, sh4 = conv_node(f"{prefix}.conv1", s, w, bb, 1, 1, shape, source=f"{prefix}.conv1+bn1")
        s = lif(f"{prefix}.lif2", x, sh4)
        w, bb = _conv_bn(blk.conv2, blk.bn2)
        x, _ = conv_node(f"{prefix}.conv2", s, w, bb, 1, 1, sh4, stream=sid,
                         source=f"{prefix}.conv2+bn2")
        return add(f"{prefix}.add2", u1, x, shape, sid)

    def ms_block(prefix, blk, u, shape, sid):
        at = blk.attn
        s = lif(f"{prefix}.attn.head_lif", u, shape)
        qkv = []
        for nm in ("q", "k", "v"):
            w, bb = _repconv(getattr(at, f"{nm}_conv"))
            x, _ = conv_node(f"{prefix}.attn.{nm}_conv", s, w, bb, 1, 1, shape,
                             source=f"{prefix}.attn.{nm}_conv (RepConv+BN)")
            qkv.append(lif(f"{prefix}.attn.{nm}_lif", x, shape))
        b.add(f"{prefix}.attn.sdsa", "SDSA", qkv, shape, {"heads": num_heads, "shift": SDSA_SHIFT},
              source=f"{prefix}.attn (k^T v, q @, *0.125)")
        s = lif(f"{prefix}.attn.attn_lif", f"{prefix}.attn.sdsa", shape, v_th=0.5)
        w, bb = _repconv(at.proj_conv)
        x, _ = conv_node(f"{prefix}.attn.proj_conv", s, w, bb, 1, 1, shape, stream=sid,
                         source=f"{prefix}.attn.proj_conv (RepConv+BN)")
        u1 = add(f"{prefix}.add1", u, x, shape, sid)
        s = lif(f"{prefix}.mlp.fc1_lif", u1, shape)
        w, bb = _conv_bn(blk.mlp.fc1_conv, blk.mlp.fc1_bn)
        x, sh4 = conv_node(f"{prefix}.mlp.fc1_conv", s, w, bb, 1, 0, shape,
                           source=f"{prefix}.mlp.fc1_conv+fc1_bn")
        s = lif(f"{prefix}.mlp.fc2_lif", x, sh4)
        w, bb = _conv_bn(blk.mlp.fc2_conv, blk.mlp.fc2_bn)
        x, _ = conv_node(f"{prefix}.mlp.fc2_conv", s, w, bb, 1, 0, sh4, stream=sid,
                         source=f"{prefix}.mlp.fc2_conv+fc2_bn")
        return add(f"{prefix}.add2", u1, x, shape, sid)

    def downsample(name, ds, u, shape, stride):
        s = lif(f"{name}.encode_lif", u, shape)
        w, bb = _conv_bn(ds.encode_conv, ds.encode_bn)
        x, sh = conv_node(f"{name}.encode_conv", s, w, bb, stride, 1, shape, stream=name,
                          source=f"{name}.encode_conv+encode_bn")
        streams[x] = name
        return x, sh

    cur = conv_block("ConvBlock1_1.0", model.ConvBlock1_1[0], cur, shape, "s1_1")
    cur, shape = downsample("downsample1_2", model.downsample1_2, cur, shape, st[1])
    cur = conv_block("ConvBlock1_2.0", model.ConvBlock1_2[0], cur, shape, "downsample1_2")
    cur, shape = downsample("downsample2", model.downsample2, cur, shape, st[2])
    cur = conv_block("ConvBlock2_1.0", model.ConvBlock2_1[0], cur, shape, "downsample2")
    cur = conv_block("ConvBlock2_2.0", model.ConvBlock2_2[0], cur, shape, "downsample2")
    cur, shape = downsample("downsample3", model.downsample3, cur, shape, st[3])
    for i, blk in enumerate(model.block3):
        cur = ms_block(f"block3.{i}", blk, cur, shape, "downsample3")
    cur, shape = downsample("downsample4", model.downsample4, cur, shape, st[4])
    for i, blk in enumerate(model.block4):
        cur = ms_block(f"block4.{i}", blk, cur, shape, "downsample4")
    count = shape[1] * shape[2]
    b.add("head_mean", "Mean", [cur], [shape[0], 1, 1], {"count": count})
    streams["head_mean"] = "downsample4"
    lif("lif", "head_mean", [shape[0], 1, 1])
    hw, hb = model.head.weight.double(), model.head.bias.double()
    if cfg["kd"]:
        hw = (hw + model.head_kd.weight.double()) / 2
        hb = (hb + model.head_kd.bias.double()) / 2
    b.add("head", "Linear", ["lif"], [hw.shape[0], 1, 1], source="head" + ("+head_kd" if cfg["kd"] else ""),
          weight=hw, bias=hb)
    b.add("output", "Output", ["head"], [hw.shape[0], 1, 1])
    g = Graph({"nodes": b.nodes, "timesteps": model.T}, b.t)
    return g, streams, groups


# ----------------------------------------------------------------------------- quantising

WEIGHT_BITS = (4, 6, 8, 12, 16)   # graph.json precision.weight_bits (int8 storage up to 8, int16 above)
MEMBRANE_BITS = (16, 24, 32)    # precision.membrane_bits


def _shift_and_int(w, s, qmax=127):
    """Per-output-channel shift >= 0 and integer weights in [-qmax, qmax] (int8 storage up to
    qmax 127, int16 above) for float w and membrane scale s."""
    m = w.abs().flatten(1).max(dim=1).values
    ratio = m / (qmax * s)
    shift = torch.where(ratio > 1, torch.floor(torch.log2(ratio.clamp(min=1))), torch.zeros_like(ratio))
    shift = shift.clamp(0, MAX_SHIFT)
    # floor(log2) may still leave max/(s*2^shift) a hair above qmax through rounding: check
    q = torch.round(w / (s * 2 ** shift).view(-1, *[1] * (w.dim() - 1)))
    over = q.abs().flatten(1).max(dim=1).values > qmax
    shift = shift + over.double()
    q = torch.round(w / (s * 2 ** shift).view(-1, *[1] * (w.dim() - 1))).clamp(-qmax, qmax)
    return q.to(torch.int8 if qmax <= 127 else torch.int16), shift.to(torch.uint8)


def _ideal_scale(w, qmax=127):
    m = w.abs().flatten(1).max(dim=1).values / qmax
    return torch.where(m > 0, m, torch.ones_like(m))


def layer_bits(name, weight_bits, layer_weight_bits):
    """The weight width of node `name`: the first (pattern, bits) of layer_weight_bits whose
    fnmatch pattern matches the node name, else the model's weight_bits."""
    for pattern, bits in layer_weight_bits or ():
        if fnmatch.fnmatchcase(name, pattern):
            return bits
    return weight_bits


def check_layer_weight_bits(layer_weight_bits):
    for pattern, bits in layer_weight_bits or ():
        if bits not in WEIGHT_BITS:
            raise CheckpointError(f"--layer-weight-bits {pattern}={bits}: supported widths are "
                                  f"{', '.join(map(str, WEIGHT_BITS))}")


REFINEMENTS = ("zero-point", "bias", "thresholds")   # spikechip-export --refine (quant_refine.py)


def check_refine(refine, calibration):
    for r in refine or ():
        if r not in REFINEMENTS:
            raise CheckpointError(f"--refine {r}: choose from {', '.join(REFINEMENTS)}")
    if "bias" in (refine or ()) and calibration is None:
        raise CheckpointError("--refine bias needs --calibration IMAGES.npy (the mean inputs of every conv)")


def precision_record(weight_bits=8, membrane_bits=32):
    """graph.json's "precision" entry: {} at the defaults 8 / 32 (files stay as they were)."""
    if weight_bits not in WEIGHT_BITS:
        raise CheckpointError(f"--weight-bits {weight_bits}: supported widths are {', '.join(map(str, WEIGHT_BITS))}")
    if membrane_bits not in MEMBRANE_BITS:
        raise CheckpointError(f"--membrane-bits {membrane_bits}: supported widths are "
                              f"{', '.join(map(str, MEMBRANE_BITS))}")
    if (weight_bits, membrane_bits) == (8, 32):
        return {}
    return {"precision": {"weight_bits": weight_bits, "membrane_bits": membrane_bits}}


def quantise(fg, streams, groups, weight_bits=8, membrane_bits=32, layer_weight_bits=None, peaks=None,
             refine=None):
    """Integer graph (intref.Graph, mode int) from the folded float graph: weights in
    [-(2^(b-1) - 1), 2^(b-1) - 1], biases and thresholds clamped to the membrane width.
    layer_weight_bits: [(fnmatch pattern, bits)] per-layer widths (graph.json node weight_bits).
    peaks: {node: per-channel max |float value|} from calibration images (intref.run peaks=):
    every membrane scale is then coarsened where needed so those values fit the membrane width
    (range calibration: without it the scale follows the weights alone, and wide weights on
    narrow membranes saturate).
    refine: a quant_refine.Refinement (zero-point residual, bias correction, exact thresholds),
    None for none."""
    prec = precision_record(weight_bits, membrane_bits)
    check_layer_weight_bits(layer_weight_bits)

    def qmax_of(name):
        return 2 ** (layer_bits(name, weight_bits, layer_weight_bits) - 1) - 1

    mlo, mhi = -(2 ** (membrane_bits - 1)), 2 ** (membrane_bits - 1) - 1
    nodes = [dict(n) for n in fg.nodes]
    ft, it = fg.tensors, {}
    # Calibrated range: the smallest scale at which every observed value of a node fits, a LIF's
    # H counted on its input node (it shares that scale).
    need = {}
    for n in nodes:
        if peaks and n["name"] in peaks:
            tgt = n["inputs"][0] if n["op"] == "LIF" else n["name"]
            v = peaks[n["name"]] * CALIBRATION_MARGIN / mhi
            need[tgt] = v if tgt not in need else torch.maximum(need[tgt], v)

    def at_least_need(s, members):
        for mbr in members:
            if mbr in need:
                s = torch.maximum(s, need[mbr].to(s.dtype))
        return s

    scale = {}    # node name -> per-channel float scale of its membrane output
    for sid, convs in groups.items():
        ideal = torch.stack([_ideal_scale(ft[c + ".weight"], qmax_of(c)) for c in convs])
        s = torch.maximum(ideal.min(dim=0).values, ideal.max(dim=0).values * 2.0 ** -STREAM_SPREAD)
        s = at_least_need(s, list(convs) + [n for n, st in streams.items() if st == sid])
        for c in convs:
            scale[c] = s
        for n, st in streams.items():
            if st == sid:
                scale[n] = s
    by_name = {n["name"]: n for n in nodes}
    readers = {}
    for n in nodes:
        for i in n["inputs"]:
            readers.setdefault(i, []).append(n["name"])
    err = {}      # exact thresholds: node -> bias rounding error per channel (integer - float, in units)
    for n in nodes:
        name, op = n["name"], n["op"]
        q = {}
        if op == "Input":
            it[name + ".zero_point"] = ft[name + ".zero_point"].to(torch.int32)
            q["scale"] = n["quant"]["scale"]
        elif op in ("Conv2d", "Linear"):
            w, bias = ft[name + ".weight"], ft[name + ".bias"]
            qmax = qmax_of(name)
            if layer_bits(name, weight_bits, layer_weight_bits) != weight_bits:
                n["weight_bits"] = layer_bits(name, weight_bits, layer_weight_bits)
            if name not in scale:
                s = at_least_need(_ideal_scale(w, qmax), [name])
                if op == "Linear":                     # the Output needs one scale for argmax
                    s = torch.full_like(s, float(s.min()))
                    s = torch.maximum(s, _ideal_scale(w, qmax).max() * 2.0 ** -STREAM_SPREAD)
                    s = torch.full_like(s, float(at_least_need(s, [name]).max()))
                scale[name] = s
            s = scale[name]
            wq, sh = _shift_and_int(w, s, qmax)
            it[name + ".weight"] = wq if op == "Conv2d" else wq.reshape(wq.shape[0], -1)
            it[name + ".shift"] = sh
            if refine is not None:
                lsb = (s * 2.0 ** sh.double()).view(-1, *[1] * (w.dim() - 1))
                bias = bias + refine.bias_shift(n, w, wq.double().reshape(w.shape) * lsb)
            it[name + ".bias"] = torch.round(bias / s).clamp(mlo, mhi).to(torch.int32)
            err[name] = it[name + ".bias"].double() - bias / s
            q["out_scale"] = [float(v) for v in s]
        elif op == "SDSA":
            scale[name] = torch.full((n["shape"][0],), SDSA_FLOAT_SCALE_OF(n), dtype=torch.double)
            q["out_scale"] = [float(v) for v in scale[name]]
        elif op == "Add":
            q["out_scale"] = [float(v) for v in scale[name]]
            err[name] = sum(err.get(i, 0.0) for i in n["inputs"])
        elif op == "Mean":
            q["out_scale"] = [float(v) for v in scale[name]]   # LSB of the sum
            err[name] = err.get(n["inputs"][0], 0.0) * n["attrs"]["count"]
        elif op == "LIF":
            src = n["inputs"][0]
            s = scale[src]
            vth = ft[name + ".threshold"]
            if by_name[src]["op"] == "Mean":
                vth = vth * by_name[src]["attrs"]["count"]    # Mean's division folded here
            th = torch.round(vth / s).clamp(1, mhi)
            if refine is not None and refine.thresholds:
                tau = n.get("attrs", {}).get("tau_shift", 1)
                bound = quant_refine.firing_bound(vth, s, err.get(src, 0.0), tau)
                if by_name[src]["op"] in ("Conv2d", "Linear") and src not in streams and readers[src] == [name]:
                    # its own conv: move the bias so that the bound is exactly 2^tau th
                    b = it[src + ".bias"].double() + th * 2 ** tau - bound
                    it[src + ".bias"] = b.clamp(mlo, mhi).to(torch.int32)
                else:
                    th = quant_refine.nearest_threshold(bound, tau, mhi)
            it[name + ".threshold"] = th.to(torch.int32)
        elif op == "Output":
            q["scale"] = float(scale[n["inputs"][0]][0])
        if q:
            n["quant"] = q
    return Graph({"nodes": nodes, **prec}, it)


def SDSA_FLOAT_SCALE_OF(node):
    return 0.125 / 2 ** node["attrs"]["shift"]


# ----------------------------------------------------------------------------- writing

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_model_dir(graph, out_dir, meta):
    """graph.json + weights.safetensors, written to temporaries and renamed (no half output). A
    failure of the disk (full, not writable) is a files.WriteError naming the file and the OS reason."""
    doc = dict(meta)
    doc["nodes"] = graph.nodes
    try:  # json.dump would write NaN / Infinity, which no JSON reader (the binary's included) takes
        text = json.dumps(doc, indent=1, allow_nan=False) + "\n"
    except ValueError as e:
        raise CheckpointError(f"{out_dir}: the model holds a number that is not finite (NaN or infinity: {e}); "
                              "check the checkpoint's weights and the --mean / --std normalisation") from None
    tensors = {k: v.numpy() if torch.is_tensor(v) else v for k, v in graph.tensors.items()}
    temps = []
    name = out_dir
    try:
        os.makedirs(out_dir, exist_ok=True)
        for _ in range(2):
            fd, tmp = tempfile.mkstemp(dir=out_dir, suffix=".tmp")
            os.close(fd)
            temps.append(tmp)
        tmpw, tmpg = temps
        name = os.path.join(out_dir, "weights.safetensors")
        safetensors.write(tmpw, tensors)
        name = os.path.join(out_dir, "graph.json")
        with open(tmpg, "w") as f:
            f.write(text)
        for p, final in ((tmpw, "weights.safetensors"), (tmpg, "graph.json")):
            name = os.path.join(out_dir, final)
            files.keep_mode(p, name)  # mkstemp made it 0600: the replaced file's mode, or the umask's
            fd = os.open(p, os.O_RDONLY)  # on the disk before the rename, as the C++ writers do
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(p, name)
    except OSError as e:
        raise files.write_error(name, e) from e
    finally:
        for p in temps:
            if os.path.exists(p):
                os.unlink(p)


def export(ckpt_path, out_dir, img_size=None, T=None, mean=None, std=None, num_heads=None,
           name=None, variant=None, encoding=None, warn=None, weight_bits=8, membrane_bits=32,
           layer_weight_bits=None, calibration=None, refine=(), strides=None):
    """Checkpoint -> model dir. Returns (model, float graph, int graph, graph.json dict).

    img_size, T, num_heads: None takes the checkpoint's own record ('config', or the official
    'args': input_size, time_steps), else 224x224, T = 1, 8 heads (ckpt_settings.resolve);
    disagreements are reported through warn(message) (default: warnings.warn, CheckpointWarning).
    encoding: "image" or "events" (default: the checkpoint's 'encoding' entry, else image).
    An events model takes 2-channel u8 event-count frames as they are (no normalisation).
    weight_bits / membrane_bits: the integer widths (docs/semantics.md), 8 / 32 by default;
    layer_weight_bits: [(fnmatch pattern, bits)], per-layer weight widths (first match wins);
    calibration: None, or (name, u8 images [N,C,H,W]) whose float activations set the membrane
    ranges (quantise's peaks);
    refine: any of REFINEMENTS (spikechip_py/quant_refine.py; "bias" needs calibration);
    strides: the five downsampling strides (None: the checkpoint's config 'strides', else the
    official 2,2,2,2,1)."""
    precision_record(weight_bits, membrane_bits)   # refuse unsupported widths before any work
    check_refine(refine, calibration)
    check_layer_weight_bits(layer_weight_bits)
    if warn is None:
        def warn(msg):
            warnings.warn(msg, CheckpointWarning, stacklevel=3)
    sd, extras = load_checkpoint(ckpt_path)
    cfg = infer_config(sd, ckpt_path)
    flags = {"img_size": tuple(img_size) if img_size else None, "T": T, "num_heads": num_heads,
             "strides": tuple(strides) if strides else None}
    settings, _, model_name, warns = ckpt_settings.resolve(extras, cfg, flags)
    for w in warns:
        warn(f"{ckpt_path}: {w}")
    img_size, T, num_heads = settings["img_size"], settings["T"], settings["num_heads"]
    model, cfg = build_checked(sd, ckpt_path, num_heads, img_size, T, settings["strides"])
    source = _source_of(ckpt_path)
    if model_name:
        source["model_name"] = model_name
    encoding = encoding or extras.get("encoding", "image")
    if encoding not in ("image", "events"):
        raise CheckpointError(f"{ckpt_path}: input encoding must be 'image' or 'events', "
                              f"got {encoding!r}")
    if encoding == "events":
        if cfg["in_channels"] != 2:
            raise CheckpointError(f"{ckpt_path}: an events model needs in_channels = 2 (OFF, ON "
                                  f"counts), this checkpoint has {cfg['in_channels']}")
        if mean is not None or std is not None:
            raise CheckpointError("--mean/--std do not apply to an events model (raw counts)")
        return _export_folded(source, out_dir, model, cfg, img_size, T, None, None,
                              num_heads, name, variant, encoding, weight_bits, membrane_bits,
                              layer_weight_bits, calibration, refine)
    norm = extras.get("normalize", {})
    mean = mean or norm.get("mean")
    std = std or norm.get("std")
    if mean is None or std is None:
        if cfg["in_channels"] != 3:
            raise CheckpointError(f"{ckpt_path}: {cfg['in_channels']}-channel model without "
                                  "'normalize' in the checkpoint: pass --mean and --std")
        mean, std = IMAGENET_MEAN, IMAGENET_STD
    if len(mean) != cfg["in_channels"] or len(std) != cfg["in_channels"]:
        raise CheckpointError(f"--mean/--std need {cfg['in_channels']} values")
    return _export_folded(source, out_dir, model, cfg, img_size, T, mean, std, num_heads,
                          name, variant, encoding, weight_bits, membrane_bits, layer_weight_bits,
                          calibration, refine)


def export_module(model, out_dir, img_size, T, mean=None, std=None, num_heads=8, name=None,
                  variant=None, encoding="image", weight_bits=8, membrane_bits=32):
    """A PyTorch Meta-SpikeFormer (in memory, e.g. during training) -> model dir, as export() does
    for a checkpoint. Returns (float graph, int graph, graph.json dict). The module is folded in
    eval mode and left in the mode it was in."""
    cfg = infer_config(model.state_dict(), "module")
    check_finite(model.state_dict(), "module")
    if encoding == "image" and (mean is None or std is None):
        raise CheckpointError("a module of an image model needs mean and std (the input normalisation)")
    was_training = model.training
    model.eval()
    try:
        _, fg, ig, meta = _export_folded({"source_file": "(torch module)", "source_sha256": None}, out_dir, model,
                                         cfg, tuple(img_size), T, mean, std, num_heads, name, variant, encoding,
                                         weight_bits, membrane_bits)
    finally:
        model.train(was_training)
    return fg, ig, meta


def _source_of(ckpt_path):
    return {"source_file": os.path.basename(ckpt_path), "source_sha256": sha256_file(ckpt_path)}


def _export_folded(source, out_dir, model, cfg, img_size, T, mean, std, num_heads, name,
                   variant, encoding, weight_bits=8, membrane_bits=32, layer_weight_bits=None,
                   calibration=None, refine=()):
    fg, streams, groups = fold(model, cfg, img_size, mean, std, num_heads, encoding)
    rf = None
    if refine:
        rf = quant_refine.Refinement(
            zp_residual=quant_refine.zp_residual_of(fg, mean) if "zero-point" in refine and encoding == "image" else None,
            input_means=quant_refine.input_means(fg, calibration[1], T) if "bias" in refine else None,
            thresholds="thresholds" in refine, input_shape=fg.nodes[0]["shape"])
    if calibration is None:
        ig = quantise(fg, streams, groups, weight_bits, membrane_bits, layer_weight_bits, refine=rf)
    else:
        ig = quantise_calibrated(fg, streams, groups, weight_bits, membrane_bits, layer_weight_bits,
                                 calibration[1], T, refine=rf)
    meta = {
        "format_version": 1,
        "name": name or os.path.basename(os.path.normpath(out_dir)),
        "timesteps": T,
        "num_classes": cfg["num_classes"],
        **precision_record(weight_bits, membrane_bits),
        "provenance": {
            "source": "spikechip-export", "source_file": source["source_file"],
            "source_sha256": source["source_sha256"], "variant": variant or _variant_name(cfg),
            "embed_dim": cfg["embed_dim"], "blocks": [1, 1, 2, cfg["blocks3"], cfg["blocks4"]],
            "kd_heads_averaged": cfg["kd"], "num_heads": num_heads,
            "input_size": list(img_size), "T": T, "input_encoding": encoding,
            **({"strides": list(model.strides)} if tuple(model.strides) != OFFICIAL_STRIDES else {}),
            **({"model_name": source["model_name"]} if "model_name" in source else {}),
            "normalize": ({"mean": list(mean), "std": list(std)} if encoding == "image"
                          else "none (raw event counts)"),
            "quantisation": {"weights": ("int8 per output channel, shift 0..24" if weight_bits == 8 else
                                         f"{weight_bits}-bit ({'int8' if weight_bits <= 8 else 'int16'} storage) "
                                         "per output channel, shift 0..24")
                                        + ("; per-layer widths: " + ", ".join(f"{p}={b}" for p, b in layer_weight_bits)
                                           if layer_weight_bits else ""),
                             "stream_scale": "per channel, min over contributing convs of "
                                             f"max|w|/{2 ** (weight_bits - 1) - 1} (clamped to 2^-12 of the max)",
                             "sdsa_shift": SDSA_SHIFT,
                             **({"calibration": f"membrane ranges from {len(calibration[1])} images of "
                                                f"{calibration[0]} (float activations, max |value| per channel)"}
                                if calibration is not None else {}),
                             **({"refinements": rf.describe()} if rf is not None and rf.describe() else {})},
            "created_by": f"spikechip {__version__}"},
    }
    write_model_dir(ig, out_dir, meta)
    return model, fg, ig, meta


def calibration_peaks(fg, images, T, batch=64):
    """Per-channel max |float value| of every membrane of the folded float graph on u8 images."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise CheckpointError(f"calibration images must be u8 [N, C, H, W], got {images.dtype} {list(images.shape)}")
    peaks = {}
    for i in range(0, len(images), batch):
        _intref_run(fg, images[i:i + batch], T=T, mode="float", record=False, peaks=peaks)
    return peaks


def quantise_calibrated(fg, streams, groups, weight_bits, membrane_bits, layer_weight_bits, images, T,
                        rounds=8, refine=None):
    """quantise() with ranges from the float activations on `images`, then checked on the integer
    model itself: its spikes can differ from the float model's, so its membranes can go past the
    float peaks; every channel that still saturates on the calibration images gets twice the range,
    until none does (at most `rounds` times). Returns the integer graph."""
    peaks = calibration_peaks(fg, images, T)
    mhi = 2 ** (membrane_bits - 1) - 1
    for _ in range(rounds):
        ig = quantise(fg, streams, groups, weight_bits, membrane_bits, layer_weight_bits, peaks, refine)
        seen = {}
        for i in range(0, len(images), 64):
            _intref_run(ig, images[i:i + 64], T=T, record=False, peaks=seen)
        over = {n: v >= mhi for n, v in seen.items() if bool((v >= mhi).any())}
        if not over:
            break
        for n, hit in over.items():
            peaks[n] = torch.where(hit, peaks[n] * 2, peaks[n])
    return ig


def _variant_name(cfg):
    from .model import VARIANTS
    for k, v in VARIANTS.items():
        if v == cfg["embed_dim"] and cfg["blocks3"] == 6 and cfg["blocks4"] == 2:
            return k
    return "custom-" + "-".join(map(str, cfg["embed_dim"])) + f"-b{cfg['blocks3']}{cfg['blocks4']}"
