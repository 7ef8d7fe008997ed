"""Model.from_torch: the exporter of scripts/spikechip-export (scripts/spikechip_py/export.py) in
process, for a checkpoint file or a live torch.nn.Module."""
import json
import os
import tempfile
from typing import Any, Optional, Sequence, Tuple

from ._bridge import exporter
from .errors import ModelError, UsageError


def export_model(cls, src: Any, out_dir: Optional[Any], *, like: Any, input_size: Optional[Tuple[int, int]],
                 timesteps: Optional[int], mean: Optional[Sequence[float]], std: Optional[Sequence[float]],
                 num_heads: Optional[int], encoding: Optional[str], name: Optional[str]):
    export = exporter()
    keep = None
    if out_dir is None:
        keep = tempfile.TemporaryDirectory(prefix="spikechip-model-")
        out = keep.name
    else:
        out = os.fspath(out_dir)
    try:
        if isinstance(src, (str, os.PathLike)):
            ckpt = os.fspath(src)
            if not os.path.isfile(ckpt):
                raise ModelError(f"{ckpt}: no such file")
            export.export(ckpt, out, img_size=input_size, T=timesteps, mean=mean, std=std,
                          num_heads=num_heads,
                          name=name or (like.name if like is not None else
                                        None if out_dir is not None else os.path.splitext(os.path.basename(ckpt))[0]),
                          encoding=encoding)
        else:
            import torch
            if not isinstance(src, torch.nn.Module):
                raise UsageError(f"from_torch: expected a checkpoint path or a torch.nn.Module, got {type(src).__name__}")
            prov = json.loads(like._h.provenance_json()) if like is not None else {}
            norm = prov.get("normalize") if isinstance(prov.get("normalize"), dict) else {}
            enc = encoding or prov.get("input_encoding", "image")
            size = input_size or prov.get("input_size")
            if size is None:
                raise UsageError("from_torch: give input_size=(H, W) or like= a Model exported from the same architecture")
            export.export_module(src, out, tuple(size), timesteps or (like.timesteps if like is not None else 1),
                                 mean=mean or norm.get("mean"), std=std or norm.get("std"),
                                 num_heads=num_heads or prov.get("num_heads", 8),
                                 name=name or (like.name if like is not None else "torch-module"), encoding=enc)
    except export.CheckpointError as e:
        raise ModelError(str(e)) from None
    m = cls.load(out)
    m._keep = keep
    return m
