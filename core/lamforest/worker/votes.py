"""A ``predict`` event: the vote sums of a batch of groves on stored rows.

The worker loads groves ``grove .. grove+batch-1`` one at a time, sums its
trees' ``predict_proba`` (classifier) or ``predict`` (regressor) in tree
order, as scikit-learn's forest does, and writes the sum and the tree count;
the driver adds the batches in grove order.
"""

from __future__ import annotations

import io
import time
from typing import Any, cast

import numpy as np

from lamforest import artifacts, keys, records
from lamforest.events import PredictEvent
from lamforest.memory import peak_mb as peak_memory_mb
from lamforest.store.base import Store
from lamforest.worker.env import load_input


def grove_votes(estimator: Any, X: np.ndarray) -> np.ndarray:
    """Sum over the grove's trees of predict_proba (classifier) or predict (regressor), in tree order."""
    X = np.asarray(X, dtype=np.float32)
    total: np.ndarray
    outputs = int(getattr(estimator, "n_outputs_", 1))
    if hasattr(estimator, "classes_") and outputs > 1:
        # Every output's probability columns side by side, as forest.Votes sums them.
        total = np.zeros((X.shape[0], sum(len(c) for c in estimator.classes_)), dtype=np.float64)
        for tree in estimator.estimators_:
            total += np.hstack(tree.predict_proba(X, check_input=False))
    elif hasattr(estimator, "classes_"):
        total = np.zeros((X.shape[0], len(estimator.classes_)), dtype=np.float64)
        for tree in estimator.estimators_:
            total += tree.predict_proba(X, check_input=False)
    else:
        total = np.zeros((X.shape[0],) if outputs == 1 else (X.shape[0], outputs), dtype=np.float64)
        for tree in estimator.estimators_:
            total += tree.predict(X, check_input=False)
    return total


class GroveFileError(ValueError):
    """A grove file that is not what its worker wrote, or not a grove file at all: never used."""


def _load_grove(store: Store, build: str, gid: str) -> Any:
    """A grove's forest, checked against its done record's sha256 and read as a tree file (never a pickle)."""
    blob = store.get_bytes(keys.grove(build, gid))
    try:
        record = records.read_grove(store, build, gid, "done")
    except KeyError:
        raise GroveFileError(artifacts.grove_error(build, gid, "it has no done record", store)) from None
    why = artifacts.mismatch(blob, record)
    if why:
        raise GroveFileError(artifacts.grove_error(build, gid, why, store))
    try:
        return artifacts.loads_grove(blob).estimator
    except artifacts.TreeFileError as exc:
        raise GroveFileError(artifacts.grove_error(build, gid, str(exc), store)) from None


def run_votes(event: PredictEvent, store: Store, request_id: str) -> records.JobRecord:
    pre = keys.predict_job(event.build, event.job)
    base = {"grove": event.grove, "batch": event.batch, "request_id": request_id}
    if records.job_done(store, pre, event.gid):
        return cast(records.JobRecord, {**base, "state": "done", "duplicate": True})  # returned, not written
    t0 = time.perf_counter()
    try:
        X = load_input(store, event.input)
        t_load = time.perf_counter()
        total: np.ndarray | None = None
        trees, load_groves = 0, 0.0
        for g in range(event.grove, event.grove + event.batch):
            t = time.perf_counter()
            est = _load_grove(store, event.build, keys.grove_id(g))
            load_groves += time.perf_counter() - t
            votes = grove_votes(est, X)
            total = votes if total is None else total + votes
            trees += len(est.estimators_)
            del est
        if total is None:
            raise ValueError("a predict batch of no groves")  # parse_event makes batch >= 1
        buf = io.BytesIO()
        np.save(buf, total, allow_pickle=False)
        store.put_bytes(keys.job_votes(pre, event.gid), buf.getvalue())
        record = records.job_record(
            "done",
            **base,
            trees=trees,
            rows=int(X.shape[0]),
            load_ms=round((t_load - t0) * 1000, 2),
            groves_load_ms=round(load_groves * 1000, 2),
            total_ms=round((time.perf_counter() - t0) * 1000, 2),
            max_memory_mb=peak_memory_mb(),
        )
    except Exception as exc:
        record = records.job_record("failed", **base, **records.error_fields(exc))
    records.write_job(store, pre, event.gid, record)
    return record
