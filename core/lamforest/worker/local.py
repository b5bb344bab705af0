"""A local execution environment: runs the handler as Lambda would and logs like Lambda.

``python -m lamforest.worker.local ROOT MEMORY_MB STARTED_NS`` is one
environment: its imports are the INIT phase (its first call reports an
``Init Duration``), then it reads invocations as JSON lines on stdin
(``{"request_id": ..., "event": {...}}``: the platform names each request, so
the pool that kills an environment can finish that request's log lines) and
answers on a private channel. Every call leaves ``START``/``END``/``REPORT``
lines with the measured duration, the configured memory size and the
process's own peak memory in the build's log. The driver's local pool starts
these processes and enforces the memory size; ``-s/--sync`` runs ``invoke``
in the driver's own process.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from typing import Any

from lamforest import keys
from lamforest.logs import append_lines, format_end, format_report, format_start
from lamforest.memory import peak_mb as peak_memory_mb
from lamforest.store.local import LocalStore


class Context:
    """What Lambda passes as ``context``: the parts the handler uses."""

    def __init__(self, request_id: str, memory_mb: int) -> None:
        self.aws_request_id = request_id
        self.memory_limit_in_mb = memory_mb
        self.function_name = "lamforest-local"


def log_key(event: Any) -> str:
    """The build's log; predict and search calls log apart (they are not the build's cost)."""
    event = event if isinstance(event, dict) else {}
    kind = event.get("kind")
    return keys.lambda_log(str(event.get("build", "_")), kind if kind in ("predict", "search", "shards") else None)


def invoke(
    event: dict, store: LocalStore, memory_mb: int, init_ms: float | None, request_id: str | None = None
) -> str | None:
    """Run the handler once as Lambda would, logging START/END/REPORT.

    Return None on success, else the error (``Type: message``) the handler raised: an
    invalid event, or a grove whose record could not be written (a full disk).
    ``request_id`` is the one the pool gave this call (a new one when None).
    """
    from lamforest.worker import handler

    rid = request_id or str(uuid.uuid4())
    log = store.root / log_key(event)
    _log(log, [format_start(rid)])
    t0 = time.perf_counter()
    error = None
    try:
        handler(event, Context(rid, memory_mb), store=store)
    except Exception as exc:  # Lambda logs it and reports an error
        error = f"{type(exc).__name__}: {exc}"
        _log(log, [f"[ERROR] {error}"])
    duration = (time.perf_counter() - t0) * 1000.0
    status = "error" if error else None
    _log(log, [format_end(rid), format_report(rid, duration, memory_mb, peak_memory_mb(), init_ms, status)])
    return error


def _log(path: Any, lines: list[str]) -> None:
    """Log lines are best effort: a full disk must not take the environment down with it."""
    try:
        append_lines(path, lines)
    except OSError as exc:
        print(f"lamforest worker: cannot write {path}: {exc}", file=sys.stderr)


def unwrap_invocation(doc: Any) -> tuple[Any, str | None]:
    """An invocation line: the event and its request id; a bare event gets a new request id."""
    if isinstance(doc, dict) and set(doc) == {"request_id", "event"}:
        rid = doc["request_id"]
        return doc["event"], rid if isinstance(rid, str) and rid else None
    return doc, None


def main(root: str, memory_mb: int, started_ns: int) -> None:
    """One environment process: events as JSON lines on stdin, one reply line each on the channel."""
    # Keep stdout for the protocol; anything the handler prints goes to stderr.
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    from lamforest.worker.boot import init

    init()  # the imports are the environment's INIT phase, with the image's package set

    store = LocalStore(root)
    init_ms: float | None = (time.time_ns() - started_ns) / 1e6
    channel.write(json.dumps({"ready": os.getpid()}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        event, rid = unwrap_invocation(json.loads(line))
        error = invoke(event, store, memory_mb, init_ms, rid)
        init_ms = None
        channel.write(json.dumps({"done": os.getpid(), "error": error}) + "\n")


if __name__ == "__main__":
    try:
        main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else time.time_ns())
        # Stdin closed: the pool is done with this environment, and everything it wrote is written
        # (replies go out line by line, records and log lines are closed files). Lambda never tears
        # an interpreter down; nor does this: unloading scikit-learn took ~0.2 s a closing pool waited on.
        sys.stdout.flush()  # fd 1 is stderr's here: what a handler printed is not lost
        sys.stderr.flush()
        os._exit(0)
    except (BrokenPipeError, KeyboardInterrupt):
        # The driver that fed this environment is gone (killed, or Ctrl+C): end quietly, as an
        # environment whose platform went away; the store says what was finished.
        os._exit(0)
