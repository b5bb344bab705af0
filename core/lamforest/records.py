"""The one builder and reader of the small records workers and computes write.

Grove records live at ``builds/<b>/state/<gid>.<state>``; a grove moves
``running`` -> ``done`` | ``failed`` | ``cancelled`` and the writer deletes
``running`` after its terminal record. Every record of a grove carries the
same base fields, whoever writes it (the worker, a local pool that saw its
worker die, an AWS dispatcher that could not send the event, a test fixture):

    grove, trees, seed, attempt, request_id, state, started, ended, host, pid,
    boot_id, pid_start

plus, for ``done``: timings, bytes and sha256 of the grove file, max_memory_mb, n_jobs; for ``failed``:
error, message, traceback.

Job records (distributed predict batches, search trials) are
``<job>/done/<id>.json`` or ``<job>/failed/<id>.json``.
"""

from __future__ import annotations

import os
import platform
import sys
import time
import traceback
import types
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Required, TypedDict, cast

from lamforest import keys
from lamforest.store.base import Store, get_json, put_json

GROVE_STATES = ("running", "done", "failed", "cancelled")
TERMINAL = ("done", "failed", "cancelled")


class GroveRecord(TypedDict, total=False):
    """A grove record as stored: the base fields every writer sets, then each state's own.

    ``boot_id``/``pid_start``/``writer`` say which process wrote it (absent when another process
    wrote it on the grove's behalf); a ``done`` record says what the worker measured and wrote (older
    builds' lack ``sha256``, ``rows``, ``tree_bytes``, ``estimator``), a ``failed`` one the error.
    """

    grove: Required[int]
    trees: Required[int]
    seed: Required[int]
    attempt: Required[int]
    request_id: Required[str | None]
    state: Required[str]
    started: Required[float | None]
    ended: Required[float | None]
    host: Required[str]
    pid: Required[int]
    boot_id: str | None
    pid_start: int | None
    writer: str
    # done
    load_ms: float
    fit_ms: float
    write_ms: float
    bytes: int
    sha256: str
    max_memory_mb: float | None
    n_jobs: int
    rows: int
    tree_bytes: int
    estimator: str
    warnings: list[dict[str, str]]
    # failed (``message`` also when cancelled between chunks)
    error: str
    message: str
    traceback: str
    # cancelled before it started
    trees_fitted: int


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


def boot_id() -> str | None:
    """This machine's boot id (Linux): a pid and a start time only mean something within one boot."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def pid_start(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (``/proc/<pid>/stat`` field 22).

    A pid is reused once its process ends; the pair (pid, start) names one process for the
    life of a boot, so a record's writer can be told from a later process that got its pid.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: count from after it.
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        return int(fields[19])  # field 22 overall; fields[0] here is field 3
    except (IndexError, ValueError):
        return None


def process_command(pid: int) -> str | None:
    """``lamforest.worker.local`` when process ``pid`` is a local worker, ``""`` when it is another
    program, None when this system cannot tell (no ``/proc``)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    if not raw:
        return None  # a process in the middle of exec (or a kernel thread) shows none: cannot tell
    argv = raw.split(b"\0")
    return "lamforest.worker.local" if b"lamforest.worker.local" in argv else ""


def pid_alive(pid: int) -> bool:
    """Is ``pid`` alive? A zombie counts as dead: orphans of a killed driver are not
    always reaped (e.g. in containers), and their groves must be dispatched again."""
    if pid <= 0:
        return False
    proc = Path(f"/proc/{pid}")
    if proc.is_dir():
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def writer_alive(record: Mapping[str, Any]) -> bool:
    """Is the process that wrote this record (on this host) still the one running?

    A pid alone is not enough: after a reboot, or once the writer has ended, another
    process may hold the same pid. Records that carry ``boot_id`` and ``pid_start`` are
    matched on both; older records fall back to the pid.
    """
    pid = int(record.get("pid", 0) or 0)
    if not pid_alive(pid):
        return False
    boot = record.get("boot_id")
    if boot is not None and boot != boot_id():
        return False
    started = record.get("pid_start")
    return started is None or pid_start(pid) == started


# On while a driver fits groves in its own process (``--sync``, small estimator fits): their records
# say so, since that process is no local worker and another process must not take them for lost.
IN_PROCESS = types.SimpleNamespace(on=False)


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
) -> GroveRecord:
    """A grove record of ``state``; ``ended`` defaults to now for a terminal state.

    Written by the process itself (no ``pid`` given), it also says which process that is
    (``boot_id``, ``pid_start``), so that a watcher can tell it from a later one that
    reuses the pid.
    """
    if state not in GROVE_STATES:
        raise ValueError(f"unknown grove state {state!r}")
    if state in TERMINAL and ended is None:
        ended = time.time()
    record: dict[str, Any] = {
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
        **({"boot_id": boot_id(), "pid_start": pid_start(os.getpid())} if pid is None else {}),
        **({"writer": "in-process"} if pid is None and IN_PROCESS.on else {}),
        **extra,
    }
    return cast(GroveRecord, record)  # ``extra``: a state's own fields, typed by ``done_record`` and the others


def done_record(
    *,
    grove: int,
    trees: int,
    seed: int,
    attempt: int,
    request_id: str | None,
    started: float | None,
    load_ms: float,
    fit_ms: float,
    write_ms: float,
    bytes: int,
    max_memory_mb: float | None,
    n_jobs: int,
    ended: float | None = None,
    sha256: str | None = None,
    rows: int | None = None,
    tree_bytes: int | None = None,
    estimator: str | None = None,
    warnings: list[dict[str, str]] | None = None,
) -> GroveRecord:
    """The ``done`` record of a grove whose file was written: what the worker measured and the file's
    facts (its sha256 and size are what readers check the file against; the tree bytes and the
    estimator's class are what a manifest lists without decoding the grove). Facts not given are
    left out, as in records written before they were kept."""
    optional: dict[str, Any] = {"sha256": sha256, "rows": rows, "tree_bytes": tree_bytes, "estimator": estimator}
    if warnings is not None:
        optional["warnings"] = warnings
    return grove_record(
        "done",
        grove=grove,
        trees=trees,
        seed=seed,
        attempt=attempt,
        request_id=request_id,
        started=started,
        ended=ended,
        load_ms=load_ms,
        fit_ms=fit_ms,
        write_ms=write_ms,
        bytes=bytes,
        max_memory_mb=max_memory_mb,
        n_jobs=n_jobs,
        **{k: v for k, v in optional.items() if v is not None},
    )


_INT_FIELDS = ("grove", "trees", "seed", "attempt", "pid", "bytes", "n_jobs", "rows", "tree_bytes", "trees_fitted")
_TIME_FIELDS = ("started", "ended")
_TEXT_FIELDS = ("sha256", "estimator", "error", "message", "host")


def parse_grove(doc: Any, state: str) -> GroveRecord:
    """A grove record read from ``state/<gid>.<state>``, checked: an object of that state whose fields
    have their types. Raises ``ValueError`` naming what is wrong (records are written whole, so a
    record that fails this is damaged or forged, not half written)."""
    if not isinstance(doc, dict):
        raise ValueError(f"a JSON {type(doc).__name__}, not an object")
    if doc.get("state") != state:
        raise ValueError(f"its state is {doc.get('state')!r}, its file name says {state!r}")
    for name in _INT_FIELDS:
        value = doc.get(name)
        if name in doc and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"its {name} is {str(value)[:40]!r}, not a whole number")
    for name in _TIME_FIELDS:
        value = doc.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"its {name} is {str(value)[:40]!r}, not a time")
    for name in _TEXT_FIELDS:
        if name in doc and not isinstance(doc[name], str):
            raise ValueError(f"its {name} is not text")
    return cast(GroveRecord, doc)


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
) -> GroveRecord:
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


def lost(running: Mapping[str, Any]) -> dict[str, Any]:
    """How a watcher sees a ``running`` record whose writer is gone without a terminal record
    (its process ended, or it outlived the function's timeout): a failed attempt, so that the
    driver retries it (bounded) instead of waiting for it. Never written: a late terminal
    record from the worker still wins."""
    return {
        **running,
        "state": "failed",
        "error": "Runtime.Lost",
        "message": (
            "its worker is gone and left no record (the process ended or its pid was reused, "
            "or the invocation outlived the function's timeout)"
        ),
    }


def write_grove(store: Store, build: str, gid: str, record: Mapping[str, Any]) -> None:
    """Write a grove record; a terminal one removes the grove's ``running`` record after it."""
    put_json(store, keys.state(build, gid, record["state"]), dict(record))
    if record["state"] in TERMINAL:
        store.delete(keys.state(build, gid, "running"))


MAX_WARNINGS = 5  # distinct warnings a grove record keeps
QUIET_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


def warning_list(caught: list[warnings.WarningMessage]) -> list[dict[str, str]]:
    """Distinct warnings a grove's fit raised, as its record keeps them: the category's full name
    and the message (a few, each once)."""
    out: list[dict[str, str]] = []
    for w in caught:
        if issubclass(w.category, QUIET_WARNINGS):
            continue  # hidden by Python's default filters where they arise: not for the caller either
        item = {"category": f"{w.category.__module__}.{w.category.__qualname__}", "message": str(w.message)[:500]}
        if item not in out:
            out.append(item)
    return out[:MAX_WARNINGS]


def distinct_warnings(recs: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(category, message) of each distinct warning grove records carry, in grove order."""
    seen: list[tuple[str, str]] = []
    for rec in recs:
        items = rec.get("warnings") if isinstance(rec, dict) else None
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            key = (str(item.get("category", "")), str(item.get("message", "")))
            if key not in seen:
                seen.append(key)
    return seen


def raise_warnings(recs: Sequence[Mapping[str, Any]], stacklevel: int = 2) -> list[str]:
    """Raise, in this process, each distinct warning the records carry, once, in its own category when
    that class is already imported here (a record names a class, never a module to import), else as a
    UserWarning; return their messages."""
    seen = distinct_warnings(recs)
    for category, message in seen:
        module, _, qualname = category.rpartition(".")
        # The module's own namespace, not getattr: a module's __getattr__ may import a package.
        found = vars(sys.modules[module]).get(qualname) if module in sys.modules else None
        cls: type[Warning] = found if isinstance(found, type) and issubclass(found, Warning) else UserWarning
        try:
            warnings.warn(message, cls, stacklevel=stacklevel + 1)
        except TypeError:  # a category whose constructor takes other arguments
            warnings.warn(message, UserWarning, stacklevel=stacklevel + 1)
    return [m for _, m in seen]


def grove_done(store: Store, build: str, gid: str) -> bool:
    return store.exists(keys.state(build, gid, "done"))


def read_grove(store: Store, build: str, gid: str, state: str) -> GroveRecord:
    """A grove's record of ``state``, checked (``parse_grove``); ``KeyError`` when there is none."""
    return parse_grove(get_json(store, keys.state(build, gid, state)), state)


class JobRecord(TypedDict, total=False):
    """A job record (``<job>/done/<id>.json`` or ``failed/<id>.json``): a predict batch (``grove``,
    ``batch``, ``trees``, ``rows``), a search trial (``trial``, ``params``, ``score``, ``metric``) or a
    sharded batch (``op``, ``shards`` and the sums its op returns), with the worker's timings; a failed
    one has the error fields."""

    state: Required[str]
    pid: Required[int]
    request_id: str | None
    # a predict batch
    grove: int
    batch: int
    trees: int
    rows: int
    load_ms: float
    groves_load_ms: float
    total_ms: float
    # a search trial
    trial: int
    seed: int
    params: dict[str, Any]
    n_jobs: int
    score: float
    metric: str
    started: float
    ended: float
    fit_ms: float
    score_ms: float
    # a sharded batch (its op's sums are fields of their own)
    op: str
    shards: list[int]
    ms: float
    max_memory_mb: float | None
    # failed
    error: str
    message: str
    traceback: str


JOB_STATES = ("done", "failed")


def job_record(state: str, **fields: Any) -> JobRecord:
    """A predict batch's, search trial's or sharded batch's record, written by the process itself."""
    if state not in JOB_STATES:
        raise ValueError(f"unknown job state {state!r}")
    record: dict[str, Any] = {"state": state, "pid": os.getpid(), **fields}
    return cast(JobRecord, record)


def write_job(store: Store, prefix: str, jid: str, record: Mapping[str, Any]) -> None:
    put_json(store, keys.job_record(prefix, record["state"], jid), dict(record))


def parse_job(doc: Any, state: str) -> JobRecord:
    """A job record read from ``<job>/<state>/<id>.json``, checked as ``parse_grove`` checks a grove's:
    an object of that state whose common fields have their types; ``ValueError`` else."""
    if not isinstance(doc, dict):
        raise ValueError(f"a JSON {type(doc).__name__}, not an object")
    if doc.get("state") != state:
        raise ValueError(f"its state is {doc.get('state')!r}, its file name says {state!r}")
    for name in ("grove", "batch", "trees", "rows", "trial"):
        value = doc.get(name)
        if name in doc and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"its {name} is {str(value)[:40]!r}, not a whole number")
    for name in ("request_id", "error", "message", "metric", "op"):
        if doc.get(name) is not None and not isinstance(doc[name], str):
            raise ValueError(f"its {name} is not text")
    if (
        state == "done"
        and "score" in doc
        and (isinstance(doc["score"], bool) or not isinstance(doc["score"], (int, float)))
    ):
        raise ValueError(f"its score is {str(doc['score'])[:40]!r}, not a number")
    return cast(JobRecord, doc)


def job_done(store: Store, prefix: str, jid: str) -> bool:
    return store.exists(keys.job_record(prefix, "done", jid))
