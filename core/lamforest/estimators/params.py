"""What the estimators send to a build: parameters as JSON, and the build's name inside a search."""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
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


@dataclass(frozen=True)
class SearchPosition:
    """Where a fit sits in a scikit-learn search: its candidate, its fold, and which search."""

    candidate: int
    fold: int
    search: str | None  # e.g. "gridsearchcv-3fa2c1": the search's class and a short id of the object

    def suffix(self) -> str:
        return f"c{self.candidate}-f{self.fold}"


def search_position() -> SearchPosition | None:
    """Where this fit sits when called from a scikit-learn search's fit of one candidate on one fold.

    Read from the ``_fit_and_score`` frame scikit-learn's searches call, which
    carries ``candidate_progress``, ``split_progress`` and the search as
    ``caller``; None elsewhere (a plain fit, ``cross_val_score``, a refit).
    """
    frame = inspect.currentframe()
    try:
        while frame is not None:
            code = frame.f_code
            if code.co_name == "_fit_and_score" and "sklearn" in code.co_filename:
                split = frame.f_locals.get("split_progress")
                cand = frame.f_locals.get("candidate_progress")
                caller = frame.f_locals.get("caller")
                if split is None:
                    return None
                search = f"{type(caller).__name__.lower()}-{id(caller) & 0xFFFFFF:06x}" if caller is not None else None
                return SearchPosition(int(cand[0]) if cand else 0, int(split[0]), search)
            frame = frame.f_back
        return None
    finally:
        del frame


def build_exists(backend: Backend, name: str) -> bool:
    """Whether the name is taken: a build's spec, a claim being created, or a search (they share names)."""
    return any(backend.store.exists(k) for k in (keys.spec(name), keys.claim(name), keys.search(name)))
