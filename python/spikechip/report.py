"""spikechip.Report: the run report of ``spikechip run`` (schema spikechip.run-report/1,
docs/reports.md) with its tables as dicts of NumPy arrays, energy re-pricing under another table
without re-simulating, and per-layer spikes of an in-process run as NumPy arrays."""
import copy
import json
import os
from typing import Any, Dict, Optional, Union

import numpy as np

from . import _spikechip
from ._tables import table, to_pandas

PathLike = Union[str, "os.PathLike[str]"]


class Report:
    """A finished run. ``report.data`` is the report.json dict (the same fields as the CLI's);
    ``summary``, ``layers``, ``cores``, ``links``, ``inputs`` give its parts."""

    def __init__(self, data: Dict[str, Any], run: Optional["_spikechip._Run"] = None,
                 model: Any = None, origin: str = "report"):
        self.data = data
        self._run = run
        self._model = model
        self._origin = origin

    @classmethod
    def load(cls, path: PathLike) -> "Report":
        """A report.json of ``spikechip run -o DIR``, or that directory (re-pricing works; spikes are
        not in it). Read as ``spikechip report`` reads it: spikechip.Error with the CLI's message
        for a missing file, invalid JSON or another kind of report (e.g. one of ``infer``)."""
        text = _spikechip.read_run_report(os.fsencode(path))
        return cls(json.loads(text), origin=os.fsdecode(path))

    # ------------------------------------------------------------------ parts
    @property
    def summary(self) -> Dict[str, Any]:
        """Per-inference latency, energy, SOPs, spikes, packets, flits and the predictions."""
        return self.data["summary"]

    @property
    def status(self) -> str:
        """"complete", or "partial" after a time limit."""
        return self.data["status"]

    @property
    def verified(self) -> bool:
        """True when every spike was checked against the golden executor and matched."""
        return bool(self.data["run"]["verified"])

    @property
    def predictions(self) -> np.ndarray:
        return np.array(self.summary["top1_predictions"], dtype=np.int64)

    @property
    def layers(self) -> Dict[str, np.ndarray]:
        """Per layer (graph node): name, op, shape [N, 3], cores, spikes, firing_rate, sops, macs,
        sdsa_ops, energy_pJ, paper_energy_pJ, start/end/busy cycles (counts per inference)."""
        return table(self.data["layers"])

    @property
    def cores(self) -> Dict[str, np.ndarray]:
        """Per used core: id, x, y, chip, busy and stall cycles, utilisation, SRAM traffic/use."""
        return table(self.data["cores"])

    @property
    def links(self) -> Dict[str, np.ndarray]:
        """Per link that carried flits: from [N, 2], to [N, 2], dir, chip_link, flits, utilisation."""
        return table(self.data["links"])

    @property
    def inputs(self) -> Dict[str, np.ndarray]:
        """Per input: index, origin, label, prediction, latency_cycles, energy_pJ, complete."""
        return table(self.data["inputs"])

    @property
    def energy_by_component(self) -> Dict[str, float]:
        """Energy per inference (pJ) by component; the components sum to summary["energy_pJ"]."""
        return dict(self.data["energy_by_component_pJ"])

    def to_pandas(self, name: str = "layers"):
        """One table ("layers", "cores", "links" or "inputs") as a pandas DataFrame."""
        if name not in ("layers", "cores", "links", "inputs"):
            raise ValueError(f"to_pandas: no table {name!r} (layers, cores, links, inputs)")
        return to_pandas(getattr(self, name))

    # --------------------------------------------------------------- spikes
    def spikes(self, layer: str, input: int = 0) -> np.ndarray:  # noqa: A002
        """The spikes of one LIF layer for one input as a uint8 array [T, C, H, W] (a view into
        the run's memory). Needs a run made with ``spikechip.run(..., spikes=True)``."""
        from .errors import UsageError
        if self._run is None or self._model is None:
            raise UsageError("spikes are kept only by an in-process run with spikes=True "
                             "(a report read from a file has none)")
        return self._run.spikes(self._model._h.lif_index(layer), int(input))

    # --------------------------------------------------------------- energy
    def reprice(self, table: PathLike, chip: Any = None) -> "Report":
        """The same run under another energy table (e.g. ``arch/energy/28nm.json``), without
        re-simulating: the counted events times the new table, as ``spikechip energy`` does.
        Returns a new Report whose energies (summary, components, per input and, for an
        in-process run, per layer) are the re-priced ones; chip (a Chip) overrides the chip
        config used for static energy."""
        from .chip import Chip
        t = os.fsencode(table)  # a path's bytes, as a file name may not be UTF-8
        chip_json = json.dumps(chip.to_dict()) if isinstance(chip, Chip) else None
        if self._run is not None:
            e = json.loads(self._run.reprice(t, chip_json))
        else:
            e = json.loads(_spikechip.reapply_energy(json.dumps(self.data), os.fsencode(self._origin), t, chip_json))
        d = copy.deepcopy(self.data)
        s = d["summary"]
        s["energy_pJ"] = e["energy_pJ"]
        s["paper_energy_pJ"] = e["paper_energy_pJ"]
        if e.get("energy_per_sop_pJ") is not None:
            s["energy_per_sop_pJ"] = e["energy_per_sop_pJ"]
        d["energy_by_component_pJ"] = e["components_pJ"]
        d["chip"]["energy_table"] = t.decode("utf-8", "replace")  # as the binary writes it
        if "layers_energy_pJ" in e:
            for row, v in zip(d["layers"], e["layers_energy_pJ"]):
                row["energy_pJ"] = v
            for row, v in zip(d["inputs"], e["inputs_energy_pJ"]):
                row["energy_pJ"] = v
        else:
            for row in d["layers"]:
                row["energy_pJ"] = None  # per-layer events are not in a report file
        if isinstance(chip, Chip):
            d["chip"]["config"] = chip.to_dict()
        return Report(d, self._run, self._model, self._origin)

    # --------------------------------------------------------------- output
    def to_json(self, path: Optional[PathLike] = None) -> str:
        """The report as JSON text (and written to path when given, whole or not at all: a disk that
        refuses it raises WriteError)."""
        text = json.dumps(self.data, indent=1)
        if path is not None:
            _spikechip.write_file_atomic(os.fsencode(path), text + "\n")
        return text

    def write(self, out_dir: PathLike) -> str:
        """Writes report.json, the CSV tables and report.html into out_dir, as ``spikechip run
        -o out_dir`` does; returns the path of report.json."""
        d = os.fspath(out_dir)
        _spikechip.write_run_outputs(json.dumps(self.data), os.fsencode(d))
        return os.path.join(d, "report.json")

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __repr__(self) -> str:
        s = self.summary
        return (f"Report({self.data['model']['name']!r} on {self.data['chip']['name']!r}: "
                f"{self.data['run']['inputs']} input(s), {self.status}, verified={self.verified}, "
                f"latency {s['latency_cycles']:.0f} cycles, energy {s['energy_pJ'] * 1e-6:.3f} uJ/inference)")
