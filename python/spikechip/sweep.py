"""spikechip.sweep: an architecture sweep (docs/exploration.md) from Python. Every design point
runs as its own ``spikechip run`` process, as with ``spikechip sweep FILE -j N -o DIR``, which this
calls; the results come back as a SweepResults (the sweep.json points, also as a table)."""
import json
import os
import signal
import subprocess
import tempfile
from typing import Any, Dict, List, Mapping, Optional, Union

import numpy as np

from ._tables import table, to_pandas
from . import _spikechip
from .errors import SweepError, WriteError

PathLike = Union[str, "os.PathLike[str]"]


def binary() -> str:
    """The spikechip executable: $SPIKECHIP_BINARY, else the one of the build this package is from."""
    env = os.environ.get("SPIKECHIP_BINARY")
    if env:
        return env
    from . import _build_info
    return _build_info.BINARY


class SweepResults:
    """The outcome of a sweep: ``data`` (sweep.json, schema spikechip.sweep/1), ``points`` (one dict
    per design point: id, params, status, error, metrics), ``table`` (columns id, status,
    params.<name>, metrics.<name> as NumPy arrays) and ``out_dir`` (results.csv, sweep.html,
    one directory per point)."""

    def __init__(self, data: Dict[str, Any], out_dir: str, keep: Any = None):
        self.data = data
        self.out_dir = out_dir
        self._keep = keep

    @property
    def points(self) -> List[Dict[str, Any]]:
        return self.data["points"]

    @property
    def table(self) -> Dict[str, np.ndarray]:
        empty = {m: None for m in self.data.get("metrics", [])}
        return table([{"id": p["id"], "status": p["status"], "params": p.get("params") or {},
                       "metrics": p.get("metrics") or empty, "error": p.get("error") or ""}
                      for p in self.points])

    def ok(self) -> List[Dict[str, Any]]:
        return [p for p in self.points if p["status"] == "ok"]

    def to_pandas(self):
        return to_pandas(self.table)

    def __len__(self) -> int:
        return len(self.points)

    def __repr__(self) -> str:
        return f"SweepResults({self.data.get('name', '')!r}: {len(self.ok())}/{len(self)} ok, out_dir={self.out_dir!r})"


def _identity(path: str):
    """(inode, mtime) of a file, None if absent: sweep.json is replaced by a rename when written."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns)


def sweep(spec: Union[PathLike, Mapping[str, Any]], jobs: int = 2, out_dir: Optional[PathLike] = None, *,
          retry_failed: bool = False) -> SweepResults:
    """Runs a sweep. spec: a sweep file, or a dict with a sweep file's layout (its relative paths
    are found from the current directory or the source tree). jobs: points run in parallel.
    out_dir: where results go (default: a temporary directory kept as long as the results);
    re-running into the same out_dir resumes. Raises SweepError with the CLI's message when the
    spec is invalid or another sweep holds out_dir; failed points are reported in the results (status "failed", error).
    Ctrl-C (KeyboardInterrupt) stops the sweep as Ctrl-C stops ``spikechip sweep``: its running
    points stop, the results so far are written to out_dir, then KeyboardInterrupt propagates;
    the same call finishes the sweep. A second Ctrl-C kills it at once."""
    keep = None
    if out_dir is None:
        keep = tempfile.TemporaryDirectory(prefix="spikechip-sweep-")
        out_dir = keep.name
    out = os.fspath(out_dir)
    if isinstance(spec, Mapping):
        os.makedirs(out, exist_ok=True)
        path = os.path.join(out, "sweep-spec.json")
        _spikechip.write_file_atomic(path, json.dumps(spec, indent=1))
    else:
        path = os.fspath(spec)
    cmd = [binary(), "sweep", path, "-j", str(int(jobs)), "-o", out] + (["--retry-failed"] if retry_failed else [])
    result = os.path.join(out, "sweep.json")
    earlier = _identity(result)  # a sweep.json this call did not write is not its result
    # Its own session: a terminal's Ctrl-C reaches Python alone (a notebook's interrupt only ever
    # does), which passes it on once; a second one in the same process group would kill it at once.
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, stderr = p.communicate()
    except KeyboardInterrupt:
        p.send_signal(signal.SIGINT)  # stop the points, write the results so far, exit 3
        try:
            p.communicate()
        finally:
            if p.poll() is None:  # a second Ctrl-C while it stopped
                p.kill()
                p.wait()
        raise
    except BaseException:
        p.kill()
        p.wait()
        raise
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    msg = (lines[-1] if lines else f"spikechip sweep exited with status {p.returncode}")
    msg = msg.removeprefix("spikechip: error: ").removeprefix("error: ")
    if p.returncode == _spikechip.WRITE_ERROR_EXIT:  # the disk refused the sweep's files: sweep.json may be an older one
        raise WriteError(msg)
    if p.returncode != 0 and _identity(result) in (None, earlier):  # refused (e.g. another sweep holds out_dir)
        raise SweepError(msg)
    with open(result) as f:
        return SweepResults(json.load(f), out, keep)
