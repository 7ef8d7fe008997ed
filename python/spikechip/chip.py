"""spikechip.Chip: a chip configuration (docs/chip-config.md), read and validated by the same
strict reader as the CLI; every change is re-validated, so a bad key or value raises
ChipConfigError naming the JSON path exactly as a bad file would."""
import json
import os
from typing import Any, Dict, Mapping, Union

from . import _spikechip

PathLike = Union[str, "os.PathLike[str]"]


class Chip:
    """A chip configuration. Immutable: ``set`` / ``with_`` return a new Chip.

    >>> chip = spikechip.Chip.load("tiny")                  # arch/presets/tiny.json
    >>> chip = spikechip.Chip.load("tiny", core__adder_lanes=32)
    >>> chip = chip.set("router.vcs", 4)
    """

    def __init__(self, handle: "_spikechip._Chip"):
        self._h = handle

    @classmethod
    def load(cls, path_or_name: PathLike, **overrides: Any) -> "Chip":
        """A chip config file, or a preset's name (``tiny``, ``meta15m``, ``meta55m``: the files of
        arch/presets). Keyword overrides use ``__`` for the dot: ``core__adder_lanes=32`` sets
        ``core.adder_lanes``. Raises ChipConfigError with the CLI's message."""
        chip = cls(_spikechip._Chip.load(os.fsencode(path_or_name)))
        return chip.with_(**overrides) if overrides else chip

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], origin: str = "chip") -> "Chip":
        """A chip config given as a dict with a chip file's layout (keys left out take their
        defaults). ``origin`` names it in error messages."""
        return cls(_spikechip._Chip.from_json(json.dumps(d), origin))

    def to_dict(self) -> Dict[str, Any]:
        """Every key with its effective value (as the run report records it under chip.config),
        except that tech.energy_table is the absolute path of the table it resolves to, so that
        the dict stands alone (``Chip.from_dict(chip.to_dict())`` is the same chip)."""
        d = json.loads(self._h.to_json())
        d["tech"]["energy_table"] = os.path.abspath(self.energy_table)
        return d

    def set(self, key: str, value: Any) -> "Chip":
        """A copy with one dotted key changed, e.g. ``set("core.adder_lanes", 32)``; validated like
        the file (unknown key or bad value: ChipConfigError naming /core/adder_lanes)."""
        try:
            text = json.dumps(value, allow_nan=False)  # NaN would reach the strict reader as a parse error
        except (TypeError, ValueError):
            from .errors import UsageError
            raise UsageError(f"{key}: {value!r} is not a JSON value (a finite number, string, bool, list or dict)") from None
        return Chip(self._h.with_value(key, text))

    def with_(self, **overrides: Any) -> "Chip":
        """A copy with keyword overrides, ``__`` standing for the dot (``core__adder_lanes=32``)."""
        chip = self
        for k, v in overrides.items():
            chip = chip.set(k.replace("__", "."), v)
        return chip

    def __getitem__(self, key: str) -> Any:
        """The value of a dotted key (``chip["core.adder_lanes"]``)."""
        v: Any = self.to_dict()
        for part in key.split("."):
            if not isinstance(v, dict) or part not in v:
                raise KeyError(key)
            v = v[part]
        return v

    @property
    def path(self) -> str:
        """The file it was read from ("" when made from a dict)."""
        return os.fsdecode(self._h.path)  # the bytes of a name that is not UTF-8 as os.listdir gives them

    @property
    def name(self) -> str:
        return self._h.name

    @property
    def energy_table(self) -> str:
        """The energy table file the chip's tech.energy_table resolves to."""
        return self._h.energy_table

    def __repr__(self) -> str:
        d = self.to_dict()
        mesh, chips = d["mesh"], d["chips"]
        return (f"Chip({self.name!r}, path={self.path!r}, mesh={mesh['width']}x{mesh['height']}"
                f"{'' if chips['chips_x'] * chips['chips_y'] == 1 else ' x %dx%d chips' % (chips['chips_x'], chips['chips_y'])}, "
                f"tech={d['tech']['node']})")
