"""What distributed predict and search share: stored inputs, waiting on records, costs of invocations.

Both send events of a new kind (``predict``, ``search``) through the build's
ordinary compute (local pool, SNS, invoke) and wait for small records in the
store; neither changes how a build is fitted or watched.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Callable

import numpy as np

from lamforest import data as datamod
from lamforest.config import Backend
from lamforest.logs import Report, parse_report
from lamforest.store.base import Store, get_json


class JobTimeout(RuntimeError):
    """Workers did not answer within the bounded wait."""


def put_input(store: Store, X: np.ndarray) -> str:
    """Store rows to predict once, addressed by their content; return ``data/<sha256>``."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    h = hashlib.sha256(json.dumps(["input", str(X.dtype), list(X.shape)]).encode())
    h.update(X.data)
    ref = f"data/{h.hexdigest()}"
    if not store.exists(f"{ref}/meta.json"):
        buf = io.BytesIO()
        np.save(buf, X, allow_pickle=False)
        store.put_bytes(f"{ref}/X.npy", buf.getvalue())
        store.put_bytes(
            f"{ref}/meta.json", json.dumps({"rows": int(X.shape[0]), "cols": int(X.shape[1]), "kind": "input"}).encode()
        )
    return ref


_INPUTS: dict[tuple[str, str], np.ndarray] = {}


def open_input(store: Store, ref: str) -> np.ndarray:
    """Memory-map stored rows (in place locally, from the /tmp cache on S3); cached per environment."""
    key = (store.url, ref)
    if key not in _INPUTS:
        path = store.local_path(f"{ref}/X.npy")
        if path is None:
            path = datamod.cache_dir() / ref / "X.npy"
            if not path.is_file():
                store.get_file(f"{ref}/X.npy", path)
        elif not path.is_file():
            raise KeyError(f"{ref}/X.npy")
        _INPUTS[key] = np.load(path, mmap_mode="r", allow_pickle=False)
    return _INPUTS[key]


def wait_records(
    store: Store,
    prefix: str,
    expected: list[str],
    *,
    timeout_s: float,
    poll_s: float = 0.05,
    on_progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> tuple[dict[str, dict], dict[str, dict]]:
    """Wait (bounded) until every id in ``expected`` has ``<prefix>/done/<id>.json`` or ``failed/<id>.json``.

    One LIST per poll; each record is read once. Returns (done, failed) records by id.
    """
    done: dict[str, dict] = {}
    failed: dict[str, dict] = {}
    want = set(expected)
    deadline = time.monotonic() + timeout_s
    while True:
        for key in store.list(f"{prefix}/"):
            rel = key[len(prefix) + 1 :]
            state, _, name = rel.partition("/")
            jid = name.removesuffix(".json")
            if state in ("done", "failed") and jid in want and jid not in done and jid not in failed:
                try:
                    (done if state == "done" else failed)[jid] = get_json(store, key)
                except (KeyError, ValueError):
                    continue  # mid-write: next poll
        if on_progress:
            on_progress(len(done), len(want))
        if len(done) + len(failed) >= len(want) or should_stop():
            return done, failed
        if time.monotonic() > deadline:
            missing = sorted(want - set(done) - set(failed))
            raise JobTimeout(
                f"no answer after {timeout_s:.0f} s from {len(missing)} invocation(s): {', '.join(missing[:5])}"
            )
        time.sleep(poll_s)


def reports_for(
    backend: Backend, log_name: str, kind: str, request_ids: set[str], wait_s: float = 5.0
) -> dict[str, Report]:
    """REPORT lines of these invocations, joined by request id; waits (bounded) for late CloudWatch lines.

    Local workers log predict/search calls to ``builds/<name>/<kind>/lambda.log`` (kept out of the
    build's own cost); on AWS every call is in the function's log group.
    """
    source = backend.new_log_source()
    key = f"{log_name}/{kind}" if backend.name == "local" else log_name
    found: dict[str, Report] = {}
    deadline = time.monotonic() + wait_s
    while True:
        for line in source.lines(key):
            rep = parse_report(line)
            if rep and rep.request_id in request_ids:
                found[rep.request_id] = rep
        if set(found) >= request_ids or time.monotonic() > deadline:
            return found
        time.sleep(0.2)
