"""Fashion-MNIST from Debian's IDX files (/usr/share/datasets/fashion-mnist, gzip + numpy), or
from $SPIKECHIP_FMNIST_DIR as the binary reads it ($FMNIST_DIR, this module's older name, too)."""
import gzip
import os

import numpy as np

from .files import ToolError

FMNIST_DIR = (os.environ.get("SPIKECHIP_FMNIST_DIR") or os.environ.get("FMNIST_DIR")
              or "/usr/share/datasets/fashion-mnist")
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"]


class DatasetError(ToolError):
    """The dataset's files are missing or damaged (the message says what to install or set)."""


def _read_idx(path):
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise DatasetError(f"{path}: cannot open (install dataset-fashion-mnist or set SPIKECHIP_FMNIST_DIR)") from None
    except (OSError, EOFError) as e:  # not gzip, truncated, unreadable
        raise DatasetError(f"{path}: cannot read ({e}); reinstall dataset-fashion-mnist or set SPIKECHIP_FMNIST_DIR") from None
    magic = int.from_bytes(data[0:4], "big")
    if magic >> 8 != 0x08:
        raise DatasetError(f"{path}: not a u8 IDX file (magic {magic:#x})")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise DatasetError(f"{path}: expected {dims} values, found {arr.size}")
    return arr.reshape(dims)


def load(split):
    """(images uint8 [N,1,28,28], labels int64 [N]) for split 'train' or 'test'."""
    prefix = {"train": "train", "test": "t10k"}[split]
    img = _read_idx(os.path.join(FMNIST_DIR, f"{prefix}-images-idx3-ubyte.gz"))
    lab = _read_idx(os.path.join(FMNIST_DIR, f"{prefix}-labels-idx1-ubyte.gz"))
    return img[:, None, :, :].copy(), lab.astype(np.int64)
