import numpy as np

from conftest import REPO
from spikechip_py import events


def test_saccade_trace_roundtrip_and_binning(tmp_path):
    img = np.zeros((28, 28), np.uint8)
    img[8:20, 10:18] = 200
    ev = events.saccade_events(img, leg_ms=10)
    assert len(ev) > 0 and ev["p"].min() == 0 and ev["p"].max() == 1
    assert np.all(np.diff(ev["t"]) >= 0)
    p = tmp_path / "a.evt"
    events.write_evt(str(p), ev, 28, 28)
    raw = p.read_bytes()
    assert raw[:8] == b"SCEVT001" and len(raw) == 16 + 8 * len(ev)
    back, w, h = events.read_evt(str(p))
    assert (w, h) == (28, 28)
    for k in ("x", "y", "t", "p"):
        assert np.array_equal(back[k], ev[k])
    fr = events.bin_frames(back, 4, 28, 28)
    assert fr.shape == (4, 2, 28, 28) and fr.dtype == np.uint8
    assert int(fr.sum()) == len(ev)
    assert int(fr[:, 1].sum()) == int(ev["p"].sum())
    # deterministic
    assert events.saccade_events(img, leg_ms=10).tobytes() == ev.tobytes()


def test_shipped_trace_readable():
    ev, w, h = events.read_evt(f"{REPO}/traces/fmnist_saccade.evt")
    assert (w, h) == (28, 28) and len(ev) > 100


def test_saccade_frames_equal_binned_events():
    """The vectorised dataset converter == bin_frames(saccade_events(img)) image by image."""
    from spikechip_py import data
    imgs, _ = data.load("test")
    sel = imgs[[0, 1, 2, 7], 0].copy()
    sel[3] = 0                                   # blank image: no event, all-zero frames
    for T in (2, 3):
        got = events.saccade_frames(sel, T, chunk=3)
        for i in range(3):
            ref = events.bin_frames(events.saccade_events(sel[i]), T, 28, 28)
            assert np.array_equal(got[i], ref), (T, i)
        assert not got[3].any()
