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


# scripts/run-pytest passes its arguments to pytest; scripts/test is checked below (a mistake in its
# check would run the whole suite, the pytest entry included, inside this test).
@pytest.mark.parametrize("script", [s for s in EXECUTABLES if s not in ("scripts/test", "scripts/run-pytest")])
def test_an_unknown_argument_is_refused(script):
    r = subprocess.run([os.path.join(REPO, script), "--no-such-option-xyz"], cwd=REPO, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2, (r.returncode, r.stdout[:300], r.stderr[:300])
    assert r.stderr.strip() and "Traceback" not in r.stderr, r.stderr[:500]


# ctest ignores options it does not know and stray words: `scripts/test --label fast` ran all the
# tests (8 minutes), and `-L fsat` passed with "No tests were found" (session 38).
CHECK = ". scripts/lib/ctest_args.sh; check_ctest_args \"$@\""


@pytest.mark.parametrize("args,message", [
    (["--label", "fast"], "unknown argument '--label'"), (["fast"], "unknown argument 'fast'"),
    (["-R"], "-R needs a value"), (["-Rfoo"], "unknown argument '-Rfoo'"), (["-j", "0"], "-j needs a number"),
    (["-j", "x"], "-j needs a number"), (["-jx"], "unknown argument '-jx'"), (["--timeout", "abc"], "--timeout needs"),
    (["--repeat", "foo"], "--repeat needs"), (["-L", "fast", "--no-such"], "unknown argument '--no-such'")])
def test_scripts_test_refuses_what_ctest_would_ignore(args, message):
    r = subprocess.run(["bash", "-c", CHECK, "_", *args], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and r.stderr.startswith("scripts/test: ") and message in r.stderr, r.stderr


@pytest.mark.parametrize("args", [[], ["-L", "fast"], ["-LE", "slow", "-j", "2"], ["-R", "Cli", "-E", "x", "-V"],
                                  ["-j4", "--timeout", "60", "--repeat", "until-fail:3", "--stop-on-failure"],
                                  ["-N", "--print-labels", "-O", "log.txt", "--output-junit", "j.xml", "-Q"]])
def test_scripts_test_passes_ctest_options(args):
    r = subprocess.run(["bash", "-c", CHECK, "_", *args], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_scripts_test_checks_before_it_builds():
    lines = [line.strip() for line in open(os.path.join(REPO, "scripts", "test"))]
    assert lines.index('check_ctest_args "$@"') < lines.index("scripts/setup")
    assert any(line.startswith("ctest ") and "--no-tests=error" in line for line in lines)
    # Now safe to run for real: it stops at the check, before scripts/setup.
    r = subprocess.run([os.path.join(REPO, "scripts", "test"), "--label", "fast"], cwd=REPO, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and r.stdout == "" and "unknown argument '--label'" in r.stderr, r.stderr
