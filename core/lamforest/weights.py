"""Sample weights: the checks every weight array passes.

The driver reads a weight column with the rows (``data.load(..., weight=COL)``,
through ``tables.read_xy``, the one reader of every file type) or takes them
from the caller (``driver.create_from_arrays``); they are stored with the
train set as ``w.npy`` and every grove fits with them.
"""

from __future__ import annotations

import numpy as np

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
    with np.errstate(over="ignore"):  # an overflowing sum is named below, not warned about
        total = arr.sum()
    if not total > 0:
        raise SpecError("weight", f"{source}: weights sum to zero; at least one row needs a positive weight")
    if not np.isfinite(total):
        # The trees' impurity sums would overflow too: every grove would fail, and only after a build began.
        raise SpecError("weight", f"{source}: weights are too large (their sum overflows); scale them down")
    return arr
