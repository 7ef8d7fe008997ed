"""Lists of report rows (dicts) as tables: a dict of NumPy arrays, one per column."""
from typing import Any, Dict, List, Mapping

import numpy as np


def _flatten(row: Mapping[str, Any], prefix: str = "") -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for k, v in row.items():
        if isinstance(v, Mapping):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def table(rows: List[Mapping[str, Any]]) -> Dict[str, np.ndarray]:
    """Column name -> array (nested dicts become "a.b" columns; a list per row, such as a shape,
    becomes a 2-D array when every row's list has the same length, else an object array)."""
    flat = [_flatten(r) for r in rows]
    cols: Dict[str, np.ndarray] = {}
    names: List[str] = []
    for r in flat:
        for k in r:
            if k not in names:
                names.append(k)
    for k in names:
        vals = [r.get(k) for r in flat]
        if vals and all(isinstance(v, list) for v in vals) and len({len(v) for v in vals}) == 1 \
                and all(not isinstance(x, (list, dict, str)) for v in vals for x in v):
            cols[k] = np.array(vals)
        elif all(isinstance(v, bool) for v in vals):
            cols[k] = np.array(vals, dtype=bool)
        elif all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
            cols[k] = np.array(vals, dtype=np.int64)
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            cols[k] = np.array(vals, dtype=np.float64)
        elif all(isinstance(v, str) for v in vals):
            cols[k] = np.array(vals, dtype=str)
        else:
            a = np.empty(len(vals), dtype=object)
            a[:] = vals
            cols[k] = a
    return cols


def to_pandas(cols: Dict[str, np.ndarray]):
    """A pandas DataFrame of a table (2-D columns become lists per row). Needs pandas."""
    try:
        import pandas as pd
    except ImportError as e:  # pragma: no cover - depends on the machine
        raise ImportError("to_pandas() needs pandas (Debian: apt-get install python3-pandas)") from e
    return pd.DataFrame({k: (list(v) if v.ndim > 1 else v) for k, v in cols.items()})
