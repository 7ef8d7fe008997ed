"""spikechip.Model: a model directory (graph.json + weights.safetensors, docs/model-format.md)
loaded and validated as `spikechip` does, or exported in process from a PyTorch Meta-SpikeFormer."""
import json
import os
from typing import Any, Dict, Optional, Sequence, Tuple, Union

from . import _spikechip

PathLike = Union[str, "os.PathLike[str]"]


class Model:
    """A spiking Transformer in spikechip's integer format.

    >>> m = spikechip.Model.load("models/fmnist")
    >>> m.name, m.timesteps, m.input_shape
    """

    def __init__(self, handle: "_spikechip._Model", keep: Any = None):
        self._h = handle
        self._keep = keep  # e.g. the temporary directory of an exported model

    @classmethod
    def load(cls, directory: PathLike) -> "Model":
        """Reads and validates a model directory. Raises ModelError (the CLI's message) when it is
        missing or invalid."""
        return cls(_spikechip._Model.load(os.fsencode(directory)))

    @classmethod
    def from_torch(cls, module_or_checkpoint: Any, out_dir: Optional[PathLike] = None, *,
                   like: Optional["Model"] = None, input_size: Optional[Tuple[int, int]] = None,
                   timesteps: Optional[int] = None, mean: Optional[Sequence[float]] = None,
                   std: Optional[Sequence[float]] = None, num_heads: Optional[int] = None,
                   encoding: Optional[str] = None, name: Optional[str] = None) -> "Model":
        """Exports a PyTorch Meta-SpikeFormer in process with the exporter of
        ``scripts/spikechip-export`` (fold BatchNorm, quantise to int8) and loads the result.

        module_or_checkpoint: a checkpoint path (.pth) or a ``torch.nn.Module``
        (scripts/spikechip_py/model.py's MetaSpikeFormer). A module needs the input size,
        normalisation and heads: give them, or ``like=`` a Model exported from the same
        architecture (its provenance supplies them, as the co-simulation server's
        update_weights does). out_dir: where the model directory goes (default: a temporary
        directory that lives as long as the returned Model). Raises ModelError on a checkpoint
        the exporter rejects."""
        from ._torch import export_model
        return export_model(cls, module_or_checkpoint, out_dir, like=like, input_size=input_size,
                            timesteps=timesteps, mean=mean, std=std, num_heads=num_heads,
                            encoding=encoding, name=name)

    @property
    def path(self) -> str:
        """The directory as given."""
        return os.fsdecode(self._h.path)  # the bytes of a name that is not UTF-8 as os.listdir gives them

    @property
    def name(self) -> str:
        return self._h.name

    @property
    def timesteps(self) -> int:
        """Timesteps stored in the model (runs default to them)."""
        return self._h.timesteps

    @property
    def num_classes(self) -> int:
        return self._h.num_classes

    @property
    def input_shape(self) -> Tuple[int, int, int]:
        """(C, H, W) of one input frame."""
        return tuple(self._h.input_shape)

    @property
    def encoding(self) -> str:
        """"image" (uint8 [C,H,W] images, seen at every timestep) or "events" ([T,C,H,W] frames)."""
        return self._h.encoding

    def info(self) -> Dict[str, Any]:
        """What ``spikechip model info --json`` prints: name, timesteps, classes, input, per-node
        op / shape / params / dense ops / weight and membrane bytes, and totals."""
        return json.loads(self._h.info_json())

    def __repr__(self) -> str:
        c, h, w = self.input_shape
        return f"Model({self.name!r}, path={self.path!r}, T={self.timesteps}, input={c}x{h}x{w} {self.encoding})"
