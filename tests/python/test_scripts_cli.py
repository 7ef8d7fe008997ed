"""Every command under scripts/ answers --help with its usage (exit 0, before it installs, builds,
writes or runs anything) and refuses an argument it does not take (exit 2). Before session 37,
`scripts/quickstart --help` ran the set-up and the main job, `scripts/setup --help` the set-up,
`scripts/bench/run --help` the benchmark, `scripts/gen-energy-tables --help` rewrote the energy
tables, `scripts/fuzz --help` printed a line of its code, and `scripts/bench/golden_torch_dense.py
--help` failed with a traceback under a python3 without torch."""
import os
import subprocess

import pytest

from conftest import REPO

# Every executable file git tracks under scripts/, and the BookSim2 reference tools (a wrong
# binary path made them print rows of "nan,nan,unstable", read as a curve past saturation).
EXECUTABLES = sorted(line.split("\t")[1] for line in subprocess.run(
    ["git", "ls-files", "-s", "scripts", "tests/data/noc_reference"], cwd=REPO, capture_output=True, text=True,
    check=True).stdout.splitlines() if line.startswith("100755 "))
ENERGY = os.path.join(REPO, "arch", "energy")


def test_the_list_is_complete():
    assert {"scripts/quickstart", "scripts/test", "scripts/setup", "scripts/fuzz", "scripts/bench/run",
            "tests/data/noc_reference/sweep_booksim.py"} <= set(EXECUTABLES)


@pytest.mark.parametrize("script", EXECUTABLES)
def test_help_prints_the_usage_and_runs_nothing(script):
    tables = {f: os.stat(os.path.join(ENERGY, f)).st_mtime_ns for f in os.listdir(ENERGY)}
    r = subprocess.run([os.path.join(REPO, script), "--help"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    first = r.stdout.lstrip().splitlines()[0] if r.stdout.strip() else ""
    # argparse's "usage: NAME ..." (pytest's for run-pytest), or a header comment naming the script.
    assert first.startswith("usage:") or os.path.basename(script) in r.stdout, r.stdout[:500]
    assert not any(line.startswith(("set -", "cd ")) for line in r.stdout.splitlines()), r.stdout  # code, not help
    assert "setup: " not in r.stdout and "Traceback" not in r.stderr, r.stdout[:500] + r.stderr[:500]
    assert {f: os.stat(os.path.join(ENERGY, f)).st_mtime_ns for f in os.listdir(ENERGY)} == tables


# scripts/test passes its arguments to ctest (after building), scripts/run-pytest to pytest.
@pytest.mark.parametrize("script", [s for s in EXECUTABLES if s not in ("scripts/test", "scripts/run-pytest")])
def test_an_unknown_argument_is_refused(script):
    r = subprocess.run([os.path.join(REPO, script), "--no-such-option-xyz"], cwd=REPO, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2, (r.returncode, r.stdout[:300], r.stderr[:300])
    assert r.stderr.strip() and "Traceback" not in r.stderr, r.stderr[:500]
