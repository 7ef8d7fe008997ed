"""The report pages in a real browser: headless Chromium loads report.html / sweep.html written by
`spikechip report`, must log nothing to the console (no script errors), and must have drawn the
charts (SVG elements created by the embedded script). Also takes the screenshot for docs.

Set SPIKECHIP_UPDATE_SCREENSHOT=1 to copy the screenshots to docs/img/report.png and sweep.png.
"""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import report_fixture

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--hide-scrollbars", "--enable-logging=stderr", "--v=0"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")


def spikechip_binary():
    exe = os.environ.get("SPIKECHIP_BINARY") or str(ROOT / "build" / "spikechip")
    if not os.path.exists(exe):
        pytest.skip(f"{exe} not built (cmake --build build)")
    return exe


def chromium(tmp_path, url, *extra):
    profile = tmp_path / f"profile{len(list(tmp_path.glob('profile*')))}"  # fresh per call
    cmd = [CHROMIUM, *CHROME_FLAGS, f"--user-data-dir={profile}", *extra, url]
    # Without LD_PRELOAD: the sanitized Python run (docs/reliability.md) preloads ASan's runtime,
    # under which Chromium hangs; the browser is not what that run checks.
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, f"chromium failed ({r.returncode}): {r.stderr[-2000:]}"
    return r


def console_lines(stderr):
    # Chromium logs every console message and uncaught exception as ...:CONSOLE...; the pages
    # log nothing when they work, so any such line is a failure.
    return [l for l in stderr.splitlines() if "CONSOLE" in l or "Uncaught" in l]


def render(tmp_path, html, shot=None, size="1400,2400"):
    url = html.resolve().as_uri()
    dom = chromium(tmp_path, url, "--dump-dom")
    assert console_lines(dom.stderr) == [], "\n".join(console_lines(dom.stderr))
    if shot:
        s = chromium(tmp_path, url, f"--screenshot={shot}", f"--window-size={size}")
        assert console_lines(s.stderr) == []
        assert shot.exists() and shot.stat().st_size > 20_000, "screenshot missing or blank"
    return dom.stdout


def write_json(path, obj):
    path.write_text(json.dumps(obj))
    return path


def assert_offline(html_text):
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html_text), "page references the network"


def test_run_report_renders_in_browser(tmp_path):
    exe = spikechip_binary()
    src = write_json(tmp_path / "run.json", report_fixture.make_run_report())
    out = tmp_path / "out"
    subprocess.run([exe, "report", str(src), "-o", str(out)], check=True, capture_output=True)
    for name in ("report.json", "report.html", "layers.csv", "cores.csv", "links.csv", "inputs.csv", "energy.csv",
                 "critical_path.csv"):
        assert (out / name).exists(), name
    assert_offline((out / "report.html").read_text())
    shot = tmp_path / "report.png"
    dom = render(tmp_path, out / "report.html", shot)
    assert 'data-render="ok"' in dom
    assert 'id="render-error"' not in dom and 'id="partial-banner"' not in dom
    # 2 energy + 3 per-layer bars + layer window + heatmap + stalls + core timeline + input line.
    assert len(re.findall(r'<svg class="sc-chart"', dom)) == 10
    assert len(re.findall(r"<rect ", dom)) > 300, "charts were created but hold almost no bars"
    # The page's own arithmetic cross-checks all pass on a consistent report.
    assert dom.count("✔ ") >= 3 and "✘" not in dom.split("Consistency checks")[1].split("</ul>")[0]


def render_real_run(tmp_path, n_images):
    """report.html of a real `spikechip run` (shipped Fashion-MNIST model, its first sample images,
    T = 2, tiny chip), not a fixture: every chart is drawn from simulator output."""
    exe = spikechip_binary()
    model = ROOT / "models" / "fmnist"
    if not (model / "graph.json").exists():
        pytest.skip("the shipped model models/fmnist is not present")
    import numpy as np
    images = tmp_path / "images.npy"
    np.save(images, np.load(model / "sample.npy")[:n_images])
    out = tmp_path / "out"
    r = subprocess.run([exe, "run", "--model", str(model), "--chip", str(ROOT / "arch" / "presets" / "tiny.json"),
                        "--input", str(images), "-T", "2", "--quiet", "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "complete" and report["run"]["verified"] is True
    assert_offline((out / "report.html").read_text())
    shot = tmp_path / "report.png"
    dom = render(tmp_path, out / "report.html", shot)
    assert 'data-render="ok"' in dom
    assert 'id="render-error"' not in dom and 'id="partial-banner"' not in dom
    assert len(re.findall(r'<svg class="sc-chart"', dom)) >= 8
    for layer in report["layers"][:3]:
        assert layer["name"] in dom
    return dom, shot


def consistency_failures(dom):
    return [l for l in dom.split("Consistency checks")[1].split("</ul>")[0].split("<li") if "✘" in l]


def test_real_run_report_renders_in_browser(tmp_path):
    """No console errors, consistency checks pass. This is the screenshot in docs/img/report.png."""
    dom, shot = render_real_run(tmp_path, 1)
    assert consistency_failures(dom) == []
    if os.environ.get("SPIKECHIP_UPDATE_SCREENSHOT") == "1":
        (ROOT / "docs" / "img").mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, ROOT / "docs" / "img" / "report.png")


def test_real_run_report_with_several_inputs_is_consistent(tmp_path):
    dom, _ = render_real_run(tmp_path, 4)
    assert consistency_failures(dom) == []


def test_partial_two_chip_report(tmp_path):
    """A partial report of two 4x4 chips side by side: banner, chip boundary and chip links drawn."""
    exe = spikechip_binary()
    report = report_fixture.make_run_report(status="partial", chips=(2, 1))
    assert any(l["chip_link"] and l["flits"] for l in report["links"])
    src = write_json(tmp_path / "run.json", report)
    out = tmp_path / "out"
    subprocess.run([exe, "report", str(src), "-o", str(out)], check=True, capture_output=True)
    assert json.loads((out / "report.json").read_text())["status"] == "partial"
    dom = render(tmp_path, out / "report.html")
    assert 'id="partial-banner"' in dom and "PARTIAL RESULTS" in dom
    assert 'data-render="ok"' in dom
    assert "chip boundary" in dom and "x=7" in dom  # 8 tile columns, boundary key drawn
    assert dom.count('stroke-dasharray="4 2"') == sum(l["chip_link"] for l in report["links"])


def test_sweep_page_renders_in_browser(tmp_path):
    exe = spikechip_binary()
    sweep = report_fixture.make_sweep()
    src = write_json(tmp_path / "sweep.json", sweep)
    html = tmp_path / "sweep.html"
    subprocess.run([exe, "report", "--sweep", str(src), "-o", str(html)], check=True, capture_output=True)
    assert_offline(html.read_text())
    shot = tmp_path / "sweep.png"
    dom = render(tmp_path, html, shot, size="1400,1500")
    assert 'data-render="ok"' in dom
    n_params, n_metrics = len(sweep["parameters"]), len(sweep["metrics"])
    assert len(re.findall(r'<svg class="sc-chart"', dom)) == 2 + n_params * n_metrics
    assert dom.count('class="failed"') == sum(p["status"] != "ok" for p in sweep["points"])
    # Pareto rows in the table match an independent computation of the front in Python.
    ok = [p for p in sweep["points"] if p["status"] == "ok"]

    def front(mx, my):
        return {p["id"] for p in ok if not any(
            q is not p and q["metrics"][mx] <= p["metrics"][mx] and q["metrics"][my] <= p["metrics"][my]
            and (q["metrics"][mx] < p["metrics"][mx] or q["metrics"][my] < p["metrics"][my]) for q in ok)}
    expected = front("latency_cycles", "energy_pJ") | front("area_proxy_mm2", "energy_pJ")
    assert dom.count('class="pareto"') == len(expected)
    if os.environ.get("SPIKECHIP_UPDATE_SCREENSHOT") == "1":
        shutil.copy(shot, ROOT / "docs" / "img" / "sweep.png")


def test_bad_report_json_is_a_clear_error(tmp_path):
    exe = spikechip_binary()
    bad = tmp_path / "bad.json"
    bad.write_text('{"layers": 5}')
    r = subprocess.run([exe, "report", str(bad), "-o", str(tmp_path / "o")], capture_output=True, text=True)
    assert r.returncode == 1 and "/layers" in r.stderr
    assert not (tmp_path / "o" / "report.json").exists()


def charts_without_marks(dom):
    """Titles of the charts (svg.sc-chart) that hold no drawn mark: a bar/tile (rect), line or area
    (path) or point (circle) outside the legend."""
    empty = []
    for chunk in dom.split('<svg class="sc-chart"')[1:]:
        body = chunk.split("</svg>")[0]
        label = re.search(r'aria-label="([^"]*)"', body)
        body = re.sub(r'<g class="legend">.*?</g>', "", body, flags=re.S)
        if not re.search(r"<(rect|path|circle) ", body):
            empty.append(label.group(1) if label else "?")
    return empty


def quickstart_run(tmp_path, *extra):
    exe = spikechip_binary()
    model = ROOT / "models" / "fmnist"
    if not (model / "graph.json").exists():
        pytest.skip("the shipped model models/fmnist is not present")
    out = tmp_path / ("out" + "".join(e.replace("=", "_").replace(".", "_") for e in extra))
    r = subprocess.run([exe, "run", "--model", str(model), "--chip", "tiny", "--input", str(model / "sample.npy"),
                        *extra, "--quiet", "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out


def test_quickstart_report_checks_and_charts(tmp_path):
    """The quick-start run (scripts/quickstart: shipped model, its 8 sample images, tiny chip): every
    consistency check is ✔ (energy per SOP with the field's own definition, power = energy /
    latency), every chart has drawn marks, the labels of sample.json are shown, units are scaled,
    the timeline has its zoom buttons and the per-timestep section is there."""
    out = quickstart_run(tmp_path)
    report = json.loads((out / "report.json").read_text())
    assert [i["label"] for i in report["inputs"]] == json.loads((ROOT / "models" / "fmnist" / "sample.json").read_text())["labels"]
    dom = render(tmp_path, out / "report.html", tmp_path / "quick.png")
    assert 'data-render="ok"' in dom
    checks = dom.split("Consistency checks")[1].split("</ul>")[0]
    assert checks.count("✔ ") >= 4 and "✘" not in checks, checks
    assert charts_without_marks(dom) == []
    assert len(re.findall(r'<svg class="sc-chart"', dom)) >= 11
    assert "accuracy 100.0 % on labelled inputs" in dom
    assert "µJ" in dom and "mW" in dom and "mm²" in dom  # scaled units, power and area cards
    assert "40G" not in dom  # no giga-picojoule axis ticks
    assert dom.count('class="zoombar"') == 2 and ">t=0</button>" in dom
    assert "Per timestep" in dom


def test_compare_page_renders_in_browser(tmp_path):
    """`spikechip compare` of the quick start vs the same run with --set core.adder_lanes=4
    (issue 21's acceptance case): the text names the changed key, the page renders with marks."""
    a = quickstart_run(tmp_path)
    b = quickstart_run(tmp_path, "--set", "core.adder_lanes=4")
    cmp_dir = tmp_path / "cmp"
    r = subprocess.run([spikechip_binary(), "compare", str(a), str(b), "-o", str(cmp_dir)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "core.adder_lanes" in r.stdout and "16 -> 4" in r.stdout
    cmp = json.loads((cmp_dir / "compare.json").read_text())
    lat = next(x for x in cmp["summary"] if x["name"] == "latency_cycles")
    assert lat["b"] > lat["a"] and abs(lat["rel"] - (lat["b"] - lat["a"]) / lat["a"]) < 1e-12
    dom = render(tmp_path, cmp_dir / "compare.html")
    assert 'data-render="ok"' in dom and charts_without_marks(dom) == []
    assert len(re.findall(r'<svg class="sc-chart"', dom)) == 3


@pytest.mark.skipif(os.environ.get("SPIKECHIP_SLOW_BROWSER") != "1",
                    reason="slow (a 15.1M run): ctest runs it as report_browser_15m (label slow)")
def test_meta15m_report_in_browser(tmp_path):
    """Issue 21's acceptance on the 15.1M preset run (the synthetic Meta-SpikeFormer 15.1M at
    224x224, T = 1, one random image, on arch/presets/meta15m.json, as docs/architecture.md and
    scripts/bench/run): verified bit-exact, every consistency check of the page is ✔ (energy per
    SOP with SOPs + SDSA ops, power, timesteps summing to the summary), every chart has drawn marks.
    SPIKECHIP_UPDATE_SCREENSHOT=1 also writes docs/img/report-15m.png (docs/reports.md)."""
    import numpy as np
    exe = spikechip_binary()
    model = tmp_path / "m15"
    subprocess.run([exe, "model", "build", "--variant", "15M", "--input", "224", "-T", "1", "-o", str(model)],
                   check=True, capture_output=True)
    img = tmp_path / "img.npy"
    np.save(img, np.random.default_rng(1).integers(0, 256, size=(1, 3, 224, 224), dtype=np.uint8))
    out = tmp_path / "out"
    r = subprocess.run([exe, "run", "--model", str(model), "--chip", "meta15m", "--input", str(img), "-T", "1",
                        "--quiet", "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "complete" and report["run"]["verified"] is True
    s = report["summary"]
    assert s["latency_cycles"] > 1e7 and s["sdsa_ops"] > 0  # the case where SOPs alone gave a false ✘
    assert abs(sum(t["cycles"] for t in report["timesteps"]) - s["latency_cycles"]) < 1e-6 * s["latency_cycles"]
    dom = render(tmp_path, out / "report.html")
    assert 'data-render="ok"' in dom
    checks = dom.split("Consistency checks")[1].split("</ul>")[0]
    assert checks.count("✔ ") >= 5 and consistency_failures(dom) == [], checks
    assert charts_without_marks(dom) == []
    assert len(re.findall(r'<svg class="sc-chart"', dom)) >= 11
    assert "mJ" in dom and "ms" in dom  # 15.1M: millijoules, milliseconds
    if os.environ.get("SPIKECHIP_UPDATE_SCREENSHOT") == "1":
        shot = tmp_path / "report-15m.png"
        chromium(tmp_path, (out / "report.html").resolve().as_uri(), f"--screenshot={shot}", "--window-size=1200,1500")
        (ROOT / "docs" / "img").mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, ROOT / "docs" / "img" / "report-15m.png")
