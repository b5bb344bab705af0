"""What the estimators send to a build: parameters as JSON, lamforest's own parameters declared as
scikit-learn declares its, and the names of builds fitted by copies (searches, cross-validation)."""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from lamforest import keys
from lamforest.backend.base import Backend
from lamforest.spec import ARCHITECTURES, MEMORY_MAX_MB, MEMORY_MIN_MB

# lamforest's parameters, in scikit-learn's constraint vocabulary: each estimator declares these
# beside its scikit-learn forest's ``_parameter_constraints``, so a bad value is refused by
# scikit-learn's own validation, in its words ("The 'grove_size' parameter of ... must be ...").
LAMFOREST_CONSTRAINTS: dict[str, list[Any]] = {
    "backend": [StrOptions({"local", "aws"})],
    "grove_size": [Interval(Integral, 1, None, closed="left")],
    "name": [str, None],  # its form is the spec's to check (letters, digits, '_', '.', '-')
    "workers": [Interval(Integral, 1, None, closed="left"), None],
    # As joblib reads it (-1: every core, -2: all but one); 0 has no meaning there, nor here.
    "n_jobs": [Interval(Integral, None, -1, closed="right"), Interval(Integral, 1, None, closed="left"), None],
    "memory": [Interval(Integral, MEMORY_MIN_MB, MEMORY_MAX_MB, closed="both")],
    "arch": [StrOptions(set(ARCHITECTURES))],
    "max_cost": [Interval(Real, 0, None, closed="neither"), None],
    "progress": ["boolean"],
}

NAME_MAX = 100  # the longest build name the spec takes (spec.NAME_RE)
NAME_LIMIT = 90  # a generated name leaves room for a "-2", "-3" when it is taken
_LABEL_LIMIT = 40  # the parameters set on a copy, when longer than this, are named by their hash


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


def generated_name(code: str) -> str:
    """A fresh build name for an estimator without a ``name``: ``rf-20250101-120000-3fa2c1``."""
    return f"{code}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:6]


def _value_text(value: Any) -> str:
    """A parameter value as it can stand in a build name: numbers, strings, None and True as they
    read; anything else (lists, dicts, arrays) by a short hash of its repr."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        text = format(value, ".6g")
    elif value is None or isinstance(value, (bool, int, str)):
        text = str(value)
    elif callable(value):
        text = getattr(value, "__name__", type(value).__name__)
    else:
        return _short_hash(repr(value))
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text) or "_"


def copy_suffix(candidate: dict[str, Any], rows_ref: str | None) -> str:
    """What sets one fit of a copy made by ``clone`` apart from the others of a search: the parameters
    set on it since (a search's candidate: ``max_depth_4``) and, when fitted on arrays, its rows
    (``rows`` and the first six hex digits of the train set's content address, the plan's
    ``data_ref``: one per fold). The same candidate on the same rows gets the same suffix in every run."""
    parts = [f"{k}_{_value_text(v)}" for k, v in sorted(candidate.items())]
    label = "-".join(parts)
    if len(label) > _LABEL_LIMIT:
        label = "p" + _short_hash(repr(sorted((k, repr(v)) for k, v in candidate.items())))
    if rows_ref is not None:
        rows = "rows" + rows_ref.rsplit("/", 1)[-1][:6]
        label = f"{label}-{rows}" if label else rows
    return label


def build_exists(backend: Backend, name: str) -> bool:
    """Whether the name is taken: a build's spec, a claim being created, or a search (they share names)."""
    return any(backend.store.exists(k) for k in (keys.spec(name), keys.claim(name), keys.search(name)))
