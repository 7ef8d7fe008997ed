"""The exceptions of spikechip. Every one is a :class:`Error`; ``str(e)`` is the one-line message the
command line prints for the same failure (naming the file, the JSON path or the layer, and what to
do). The classes are created by the C++ core (``_spikechip``) so that its failures map onto them.

- :class:`UsageError` (also a ``ValueError``): a wrong argument (the CLI's exit code 2).
- :class:`ModelError`: a model directory that is missing or invalid.
- :class:`ChipConfigError`: a chip config or energy table that is missing or invalid.
- :class:`InputError` (also a ``ValueError``): inputs that are missing or do not fit the model.
- :class:`MappingError`: the model does not fit the chip; a mapping of another model or chip.
- :class:`SimulationError`: the simulation failed (deadlock, watchdog).
- :class:`VerificationError` (a :class:`SimulationError`): the chip differs from the golden executor.
- :class:`WriteError` (also an ``OSError``): an output the disk refused (full, not writable; the
  CLI's exit code 4). The file that failed is not left half-written.
- :class:`SweepError`: a sweep that could not run (bad spec; see the sweep's stderr).
- :class:`CosimError`: the co-simulation client (:mod:`spikechip.cosim`).

Ctrl-C during a run raises the usual ``KeyboardInterrupt`` after the simulation stopped cleanly.
"""
from ._spikechip import (ChipConfigError, Error, InputError, MappingError, ModelError,  # noqa: F401
                         SimulationError, UsageError, VerificationError, WriteError)


class SweepError(Error):
    """A sweep that could not run or whose results could not be read."""


class CosimError(Error):
    """A co-simulation client failure (base of ServerError and TimeoutError in spikechip.cosim)."""


__all__ = ["Error", "UsageError", "ModelError", "ChipConfigError", "InputError", "MappingError",
           "SimulationError", "VerificationError", "WriteError", "SweepError", "CosimError"]
