"""Quantisation refinements after the scales are chosen (issue 16 item 2; docs/models.md
"Quantisation"): each moves an integer bias or threshold, never the semantics, so golden ==
intref == chip stays bit for bit whatever is chosen.

- zero-point residual: the graph's input is u8 - round(255 mean); the float model's is
  u8 - 255 mean. The first conv's missing term, sum of w * (round(255 mean) - 255 mean), goes into
  its bias, weighted per tap by the share of output positions where that tap is inside the image
  (the zero-padded border gets no offset in the float model either), so it is exact on average.
- bias correction (Nagel et al., "Data-Free Quantization", 2019, sec. 4.2, with data): each conv's
  rounded weights shift its mean output by sum (w - w_int * scale) * E[input]; the expectation,
  per tap, comes from the float model's own inputs to that conv on calibration images
  (teacher-forced), and the shift is taken out of the bias.
- exact thresholds: a LIF with tau shift k fires at T = 1 when its integer input u >= 2^k theta_int;
  the float one when u * scale (plus the biases' rounding error e) >= 2^k theta, i.e. at
  u >= ceil(2^k theta / scale - e). A LIF fed by its own conv (not a residual stream) gets that
  bound exactly, through its conv's bias; one on a stream (several readers) gets the nearest
  threshold (within 2^(k-1) steps, where rounding theta alone is within 2^k / 2 + |e|).
"""
import numpy as np
import torch
import torch.nn.functional as F

from .intref import run as _intref_run


def _taps(node, x):
    """Unfolded input of a Conv2d / Linear node: [B, C*kh*kw, positions] (zero padding)."""
    if node["op"] == "Linear":
        return x.reshape(x.shape[0], -1, 1)
    a = node.get("attrs", {})
    return F.unfold(x, tuple(a["kernel"]), padding=tuple(a.get("padding", [0, 0])),
                    stride=tuple(a.get("stride", [1, 1])))


def tap_means(node, x):
    """Mean of every tap of `node` over inputs x [B, C, H, W] (float64) and output positions."""
    return _taps(node, x.double()).mean(dim=(0, 2))


class Refinement:
    """What quantise() applies beyond its scales. zp_residual: per input channel
    round(255 mean) - 255 mean (None: off); input_means: {conv name: mean tap values [C*kh*kw]}
    of the float model on calibration images (None: no bias correction); thresholds: bool."""

    def __init__(self, zp_residual=None, input_means=None, thresholds=False, input_shape=None):
        self.zp_residual, self.input_means, self.thresholds = zp_residual, input_means, thresholds
        self.input_shape = input_shape

    def describe(self):
        parts = []
        if self.zp_residual is not None:
            parts.append("input zero-point residual folded into the first conv's bias (border-weighted)")
        if self.input_means is not None:
            parts.append("bias correction (mean output shift of the rounded weights on the calibration images)")
        if self.thresholds:
            parts.append("exact thresholds (LIF bound ceil(2^tau theta / scale - bias rounding), via the bias "
                         "of a LIF's own conv, else the nearest threshold)")
        return "; ".join(parts)

    def bias_shift(self, node, w, w_int_scaled):
        """Float amount to add to `node`'s bias before rounding (per output channel)."""
        out = torch.zeros(w.shape[0], dtype=torch.double)
        flat = (w - w_int_scaled).reshape(w.shape[0], -1)
        if self.input_means is not None and node["name"] in self.input_means:
            out = out + flat @ self.input_means[node["name"]]
        if self.zp_residual is not None and node["inputs"] == ["input"]:
            C, H, W = self.input_shape
            img = self.zp_residual.view(1, -1, 1, 1).double() * torch.ones(1, C, H, W, dtype=torch.double)
            out = out + w.reshape(w.shape[0], -1) @ tap_means(node, img)
        return out


def input_means(fg, images, T, batch=64):
    """{Conv2d / Linear name: mean tap values} of the folded float graph `fg` on u8 images,
    each conv reading the float model's own spikes (or input) at every timestep."""
    by_name = {n["name"]: n for n in fg.nodes}
    convs = [n for n in fg.nodes if n["op"] in ("Conv2d", "Linear")]
    zp = fg.tensors["input.zero_point"].to(torch.double).view(1, -1, 1, 1)
    sums, count = {}, 0
    for i in range(0, len(images), batch):
        xb = images[i:i + batch]
        spikes = _intref_run(fg, xb, T=T, mode="float")["spikes"]
        for n in convs:
            src = n["inputs"][0]
            for t in range(T):
                if by_name[src]["op"] == "Input":
                    frame = torch.as_tensor(np.asarray(xb))
                    x = (frame[t] if frame.dim() == 5 else frame).double() - zp
                else:
                    x = torch.from_numpy(spikes[src][t]).double()
                s = tap_means(n, x) * x.shape[0]
                sums[n["name"]] = s if n["name"] not in sums else sums[n["name"]] + s
        count += len(xb) * T
    return {k: v / count for k, v in sums.items()}


def firing_bound(theta, scale, err, tau):
    """The smallest integer LIF input (membrane units) at which the float LIF fires at T = 1,
    given the input's accumulated bias rounding error err (integer minus float, in units)."""
    v = (2 ** tau) * theta / scale + err
    return torch.ceil(v - 1e-9)


def nearest_threshold(bound, tau, hi):
    """The integer threshold whose firing bound 2^tau theta_int is nearest `bound`."""
    return torch.floor(bound / 2 ** tau + 0.5).clamp(1, hi)


def zp_residual_of(fg, mean):
    zp = fg.tensors["input.zero_point"].to(torch.double)
    return zp - 255 * torch.tensor(mean, dtype=torch.double)

