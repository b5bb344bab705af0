"""The one builder and reader of the small records workers and computes write.

Grove records live at ``builds/<b>/state/<gid>.<state>``; a grove moves
``running`` -> ``done`` | ``failed`` | ``cancelled`` and the writer deletes
``running`` after its terminal record. Every record of a grove carries the
same base fields, whoever writes it (the worker, a local pool that saw its
worker die, an AWS dispatcher that could not send the event, a test fixture):

    grove, trees, seed, attempt, request_id, state, started, ended, host, pid

plus, for ``done``: timings, bytes and sha256 of the grove file, max_memory_mb, n_jobs; for ``failed``:
error, message, traceback.

Job records (distributed predict batches, search trials) are
``<job>/done/<id>.json`` or ``<job>/failed/<id>.json``.
"""

from __future__ import annotations

import os
import platform
import time
import traceback
from collections.abc import Mapping
from typing import Any, TypedDict

from lamforest import keys
from lamforest.store.base import Store, get_json, put_json

GROVE_STATES = ("running", "done", "failed", "cancelled")
TERMINAL = ("done", "failed", "cancelled")


class ErrorFields(TypedDict):
    error: str
    message: str
    traceback: str


def error_fields(exc: BaseException) -> ErrorFields:
    """What a ``failed`` record says of an exception: its type, message and traceback tail."""
    return {
        "error": type(exc).__name__,
        "message": str(exc)[:2000],
        "traceback": traceback.format_exc(limit=8)[-4000:],
    }


def grove_record(
    state: str,
    *,
    grove: int,
    trees: int,
    seed: int,
    attempt: int,
    request_id: str | None,
    started: float | None = None,
    ended: float | None = None,
    host: str | None = None,
    pid: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A grove record of ``state``; ``ended`` defaults to now for a terminal state."""
    if state not in GROVE_STATES:
        raise ValueError(f"unknown grove state {state!r}")
    if state in TERMINAL and ended is None:
        ended = time.time()
    return {
        "grove": grove,
        "trees": trees,
        "seed": seed,
        "attempt": attempt,
        "request_id": request_id,
        "state": state,
        "started": started,
        "ended": ended,
        "host": platform.node() if host is None else host,
        "pid": os.getpid() if pid is None else pid,
        **extra,
    }


def failed_record(
    *,
    grove: int,
    trees: int,
    seed: int,
    attempt: int,
    error: str,
    message: str,
    request_id: str | None = None,
    started: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A grove that failed (or never ran): its error type and a bounded message."""
    return grove_record(
        "failed",
        grove=grove,
        trees=trees,
        seed=seed,
        attempt=attempt,
        request_id=request_id,
        started=started,
        error=error,
        message=message[:2000],
        **extra,
    )


def write_grove(store: Store, build: str, gid: str, record: Mapping[str, Any]) -> None:
    """Write a grove record; a terminal one removes the grove's ``running`` record after it."""
    put_json(store, keys.state(build, gid, record["state"]), dict(record))
    if record["state"] in TERMINAL:
        store.delete(keys.state(build, gid, "running"))


def grove_done(store: Store, build: str, gid: str) -> bool:
    return store.exists(keys.state(build, gid, "done"))


def read_grove(store: Store, build: str, gid: str, state: str) -> dict[str, Any]:
    return get_json(store, keys.state(build, gid, state))


def job_record(state: str, **fields: Any) -> dict[str, Any]:
    """A predict batch's or a search trial's record."""
    if state not in ("done", "failed"):
        raise ValueError(f"unknown job state {state!r}")
    return {"state": state, "pid": os.getpid(), **fields}


def write_job(store: Store, prefix: str, jid: str, record: Mapping[str, Any]) -> None:
    put_json(store, keys.job_record(prefix, record["state"], jid), dict(record))


def job_done(store: Store, prefix: str, jid: str) -> bool:
    return store.exists(keys.job_record(prefix, "done", jid))
