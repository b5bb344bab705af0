"""How groves and merged models are written to and read from the store: one place for the format.

Both are tree files (``lamforest.treefile``): numbers and names only, so
reading one from the store can never run code, whoever wrote it. A file that
is not a well-formed tree file raises ``TreeFileError`` (a ``ValueError``)
with a one-line message; callers name the build and the grove or model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from lamforest import keys, treefile
from lamforest.grove import Grove
from lamforest.store.base import Store, location
from lamforest.treefile import TreeFileError

# Exported .joblib files (`lamforest export`): zlib, which joblib.load reads with nothing more than
# scikit-learn's own dependencies (lz4 was faster, and a user without the lz4 package could not load it).
EXPORT_COMPRESS = ("zlib", 3)


def digest(blob: bytes) -> str:
    """The sha256 a record keeps of a stored file, to check it before it is used."""
    return hashlib.sha256(blob).hexdigest()


def mismatch(blob: bytes, record: Mapping[str, Any] | None) -> str | None:
    """Why ``blob`` is not the file ``record`` (a done record or a summary) describes, or None.

    A record without ``sha256`` (written before files were hashed) checks nothing.
    """
    if not record or "sha256" not in record:
        return None
    if "bytes" in record and record["bytes"] != len(blob):
        return f"it has {len(blob):,} bytes, its record says {record['bytes']:,} (truncated or replaced)"
    if digest(blob) != record["sha256"]:
        return "its sha256 differs from its record (altered or replaced)"
    return None


def grove_refit_hint(build: str, gid: str, store: Store | None = None, file_there: bool = True) -> str:
    """The way out for a bad grove file: it is deterministic, so fitting it again gives the same grove."""
    where = _where(store)
    files = where(keys.state(build, gid, "done"))
    if file_there:
        files += f" and {where(keys.grove(build, gid))}"
    return f"delete {files}, then `lamforest finish {build}` fits it again"


def grove_error(build: str, gid: str, why: str, store: Store | None = None, file_there: bool = True) -> str:
    """One line: a grove file that will not be used, and how to fit it again (naming files in ``store``)."""
    return (
        f"build {build!r}: grove {gid} ({_where(store)(keys.grove(build, gid))}) is not used: {why}; "
        f"{grove_refit_hint(build, gid, store, file_there)}"
    )


def model_error(build: str, why: str, store: Store | None = None) -> str:
    """One line: a model file that will not be used, and how to merge it again."""
    where = _where(store)
    return (
        f"build {build!r}: the model ({where(keys.model(build))}) is not used: {why}; "
        f"delete {where(keys.summary(build))} and run `lamforest finish {build}` to merge the groves again"
    )


def _where(store: Store | None) -> Callable[[str], str]:
    return (lambda key: key) if store is None else (lambda key: location(store, key))


def dumps_grove(grove: Grove) -> bytes:
    extra = {"trees": grove.trees, "seed": grove.seed, "oob_sum": grove.oob_sum, "oob_count": grove.oob_count}
    return treefile.dumps(grove.estimator, extra)


def _optional_array(extra: dict[str, Any], name: str) -> np.ndarray | None:
    value = extra.get(name)
    if value is not None and not isinstance(value, np.ndarray):
        raise TreeFileError(f"grove file: {name} is {type(value).__name__}, not an array")
    return value


def loads_grove(blob: bytes, raw: bool = False) -> Grove:
    """A grove file's forest and OOB sums. ``raw``: its trees as ``treefile.RawTree`` arrays (what voting
    needs: the same predictions to the bit, the file's records held once, no scikit-learn objects)."""
    est, extra = treefile.loads_raw(blob) if raw else treefile.loads(blob)
    if not hasattr(est, "estimators_"):
        raise TreeFileError(f"grove file holds a {type(est).__name__}, not a forest")
    trees, seed = extra.get("trees"), extra.get("seed")
    if not isinstance(trees, int) or isinstance(trees, bool) or trees != len(est.estimators_):
        raise TreeFileError(f"grove file: trees is {trees!r}, the forest holds {len(est.estimators_)}")
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool):
        raise TreeFileError(f"grove file: seed is {seed!r}, not an int")
    return Grove(est, trees, int(seed), _optional_array(extra, "oob_sum"), _optional_array(extra, "oob_count"))


def dumps_model(model: Any) -> bytes:
    return treefile.dumps(model)


def loads_model(blob: bytes) -> Any:
    est, _ = treefile.loads(blob)
    if not hasattr(est, "estimators_"):
        raise TreeFileError(f"model file holds a {type(est).__name__}, not a forest")
    return est
