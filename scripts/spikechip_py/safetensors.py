"""safetensors read/write with numpy only (docs/model-format.md)."""
import json
import struct

import numpy as np

DTYPES = {"I8": np.int8, "U8": np.uint8, "I16": np.int16, "I32": np.int32, "I64": np.int64,
          "F32": np.float32}
_NAMES = {np.dtype(v).str.lstrip("<|="): k for k, v in DTYPES.items()}


def _dtype_name(arr):
    key = arr.dtype.newbyteorder("<").str.lstrip("<|=")
    if key not in _NAMES:
        raise ValueError(f"unsupported dtype {arr.dtype} (supported: {', '.join(DTYPES)})")
    return _NAMES[key]


def write(path, tensors, metadata=None):
    """Tensors in name order, raw little-endian data: identical bytes for identical input."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        dt = _dtype_name(arr)
        raw = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * ((8 - len(hjson) % 8) % 8)   # pad so tensor data is 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"{path}: header length {n} beyond the file size {len(data)}")
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, ent in header.items():
        if name == "__metadata__":
            continue
        b, e = ent["data_offsets"]
        dt = np.dtype(DTYPES[ent["dtype"]]).newbyteorder("<")
        arr = np.frombuffer(data[base + b: base + e], dtype=dt).reshape(ent["shape"])
        out[name] = arr.astype(dt.newbyteorder("="))
    return out
