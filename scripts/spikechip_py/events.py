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
import struct

import numpy as np

MAGIC = b"SCEVT001"
REC = np.dtype([("x", "<u2"), ("y", "<u2"), ("packed", "<u4")])


def _shift_bilinear(img, dx, dy):
    """img moved by (dx, dy) pixels, bilinear, zeros outside."""
    H, W = img.shape
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    sx, sy = xs - dx, ys - dy
    x0, y0 = np.floor(sx).astype(int), np.floor(sy).astype(int)
    fx, fy = sx - x0, sy - y0
    out = np.zeros_like(img, dtype=np.float64)
    for ox, wx in ((0, 1 - fx), (1, fx)):
        for oy, wy in ((0, 1 - fy), (1, fy)):
            xi, yi = x0 + ox, y0 + oy
            ok = (xi >= 0) & (xi < W) & (yi >= 0) & (yi < H)
            v = np.zeros_like(out)
            v[ok] = img[yi[ok], xi[ok]]
            out += wx * wy * v
    return out


def saccade_events(img_u8, amplitude=1.5, leg_ms=50, dt_us=1000, contrast=0.15, eps=0.1,
                   t0_us=0):
    """Events (structured array x, y, t_us, p) of one grey image [H,W] u8."""
    img = img_u8.astype(np.float64) / 255.0
    a = amplitude
    verts = [(0.0, 0.0), (a, a / 2), (-a / 2, a), (0.0, 0.0)]
    steps = max(1, leg_ms * 1000 // dt_us)
    lref = np.log(img + eps)
    xs, ys, ts, ps = [], [], [], []
    k = 0
    for (x0, y0), (x1, y1) in zip(verts[:-1], verts[1:]):
        for s in range(1, steps + 1):
            k += 1
            f = s / steps
            cur = np.log(_shift_bilinear(img, x0 + f * (x1 - x0), y0 + f * (y1 - y0)) + eps)
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
    with open(path, "wb") as f:
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
