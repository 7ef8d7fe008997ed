"""spikechip.infer (the golden executor) and spikechip.run (map, simulate on the cycle-accurate
chip, verify spike for spike, report), in process. A run uses the chip's own event loop (not the
SystemC kernel), so one interpreter can run any number of simulations; the report is the one
``spikechip run`` writes for the same model, chip and inputs, field for field (wall times aside)."""
import json
import os
import sys
from typing import Any, Callable, Dict, Optional, Sequence, Union

import numpy as np

from . import _spikechip
from .chip import Chip
from .mapping import Mapping, _chips, _timesteps
from .model import Model
from .report import Report

PathLike = Union[str, "os.PathLike[str]"]
Inputs = Union[PathLike, np.ndarray]
Progress = Union[None, bool, Callable[[Dict[str, Any]], None]]


def _progress(p: Progress) -> Any:
    if p is None or p is False:
        return None
    if p is True:
        def show(d: Dict[str, Any]) -> None:
            end = "\n" if d["phase"] == "simulate" and d["input"] == d["inputs"] else ""
            sys.stderr.write(f"\r\33[K{d['phase']}: input {min(d['input'] + 1, d['inputs'])}/{d['inputs']}, "
                             f"cycle {d['cycle']}, {100 * d['fraction']:.1f} % done, {d['elapsed_s']:.0f} s{end}")
            sys.stderr.flush()
        return show
    if callable(p):
        return p
    raise TypeError("progress must be None, True or a callable taking a dict")


def infer(model: Model, inputs: Inputs, *, T: Optional[int] = None, labels: Optional[Sequence[int]] = None,
          spikes: bool = False, threads: int = 2, progress: Progress = None) -> Dict[str, Any]:
    """Runs the bit-exact golden executor (``spikechip infer``).

    inputs: a file or directory (.npy, .pgm/.ppm, .evt/.csv event traces), or a uint8 NumPy array
    laid out as a .npy input would be ([C,H,W], [H,W] when C = 1, a batch [B,C,H,W]; events
    [T,C,H,W] or [B,T,C,H,W]), used in place when C-contiguous. Returns a dict:
    ``predictions`` int64 [B], ``output_acc`` int64 [B, classes] (the output accumulators),
    ``report`` (the JSON report of ``spikechip infer -o``: per-layer spikes, SOPs, paper energy),
    and with spikes=True ``spikes``: {LIF layer name: uint8 [B, T, C, H, W]}.
    Raises InputError (wrong dtype / shape, missing file) with the CLI's message."""
    r = _spikechip.infer(model._h, inputs, None if labels is None else [int(v) for v in labels],
                         _timesteps(T), bool(spikes), int(threads), _progress(progress))
    r["report"] = json.loads(r.pop("report_json"))
    return r


def run(model: Model, chip: Chip, inputs: Inputs, mapping: Optional[Mapping] = None, T: Optional[int] = None,
        verify: bool = True, progress: Progress = None, *, labels: Optional[Sequence[int]] = None,
        spikes: bool = False, time_multiplex: bool = False, chips: Union[int, str, None] = None,
        threads: int = 2, time_limit: Optional[float] = None) -> Report:
    """Simulates the inputs on the cycle-accurate chip and returns the run report, as
    ``spikechip run --model M --chip C --input I`` (the same steps and the same report).

    mapping: a Mapping of spikechip.map (default: map now, placing with the firing rates of the
    golden run of the first 4 inputs, as the CLI). T: timesteps (default the model's). verify:
    run the golden executor and compare every spike (VerificationError on a difference).
    progress: True prints a progress line on stderr, or a callable receiving
    {phase, input, inputs, fraction, cycle, timestep, elapsed_s} about twice a second.
    spikes: keep every LIF layer's spikes (Report.spikes). time_multiplex, chips: mapper options
    when mapping here. threads: golden executor threads. time_limit: stop after this many wall
    seconds with a "partial" report.

    The GIL is released while C++ works; Ctrl-C stops the simulation and raises
    KeyboardInterrupt. Errors raise spikechip.Error subclasses with the CLI's messages."""
    h = _spikechip.run(model._h, chip._h, inputs, None if labels is None else [int(v) for v in labels],
                       None if mapping is None else mapping._h, _timesteps(T), bool(verify), bool(spikes),
                       _progress(progress), bool(time_multiplex), _chips(chips), int(threads),
                       float(time_limit or 0))
    return Report(json.loads(h.report_json), h, model)
