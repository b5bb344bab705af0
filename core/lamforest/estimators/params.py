"""What the estimators send to a build: parameters as JSON, and the build's name inside a search."""

from __future__ import annotations

import inspect
import json
from typing import Any

import numpy as np

from lamforest import keys
from lamforest.backend.base import Backend


def jsonable(value: Any, param: str) -> Any:
    """A parameter's value as JSON can carry it to a worker (numpy scalars and arrays become Python)."""
    if isinstance(value, np.generic):
        value = value.item()
    elif isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, (list, tuple)):
        value = [jsonable(v, param) for v in value]
    elif isinstance(value, dict):
        value = {str(k): jsonable(v, param) for k, v in value.items()}
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise ValueError(f"{param}={value!r} cannot be sent to a worker (not a number, string or list)") from None
    return value


def same(a: Any, b: Any) -> bool:
    """``a`` is ``b``'s default: same type and value (so 1 and 1.0, or True and 1, are told apart)."""
    if type(a) is not type(b):
        return False
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def search_position() -> tuple[int, int] | None:
    """(candidate, fold) when called from a scikit-learn search's fit of one candidate on one fold.

    Read from the ``_fit_and_score`` frame scikit-learn's searches call, which
    carries both as ``candidate_progress`` and ``split_progress``; None elsewhere.
    """
    frame = inspect.currentframe()
    try:
        while frame is not None:
            code = frame.f_code
            if code.co_name == "_fit_and_score" and "sklearn" in code.co_filename:
                split = frame.f_locals.get("split_progress")
                cand = frame.f_locals.get("candidate_progress")
                if split is not None:
                    return (int(cand[0]) if cand else 0), int(split[0])
                return None
            frame = frame.f_back
        return None
    finally:
        del frame


def build_exists(backend: Backend, name: str) -> bool:
    return backend.store.exists(keys.spec(name))
