"""Access to the PyTorch side of the project (scripts/spikechip_py: the Meta-SpikeFormer model and
the exporter), from the source tree this build belongs to when it is not already importable."""
import importlib
import os
import sys


def _scripts_package(name: str):
    try:
        return importlib.import_module(f"spikechip_py.{name}")
    except ImportError:
        from . import _build_info
        scripts = os.path.join(_build_info.SOURCE_DIR, "scripts")
        if scripts not in sys.path:
            sys.path.append(scripts)
        return importlib.import_module(f"spikechip_py.{name}")


def exporter():
    """scripts/spikechip_py/export.py (needs torch)."""
    return _scripts_package("export")
