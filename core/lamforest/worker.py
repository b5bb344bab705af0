"""``handler(event, context)``: THE entry point, for Lambda and for local workers alike.

For each grove event (bare, or wrapped in SNS records) it:

1. stops at once if the build's ``CANCEL`` marker exists;
2. loads the train set, cached for the life of the execution environment;
3. fits the grove in chunks of trees, checking ``CANCEL`` between chunks;
4. writes the grove, then the ``done`` record.

A grove that raises becomes a ``failed`` record (type and message) and the
handler returns normally: the driver owns retries, bounded and visible. Only
an invalid event raises, since there is no grove to record it against.
"""

from __future__ import annotations

import io
import json
import os
import platform
import resource
import time
import traceback
import uuid
from typing import Any

import joblib
import numpy as np
import sklearn.ensemble  # noqa: F401  - loaded in the INIT phase, as Lambda bills and reports it

from lamforest import data as datamod
from lamforest.grove import Cancelled, fit
from lamforest.spec import GroveTask, SpecError
from lamforest.store.base import Store, put_json

GROVE_COMPRESS = ("lz4", 1)  # fast lz4: a 46 MB grove dumps in 0.09 s to 10 MB; level 3 (HC) took 0.44 s for 7 MB

# Train sets already opened by this execution environment, by (store, ref).
_DATA_CACHE: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
_STORE: Store | None = None


def unwrap(event: Any) -> list[Any]:
    """The grove events inside what Lambda delivered: SNS records, a list, or one bare event."""
    if isinstance(event, dict) and "Records" in event:
        out = []
        for i, record in enumerate(event["Records"] or []):
            sns = record.get("Sns") if isinstance(record, dict) else None
            if not isinstance(sns, dict) or "Message" not in sns:
                raise SpecError(f"Records[{i}]", "expected an SNS record with Sns.Message")
            try:
                out.append(json.loads(sns["Message"]))
            except (TypeError, ValueError):
                raise SpecError(f"Records[{i}].Sns.Message", "is not valid JSON") from None
        if not out:
            raise SpecError("Records", "no records in the event")
        return out
    if isinstance(event, str):
        try:
            event = json.loads(event)
        except ValueError:
            raise SpecError("event", "is not valid JSON") from None
    if isinstance(event, list):
        return event
    return [event]


def store_from_env() -> Store:
    """``LAMFOREST_BUCKET`` (S3, as on Lambda) or ``LAMFOREST_HOME`` (a local folder)."""
    global _STORE
    if _STORE is None:
        bucket = os.environ.get("LAMFOREST_BUCKET")
        if bucket:
            from lamforest.store.s3 import S3Store

            _STORE = S3Store(bucket)
        elif os.environ.get("LAMFOREST_HOME"):
            from lamforest.store.local import LocalStore

            _STORE = LocalStore(os.environ["LAMFOREST_HOME"])
        else:
            raise RuntimeError("set LAMFOREST_BUCKET (or LAMFOREST_HOME for a local store)")
    return _STORE


def handler(event: Any, context: Any = None, store: Store | None = None) -> dict[str, Any]:
    tasks = [GroveTask.from_event(e) for e in unwrap(event)]
    store = store or store_from_env()
    request_id = getattr(context, "aws_request_id", None) or str(uuid.uuid4())
    return {"request_id": request_id, "groves": [run(t, store, request_id) for t in tasks]}


def error_fields(exc: BaseException) -> dict[str, str]:
    """What a ``failed`` record says of an exception: its type, message and traceback tail."""
    return {
        "error": type(exc).__name__,
        "message": str(exc)[:2000],
        "traceback": traceback.format_exc(limit=8)[-4000:],
    }


def _max_rss_mb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def load_train(store: Store, ref: str) -> tuple[np.ndarray, np.ndarray]:
    key = (store.url, ref)
    if key not in _DATA_CACHE:
        _DATA_CACHE[key] = datamod.open_train(store, ref)
    return _DATA_CACHE[key]


def run(task: GroveTask, store: Store, request_id: str) -> dict[str, Any]:
    """Run one grove to a terminal record; return that record."""
    if task.kind == "predict":  # distributed predict: vote sums of a batch of groves
        from lamforest.predict import run_votes

        return run_votes(task, store, request_id)
    if task.kind == "search":  # one hyperparameter combination: a whole forest, scored on validation
        from lamforest.search import run_trial

        return run_trial(task, store, request_id)
    prefix = f"builds/{task.build}"
    state = f"{prefix}/state/{task.gid}"
    cancel_key = f"{prefix}/CANCEL"
    base = {
        "grove": task.grove,
        "trees": task.trees,
        "seed": task.seed,
        "attempt": task.attempt,
        "request_id": request_id,
        "host": platform.node(),
        "pid": os.getpid(),
    }
    if store.exists(f"{state}.done"):
        # At-least-once delivery: a duplicate of a grove already done does nothing.
        return {**base, "state": "done", "duplicate": True}
    if store.exists(cancel_key):
        record = {**base, "state": "cancelled", "trees_fitted": 0, "ended": time.time()}
        put_json(store, f"{state}.cancelled", record)
        return record
    started = time.time()
    put_json(store, f"{state}.running", {**base, "state": "running", "started": started})
    t0 = time.perf_counter()
    try:
        X, y = load_train(store, task.data)
        t_load = time.perf_counter()
        grove = fit(task, X, y, should_stop=lambda: store.exists(cancel_key))
        t_fit = time.perf_counter()
        buf = io.BytesIO()
        joblib.dump(
            {
                "v": 1,
                "estimator": grove.estimator,
                "trees": grove.trees,
                "seed": grove.seed,
                "oob_sum": grove.oob_sum,
                "oob_count": grove.oob_count,
            },
            buf,
            compress=GROVE_COMPRESS,
        )
        store.put_bytes(f"{prefix}/groves/{task.gid}.joblib", buf.getvalue())
        t_write = time.perf_counter()
        record = {
            **base,
            "state": "done",
            "started": started,
            "ended": time.time(),
            "load_ms": round((t_load - t0) * 1000, 2),
            "fit_ms": round((t_fit - t_load) * 1000, 2),
            "write_ms": round((t_write - t_fit) * 1000, 2),
            "bytes": buf.tell(),
            "max_memory_mb": _max_rss_mb(),
            "n_jobs": task.n_jobs,
        }
        put_json(store, f"{state}.done", record)
    except Cancelled as exc:
        record = {**base, "state": "cancelled", "started": started, "ended": time.time(), "message": str(exc)}
        put_json(store, f"{state}.cancelled", record)
    except Exception as exc:
        record = {**base, "state": "failed", "started": started, "ended": time.time(), **error_fields(exc)}
        put_json(store, f"{state}.failed", record)
    store.delete(f"{state}.running")
    return record
