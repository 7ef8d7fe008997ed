"""The co-simulation client's old import path: it is now spikechip.cosim (python/spikechip/cosim.py,
docs/python.md). Kept so that `from spikechip_py.cosim_client import Client` goes on working; when
the spikechip package is not on the path (not installed by scripts/setup, no PYTHONPATH), the
build tree's build/python is tried."""
import os
import sys

try:
    import spikechip  # noqa: F401
except ImportError:
    sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "python"))

from spikechip.cosim import PROTOCOL, Client, CosimError, ServerError, TimeoutError, export_tensors  # noqa: E402,F401,A004

__all__ = ["PROTOCOL", "Client", "CosimError", "ServerError", "TimeoutError", "export_tensors"]
