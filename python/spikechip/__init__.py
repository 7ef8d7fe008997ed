"""spikechip from Python, in process: load a model and a chip, map, run the golden executor and the
cycle-accurate chip, read the report as NumPy tables, re-price its energy, sweep (docs/python.md).

    import spikechip
    model = spikechip.Model.load("models/fmnist")
    chip = spikechip.Chip.load("tiny")                      # arch/presets/tiny.json
    report = spikechip.run(model, chip, "models/fmnist/sample.npy")
    report.summary["energy_pJ"], report.layers["energy_pJ"]
    at28 = report.reprice("arch/energy/28nm.json")

Runs use the chip's own event loop (not the SystemC kernel), so an interpreter can run any number
of them; each gives the report ``spikechip run`` gives for the same inputs. Errors raise
spikechip.Error subclasses carrying the command line's one-line message (spikechip.errors).
"""
from ._spikechip import __version__  # noqa: F401
from .chip import Chip
from .errors import (ChipConfigError, CosimError, Error, InputError, MappingError, ModelError,  # noqa: F401
                     SimulationError, SweepError, UsageError, VerificationError, WriteError)
from .mapping import Mapping, map  # noqa: A004
from .model import Model
from .report import Report
from .run import infer, run
from .sweep import SweepResults, sweep

__all__ = ["Model", "Chip", "Mapping", "Report", "SweepResults", "map", "infer", "run", "sweep",
           "Error", "UsageError", "ModelError", "ChipConfigError", "InputError", "MappingError",
           "SimulationError", "VerificationError", "WriteError", "SweepError", "CosimError", "__version__"]


def __getattr__(name: str):
    # spikechip.cosim (the ZeroMQ client) is imported on first use: it needs pyzmq.
    if name == "cosim":
        import importlib
        return importlib.import_module(".cosim", __name__)
    raise AttributeError(f"module 'spikechip' has no attribute {name!r}")
