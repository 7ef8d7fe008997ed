"""spikechip.Mapping and spikechip.map: the mapper (docs/mapper.md) in process. A Mapping is what
``spikechip map`` writes (groups of neurons per core, placement, multicast routes, expected link
loads), inspectable as tables and savable for ``spikechip run --mapping``."""
import json
import operator
import os
from typing import Any, Dict, List, Mapping as _Mapping, Optional, Union

import numpy as np

from . import _spikechip
from ._tables import table, to_pandas  # noqa: F401
from .chip import Chip
from .model import Model

PathLike = Union[str, "os.PathLike[str]"]


class Mapping:
    """A model mapped onto a chip. ``to_dict()`` is the mapping file's JSON; the properties give
    its parts as tables (dicts of NumPy arrays)."""

    def __init__(self, handle: "_spikechip._Mapping"):
        self._h = handle
        self._d: Optional[Dict[str, Any]] = None

    @classmethod
    def load(cls, path: PathLike) -> "Mapping":
        """A mapping file of ``spikechip map -o``. Raises MappingError naming the file / key."""
        return cls(_spikechip._Mapping.load(os.fsencode(path)))

    @classmethod
    def from_dict(cls, d: _Mapping[str, Any], origin: str = "mapping") -> "Mapping":
        return cls(_spikechip._Mapping.from_json(json.dumps(d), origin))

    def to_dict(self) -> Dict[str, Any]:
        if self._d is None:
            self._d = json.loads(self._h.to_json())
        return self._d

    def save(self, path: PathLike) -> None:
        """Writes the mapping file (``spikechip run --mapping PATH`` takes it)."""
        self._h.save(os.fsencode(path))

    @property
    def summary(self) -> Dict[str, Any]:
        """Cores used, groups, phases, traffic figures (the mapping file's "summary")."""
        return self.to_dict().get("summary", {})

    @property
    def mesh(self) -> tuple:
        """(width, height) of the global mesh (all chips)."""
        return tuple(self.to_dict()["chip"]["mesh"])

    @property
    def groups(self) -> Dict[str, np.ndarray]:
        """One row per neuron group: id, cluster, core, placement (x, y), phase, output box,
        SRAM bytes."""
        return table(self.to_dict()["groups"])

    @property
    def placement(self) -> Dict[int, tuple]:
        """Group id -> (x, y) of its core on the global mesh."""
        return {g["id"]: tuple(g["core"]) for g in self.to_dict()["groups"]}

    @property
    def routes(self) -> List[Dict[str, Any]]:
        """The multicast routes: kind, source group and node, region, destination groups,
        expected events per timestep and the directed links of the tree."""
        return self.to_dict()["routes"]

    @property
    def link_loads(self) -> Dict[str, np.ndarray]:
        """Expected packets per timestep on every directed link: columns from, to ([N, 2] core
        coordinates; the host port is (-1, 0), west of core (0, 0)), load, chip_to_chip."""
        def xy(v):
            return [-1, 0] if v == "host" else v
        rows = [{**r, "from": xy(r["from"]), "to": xy(r["to"])} for r in self.to_dict()["links"]]
        return table(rows)

    def __str__(self) -> str:
        return self._h.summary_text()

    def __repr__(self) -> str:
        s = self.summary
        return f"Mapping(groups={len(self.to_dict()['groups'])}, cores_used={s.get('cores_used', '?')})"


def map(model: Model, chip: Chip, *, placement: str = "anneal", seed: int = 1, default_rate: float = 0.2,  # noqa: A001
        rates: Optional[_Mapping[str, float]] = None, rates_from_inputs: Any = None, rate_samples: int = 4,
        chips: Union[int, str, None] = None, time_multiplex: bool = False, unicast: bool = False,
        split: str = "min-cores", T: Optional[int] = None, phases: str = "greedy") -> Mapping:
    """Maps a model onto a chip, as ``spikechip map`` (same options, same defaults).

    placement: naive | random | snake | anneal | metis | metis-anneal. rates: measured firing rate
    per LIF layer name; rates_from_inputs: a path or uint8 array whose first ``rate_samples``
    inputs are run on the golden executor to measure them (default_rate otherwise). chips: None
    (as the chip says), N or "auto". phases (with time_multiplex): greedy | min-dram | min-time
    (docs/mapper.md, "Phase partitioning"). Raises MappingError when the model does not fit
    (naming the layer and what to change)."""
    from .errors import UsageError
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2 ** 64:
        raise UsageError(f"seed must be an integer 0..2^64-1, got {seed!r}")  # (a TypeError of the binding before)
    if isinstance(rate_samples, bool) or not isinstance(rate_samples, (int, np.integer)) or not 1 <= rate_samples <= 10 ** 6:
        raise UsageError(f"rate_samples must be 1..1000000 (as --rate-samples), got {rate_samples!r}")  # 0 or less: no sample
    if rates is not None and not isinstance(rates, _Mapping):
        raise UsageError(f"rates must map LIF layer names to firing rates, got {type(rates).__name__}")
    return Mapping(_spikechip.map_model(model._h, chip._h, placement, int(seed), float(default_rate),
                                        dict(rates or {}), rates_from_inputs, int(rate_samples),
                                        _chips(chips), bool(time_multiplex), bool(unicast), split, _timesteps(T),
                                        str(phases)))


def _timesteps(T: Optional[int]) -> int:
    """T as the C++ core takes it: 0 for None (the model's), else an integer >= 1 (the upper bound,
    model::kMaxRunTimesteps, is checked there). T=0 or -3 were taken as "the model's"."""
    from .errors import UsageError
    if T is None:
        return 0
    if not isinstance(T, bool):
        try:
            t = operator.index(T)
        except TypeError:
            t = 0
        if t >= 1:
            return t
    raise UsageError(f"T must be None (the model's) or a number of timesteps >= 1, got {T!r}")


def _chips(chips: Union[int, str, None]) -> int:
    from .errors import UsageError
    if chips is None:
        return 0
    if chips == "auto":
        return -1
    if isinstance(chips, int) and not isinstance(chips, bool) and chips >= 1:
        return chips
    raise UsageError(f"chips must be None, 'auto' or a count >= 1, got {chips!r}")
