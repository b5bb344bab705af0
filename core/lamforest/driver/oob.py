"""A finished build's OOB decision (classifier) or prediction (regressor), one row per train row.

``finish`` writes it beside the model when the forest bootstraps; the Python
estimators read it as ``oob_decision_function_`` / ``oob_prediction_``.
"""

from __future__ import annotations

import io

import numpy as np

from lamforest import keys
from lamforest.backend.base import Backend


def write_oob(backend: Backend, name: str, decision: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, np.asarray(decision, dtype=np.float64), allow_pickle=False)
    backend.store.put_bytes(keys.oob(name), buf.getvalue())


def read_oob(backend: Backend, name: str) -> np.ndarray | None:
    """The stored OOB decision or prediction, or None when the build has none."""
    try:
        blob = backend.store.get_bytes(keys.oob(name))
    except KeyError:
        return None
    return np.load(io.BytesIO(blob), allow_pickle=False)
