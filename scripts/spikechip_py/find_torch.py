"""Finds a Python interpreter that has PyTorch and re-runs the calling script under it.

`python3 scripts/spikechip-export ...` runs under whichever python3 is first on PATH (a pyenv
or venv one, often without torch), while Debian's torch lives under /usr/bin/python3. The
torch-using scripts call `run_under_torch_python(tool)` before importing torch: if this
interpreter has torch nothing happens; otherwise the script is started again (os.execv, same
arguments) under the first candidate that can `import torch`:
  $SPIKECHIP_PYTHON (if set, the only candidate), else /usr/bin/python3, then every python3 on PATH.
Standard library only: it must run where torch (and numpy) are missing.
"""
import os
import shutil
import subprocess
import sys

_GUARD = "SPIKECHIP_TORCH_REEXEC"


def _has_torch(python):
    try:
        return subprocess.run([python, "-c", "import torch"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=120).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def candidates():
    forced = os.environ.get("SPIKECHIP_PYTHON")
    if forced:
        return [forced]
    seen, out = set(), []
    path_pythons = []
    for d in os.environ.get("PATH", "").split(os.pathsep):
        p = shutil.which("python3", path=d) if d else None
        if p:
            path_pythons.append(p)
    for p in ["/usr/bin/python3"] + path_pythons:
        if p not in seen and os.path.isfile(p) and os.access(p, os.X_OK):
            seen.add(p)
            out.append(p)
    return out


def run_under_torch_python(tool):
    """Returns if torch imports here; else re-executes sys.argv under a Python with torch, or
    exits 1 with one message saying what was tried and what to do."""
    try:
        import torch  # noqa: F401
        return
    except ImportError:
        pass
    tried = []
    script = os.path.abspath(sys.argv[0])
    if os.environ.get(_GUARD) != script:      # not already re-executed once (no loop)
        for py in candidates():
            if _has_torch(py):
                os.environ[_GUARD] = script
                os.execv(py, [py, script] + sys.argv[1:])
            tried.append(py)
    forced = os.environ.get("SPIKECHIP_PYTHON")
    sys.exit(f"{tool}: this Python ({sys.executable}) has no PyTorch, and "
             + (f"SPIKECHIP_PYTHON={forced} cannot import torch either"
                if forced else "none of " + (", ".join(tried) or "the candidates") + " can import it")
             + ": install Debian's python3-torch (apt-get install python3-torch; it is "
               "/usr/bin/python3's) or set SPIKECHIP_PYTHON to a python3 that has torch")
