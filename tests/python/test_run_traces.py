"""`spikechip run --trace-json / --vcd / --trace-window / --trace-max-events` (docs/reports.md,
"Run traces") on the shipped event model + trace: the files parse, cover every core that worked
inside the window, respect the window and the event cap, and are byte-identical across runs."""
import json
import os
import re
import subprocess

import pytest

from conftest import REPO

MODEL = os.path.join(REPO, "models", "fmnist-events")
TRACE = os.path.join(REPO, "traces", "fmnist_saccade.evt")
CHIP = os.path.join(REPO, "arch", "presets", "tiny.json")


def _binary():
    path = os.environ.get("SPIKECHIP_BINARY") or os.path.join(REPO, "build", "spikechip")
    if not os.path.exists(path):
        pytest.skip(f"C++ binary not built ({path}); build it or set SPIKECHIP_BINARY")
    return path


def _run(tmp, *extra):
    out = tmp / "run"
    r = subprocess.run([_binary(), "run", "--model", MODEL, "--chip", CHIP, "--input", TRACE,
                        "-o", str(out), "--quiet", "--trace-json", str(tmp / "t.json"),
                        "--vcd", str(tmp / "t.vcd"), *extra], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with open(out / "report.json") as f:
        return json.load(f)


def read_vcd(path):
    """Minimal VCD reader: ({id: (name, width)}, [(time, id, value)]), checking the syntax."""
    text = open(path).read()
    head, sep, body = text.partition("$enddefinitions $end")
    assert sep, "no $enddefinitions"
    assert re.search(r"\$timescale\s+1\s+ps\s+\$end", head)
    vars_ = {}
    for m in re.finditer(r"\$var\s+wire\s+(\d+)\s+(\S+)\s+(\S+)\s+\$end", head):
        vars_[m.group(2)] = (m.group(3), int(m.group(1)))
    assert vars_
    changes, t, in_comment = [], None, False
    for line in body.split("\n"):
        line = line.strip()
        if not line or line in ("$dumpvars", "$end"):
            in_comment = in_comment and line != "$end"
            continue
        if line == "$comment":
            in_comment = True
            continue
        if in_comment:
            continue
        if line.startswith("#"):
            nt = int(line[1:])
            assert t is None or nt > t, f"timestamps not increasing: {t} then {nt}"
            t = nt
        elif line[0] in "01xz":
            assert line[1:] in vars_ and vars_[line[1:]][1] == 1, line
            changes.append((t, line[1:], int(line[0])))
        elif line[0] == "b":
            bits, ident = line[1:].split()
            assert ident in vars_ and len(bits) <= vars_[ident][1], line
            changes.append((t, ident, int(bits, 2)))
        else:
            raise AssertionError(f"unexpected VCD line {line!r}")
    return vars_, changes


def test_traces_in_window(tmp_path):
    full = _run(tmp_path)
    ends = full["inputs"][0]["timestep_end_cycles"]
    a, b = ends[0] // 3, ends[0] + (ends[-1] - ends[0]) // 2      # spans the timestep-0 boundary
    rep = _run(tmp_path, "--trace-window", f"{a}:{b}")
    clock = rep["chip"]["clock_hz"]
    us = 1e6 / clock
    doc = json.load(open(tmp_path / "t.json"))
    assert doc["otherData"]["window_cycles"] == [a, b]
    ev = [e for e in doc["traceEvents"] if e["ph"] in ("X", "i")]
    assert ev and not doc["otherData"]["truncated"]
    for e in ev:
        assert {"name", "cat", "ph", "ts", "pid", "tid"} <= set(e)
        assert a * us - 1e-9 <= e["ts"] and e["ts"] + e.get("dur", 0) <= b * us + 1e-9, e
        if e["ph"] == "X":
            assert a <= e["args"]["start_cycles"] < e["args"]["end_cycles"] <= b
    # every core whose node unit worked inside the window (report timeline, same window) has
    # events, and so does every core with a busy interval there in the unwindowed trace
    worked = {t["core"] for t in rep["timeline"] if t["end_cycles"] > a and t["start_cycles"] < b}
    pids = {e["pid"] for e in ev if e["ph"] == "X"}
    assert worked and worked <= pids
    mesh = rep["chip"]["mesh"][0] * rep["chip"]["mesh"][1]
    assert mesh in pids, "no link activity in the window"
    named = {e["pid"] for e in doc["traceEvents"] if e["ph"] == "M" and e["name"] == "process_name"}
    assert pids <= named
    # timestep 0's end lies in the window: its marker is there
    assert any(e["ph"] == "i" and e["args"]["cycle"] == ends[0] for e in ev)
    assert rep["traces"][0]["events"] == len(ev) and rep["traces"][0]["window_cycles"] == [a, b]

    vars_, ch = read_vcd(tmp_path / "t.vcd")
    ps = round(1e12 / clock)
    assert all(a * ps <= t <= b * ps for t, _, _ in ch)
    names = {v[0] for v in vars_.values()}
    for c in worked:
        x, y = c % rep["chip"]["mesh"][0], c // rep["chip"]["mesh"][0]
        assert f"core_{x}_{y}_busy" in names
    assert any(n.startswith("link_") for n in names)
    done = [t for t, i, v in ch if vars_[i][0] == "timestep_done" and v == 1]
    assert done == [ends[0] * ps]
    assert rep["traces"][1]["format"] == "vcd" and not rep["traces"][1]["truncated"]

    # deterministic: byte-identical files on a second run
    j1, v1 = (tmp_path / "t.json").read_bytes(), (tmp_path / "t.vcd").read_bytes()
    _run(tmp_path, "--trace-window", f"{a}:{b}")
    assert (tmp_path / "t.json").read_bytes() == j1 and (tmp_path / "t.vcd").read_bytes() == v1


def test_trace_event_cap_is_recorded(tmp_path):
    rep = _run(tmp_path, "--trace-max-events", "10")
    doc = json.load(open(tmp_path / "t.json"))
    assert len([e for e in doc["traceEvents"] if e["ph"] != "M"]) == 10
    assert doc["otherData"]["truncated"] and doc["otherData"]["dropped_events"] > 0
    assert "truncated:" in open(tmp_path / "t.vcd").read()
    vars_, ch = read_vcd(tmp_path / "t.vcd")
    assert len(ch) <= 10 + len(vars_)   # the cap counts changes, not the initial $dumpvars
    assert all(t["truncated"] and t["dropped"] > 0 for t in rep["traces"])


def test_bad_trace_window_is_usage_error(tmp_path):
    r = subprocess.run([_binary(), "run", "--model", MODEL, "--chip", CHIP, "--input", TRACE,
                        "--trace-json", str(tmp_path / "t.json"), "--trace-window", "500:100"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--trace-window" in r.stderr
    assert not (tmp_path / "t.json").exists()
