"""Synthetic DVS event traces from still images (saccade model) and the .evt format.

Motion model: the image is moved along a closed triangle of micro-saccades (vertices
(0,0) -> (+A, +A/2) -> (-A/2, +A) -> (0,0) pixels, amplitude A = 1.5 px by default), each
leg `leg_ms` long, sampled every `dt_us` with bilinear interpolation (zero outside the image).
A DVS pixel keeps a reference log-intensity L_ref = log(I + eps) (I in [0,1], eps = 0.1 models
the dark current); whenever |log(I + eps) - L_ref| >= contrast (0.15, a typical DVS threshold),
it emits floor(|diff| / contrast) events of the sign of the change (ON = brighter) at that
sample's timestamp and moves L_ref by that many thresholds. Events are ordered by
(timestamp, y, x). Deterministic: no noise.

.evt (docs/traces.md): 16-byte header "SCEVT001", u16 width, u16 height, u32 count, then
count records {u16 x, u16 y, u32 packed}: bits 0..30 timestamp (us), bit 31 polarity (1 = ON).
"""
import math
import struct

import numpy as np

from . import files

MAGIC = b"SCEVT001"
REC = np.dtype([("x", "<u2"), ("y", "<u2"), ("packed", "<u4")])


def _shift_bilinear(img, dx, dy):
    """img [..., H, W] moved by (dx, dy) pixels, bilinear, zeros outside."""
    H, W = img.shape[-2:]
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    sx, sy = xs - dx, ys - dy
    x0, y0 = np.floor(sx).astype(int), np.floor(sy).astype(int)
    fx, fy = sx - x0, sy - y0
    out = np.zeros(img.shape, dtype=np.float64)
    for ox, wx in ((0, 1 - fx), (1, fx)):
        for oy, wy in ((0, 1 - fy), (1, fy)):
            xi, yi = x0 + ox, y0 + oy
            ok = (xi >= 0) & (xi < W) & (yi >= 0) & (yi < H)
            v = np.zeros_like(out)
            v[..., ok] = img[..., yi[ok], xi[ok]]
            out += wx * wy * v
    return out


def _saccade_path(amplitude, leg_ms, dt_us):
    """[(k, dx, dy)]: sample index (timestamp k * dt_us) and displacement of every sample."""
    a = amplitude
    verts = [(0.0, 0.0), (a, a / 2), (-a / 2, a), (0.0, 0.0)]
    steps = max(1, leg_ms * 1000 // dt_us)
    path, k = [], 0
    for (x0, y0), (x1, y1) in zip(verts[:-1], verts[1:]):
        for s in range(1, steps + 1):
            k += 1
            f = s / steps
            path.append((k, x0 + f * (x1 - x0), y0 + f * (y1 - y0)))
    return path


def saccade_events(img_u8, amplitude=1.5, leg_ms=50, dt_us=1000, contrast=0.15, eps=0.1,
                   t0_us=0):
    """Events (structured array x, y, t_us, p) of one grey image [H,W] u8."""
    img = img_u8.astype(np.float64) / 255.0
    lref = np.log(img + eps)
    xs, ys, ts, ps = [], [], [], []
    for k, dx, dy in _saccade_path(amplitude, leg_ms, dt_us):
        cur = np.log(_shift_bilinear(img, dx, dy) + eps)
        diff = cur - lref
        n = np.floor(np.abs(diff) / contrast).astype(int)
        yy, xx = np.nonzero(n)
        for y, x in zip(yy, xx):
            cnt = n[y, x]
            on = diff[y, x] > 0
            xs += [x] * cnt
            ys += [y] * cnt
            ts += [t0_us + k * dt_us] * cnt
            ps += [1 if on else 0] * cnt
            lref[y, x] += (1 if on else -1) * cnt * contrast
    ev = np.zeros(len(xs), dtype=[("x", "<u2"), ("y", "<u2"), ("t", "<i8"), ("p", "u1")])
    ev["x"], ev["y"], ev["t"], ev["p"] = xs, ys, ts, ps
    order = np.lexsort((ev["x"], ev["y"], ev["t"]))
    return ev[order]


def write_evt(path, ev, width, height):
    if len(ev) == 0:
        raise ValueError("an event trace needs at least one event")
    t = ev["t"].astype(np.int64)
    if t.min() < 0 or t.max() >= 2 ** 31 or np.any(np.diff(t) < 0):
        raise ValueError("timestamps must be non-decreasing in 0 .. 2^31-1")
    rec = np.zeros(len(ev), dtype=REC)
    rec["x"], rec["y"] = ev["x"], ev["y"]
    rec["packed"] = (t.astype(np.uint32) & 0x7FFFFFFF) | (ev["p"].astype(np.uint32) << 31)
    with files.atomic_open(path, "wb") as f:  # whole or not at all (a full disk: files.WriteError)
        f.write(MAGIC + struct.pack("<HHI", width, height, len(ev)))
        f.write(rec.tobytes())


def read_evt(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:8] != MAGIC:
        raise ValueError(f"{path}: not an .evt file (magic {raw[:8]!r})")
    w, h, n = struct.unpack("<HHI", raw[8:16])
    if len(raw) != 16 + 8 * n:
        raise ValueError(f"{path}: {len(raw)} bytes, expected {16 + 8 * n} for {n} events")
    rec = np.frombuffer(raw, dtype=REC, offset=16)
    ev = np.zeros(n, dtype=[("x", "<u2"), ("y", "<u2"), ("t", "<i8"), ("p", "u1")])
    ev["x"], ev["y"] = rec["x"], rec["y"]
    ev["t"] = rec["packed"] & 0x7FFFFFFF
    ev["p"] = rec["packed"] >> 31
    return ev, w, h


def bin_frames(ev, T, width, height):
    """[T, 2, H, W] u8 counts (channel 0 OFF, 1 ON, saturating at 255), docs/traces.md."""
    t = ev["t"].astype(np.int64)
    t0, t1 = int(t[0]), int(t[-1])
    frame = (t - t0) * T // (t1 - t0 + 1)
    out = np.zeros((T, 2, height, width), np.int64)
    np.add.at(out, (frame, ev["p"].astype(np.int64), ev["y"].astype(np.int64),
                    ev["x"].astype(np.int64)), 1)
    return np.minimum(out, 255).astype(np.uint8)


def _shift_plan(H, W, dx, dy):
    """The four (weight array, y offset, x offset) terms of _shift_bilinear, or None when the
    integer offsets are not uniform over the image (then only the gather form is exact)."""
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    sx, sy = xs - dx, ys - dy
    x0, y0 = np.floor(sx).astype(int), np.floor(sy).astype(int)
    fx, fy = sx - x0, sy - y0
    offx, offy = x0 - xs.astype(int), y0 - ys.astype(int)
    if offx.min() != offx.max() or offy.min() != offy.max():
        return None
    return [(wx * wy, int(offy[0, 0]) + oy, int(offx[0, 0]) + ox)
            for ox, wx in ((0, 1 - fx), (1, fx)) for oy, wy in ((0, 1 - fy), (1, fy))]


def saccade_frames(imgs_u8, T, amplitude=1.5, leg_ms=50, dt_us=1000, contrast=0.15, eps=0.1,
                   chunk=256):
    """[N, T, 2, H, W] u8 == bin_frames(saccade_events(img), T) of every image in [N, H, W].

    The same pixel model vectorised over the batch, without event lists: the per-pixel float
    operations are the same as saccade_events' (same weights, same summation order; the shifted
    copies come from slices of a zero-padded image instead of a masked gather, which reads the
    same values), so the counts are identical (tests/python/test_events.py). An image without
    any event (blank) gives all-zero frames.
    """
    imgs_u8 = np.asarray(imgs_u8)
    N, H, W = imgs_u8.shape
    path = _saccade_path(amplitude, leg_ms, dt_us)
    plans = [_shift_plan(H, W, dx, dy) for _, dx, dy in path]
    P = 2 + int(math.ceil(amplitude))
    K = len(path)
    t = np.array([k for k, _, _ in path], np.int64) * dt_us
    out = np.zeros((N, T, 2, H, W), np.uint8)
    for c0 in range(0, N, chunk):
        img = imgs_u8[c0:c0 + chunk].astype(np.float64) / 255.0
        n_img = img.shape[0]
        padded = np.pad(img, ((0, 0), (P, P), (P, P)))
        lref = np.log(img + eps)
        counts = np.zeros((K, n_img, 2, H, W), np.uint8)     # events per sample, OFF/ON
        for j, (_, dx, dy) in enumerate(path):
            if plans[j] is None:
                shifted = _shift_bilinear(img, dx, dy)
            else:
                shifted = np.zeros_like(img)
                for wgt, oy, ox in plans[j]:
                    shifted += wgt * padded[:, P + oy:P + oy + H, P + ox:P + ox + W]
            diff = np.log(shifted + eps) - lref
            n = np.floor(np.abs(diff) / contrast).astype(int)
            if n.max() > 255:
                raise ValueError("more than 255 events of one pixel in one sample")
            on = diff > 0
            counts[j, :, 1] = np.where(on, n, 0)
            counts[j, :, 0] = np.where(on, 0, n)
            lref += np.where(on, 1, -1) * n * contrast
        # binning per image: t0/t1 = its first/last sample with an event (docs/traces.md)
        active = counts.reshape(K, n_img, -1).any(axis=2)            # [K, n]
        for i in range(n_img):
            hit = np.nonzero(active[:, i])[0]
            if len(hit) == 0:
                continue
            t0, t1 = t[hit[0]], t[hit[-1]]
            sel = np.arange(hit[0], hit[-1] + 1)
            frame = (t[sel] - t0) * T // (t1 - t0 + 1)
            for f in range(T):
                acc = counts[sel[frame == f], i].sum(axis=0, dtype=np.int64)
                out[c0 + i, f] = np.minimum(acc, 255)
    return out
