"""Sample weights: a weight column read from a data file, and the checks every weight array passes.

The driver reads weights with the rows (``data.load(..., weight=COL)``) or takes
them from the caller (``driver.create_from_arrays``); they are stored with the
train set as ``w.npy`` and every grove fits with them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lamforest import tables
from lamforest.spec import SpecError


def check_weight(w: object, n_rows: int, source: str = "sample_weight") -> np.ndarray:
    """Sample weights as float64, one per row, finite and non-negative with a positive sum."""
    arr = np.asarray(w)
    if arr.ndim != 1 or arr.shape[0] != n_rows:
        raise SpecError("weight", f"{source}: need one weight per row ({n_rows}), got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) or np.iscomplexobj(arr):
        raise SpecError("weight", f"{source}: weights must be real numbers, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise SpecError("weight", f"{source}: weights must be finite (no NaN or infinity)")
    if (arr < 0).any():
        raise SpecError("weight", f"{source}: weights must be non-negative")
    if not arr.sum() > 0:
        raise SpecError("weight", f"{source}: weights sum to zero; at least one row needs a positive weight")
    return arr


def read_xyw(path: Path, target: str | None, weight: str) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """``read_xy`` plus a column of sample weights, which is neither a feature nor the target.

    ``weight`` is a column name (CSV, Parquet), a column index (.npy) or an array name (.npz).
    """
    suffix = path.suffix.lower()
    if suffix not in tables.SUFFIXES:
        raise SpecError("data", f"unsupported file type {suffix!r}; use {', '.join(tables.SUFFIXES)}")
    head = tables.check_file(path)
    where = path.name
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            names = list(z.files)
            if weight not in names:
                raise SpecError("weight", f"{where}: no array named {weight!r}; arrays are {', '.join(names)}")
            w = z[weight]
        X, y = tables.read_npz(path)
        assert y is not None
        return X, y, [f"x{i}" for i in range(X.shape[1])], w
    if suffix == ".npy":
        arr = tables.read_npy(path, head)
        if arr.ndim != 2 or arr.shape[1] < 3:
            raise SpecError("data", f"{where}: with weights, an .npy file needs features, a target and a weight column")
        ycol = arr.shape[1] - 1 if target is None else tables.column_index(target, arr.shape[1], where)
        try:
            wcol = tables.column_index(weight, arr.shape[1], where)
        except SpecError as exc:
            raise SpecError("weight", exc.message) from None
        if wcol == ycol:
            raise SpecError("weight", f"{where}: column {wcol} is the target; weights need a column of their own")
        X = np.delete(arr, [ycol, wcol], axis=1)
        return X, arr[:, ycol], [f"x{i}" for i in range(X.shape[1])], arr[:, wcol]
    header, columns = tables.read_columns(path, head)
    if weight not in header:
        raise SpecError("weight", f"{where}: no column {weight!r}; columns are {', '.join(header)}")
    targets = tables.check_targets(target, header, where)
    if weight in targets:
        raise SpecError("weight", f"{where}: {weight!r} is the target; weights need a column of their own")
    features = [h for h in header if h not in (*targets, weight)]
    if not features:
        raise SpecError("data", f"{where}: no feature columns besides the target and the weights")
    X = tables.columns_matrix(header, columns, features, where)
    try:
        w = tables.column_floats(columns[header.index(weight)], weight, where)
    except SpecError as exc:
        raise SpecError("weight", exc.message) from None
    return X, tables.targets_of(header, columns, targets, where), features, w
