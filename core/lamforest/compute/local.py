"""Local worker processes that behave like Lambda execution environments.

A persistent pool: each process is one environment. Its first call reports an
``Init Duration`` (the process's start-up), later calls are warm. Every call
leaves Lambda-format ``START``/``END``/``REPORT`` lines in the build's log,
with the measured duration, the configured memory size and the process's
peak RSS. The train set travels by reference and is memory-mapped by the
worker, never pickled.

A process that dies mid-grove (killed, out of memory) is replaced, and the
grove it held is recorded ``failed`` with ``Runtime.ExitError``, as Lambda
reports it; the driver then retries it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import resource
import signal
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lamforest.logs import append_lines, format_end, format_report, format_start
from lamforest.spec import GroveTask
from lamforest.store.base import put_json
from lamforest.store.local import LocalStore

_POLL_S = 0.1


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


class _Context:
    """What Lambda passes as ``context``: the parts the handler uses."""

    def __init__(self, request_id: str, memory_mb: int) -> None:
        self.aws_request_id = request_id
        self.memory_limit_in_mb = memory_mb
        self.function_name = "lamforest-local"


def _worker_main(root: str, inbox: Any, outbox: Any, memory_mb: int, spawned_at: float) -> None:
    # Ctrl+C in the terminal reaches the whole process group; the driver decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from lamforest.worker import handler

    store = LocalStore(root)
    init_ms: float | None = (time.time() - spawned_at) * 1000.0
    while True:
        item = inbox.get()
        if item is None:
            return
        event = item
        rid = str(uuid.uuid4())
        build = event.get("build", "_")
        log = Path(root) / "builds" / build / "lambda.log"
        outbox.put(("start", os.getpid(), rid, event))
        append_lines(log, [format_start(rid)])
        t0 = time.perf_counter()
        status = None
        try:
            handler(event, _Context(rid, memory_mb), store=store)
        except Exception as exc:  # an invalid event: Lambda would log and report an error
            status = "error"
            append_lines(log, [f"[ERROR] {type(exc).__name__}: {exc}"])
        duration = (time.perf_counter() - t0) * 1000.0
        peak = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        append_lines(
            log,
            [format_end(rid), format_report(rid, duration, memory_mb, peak, init_ms, status)],
        )
        init_ms = None
        outbox.put(("end", os.getpid(), rid, None))


class LocalCompute:
    """A pool of ``workers`` environment processes fed from one queue."""

    name = "local"

    def __init__(self, store: LocalStore, workers: int | None = None, memory_mb: int = 1769) -> None:
        self.store = store
        self.workers = workers or default_workers()
        self.memory_mb = memory_mb
        # forkserver: safe with the driver's threads (the TUI has several), and
        # the server preloads scikit-learn so new environments start quickly.
        self._ctx = mp.get_context("forkserver")
        self._ctx.set_forkserver_preload(["lamforest.worker"])
        self._inbox = self._ctx.Queue()
        self._outbox = self._ctx.Queue()
        self._procs: dict[int, Any] = {}
        self._current: dict[int, tuple[str, dict]] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.on_exit: Callable[[int, dict], None] | None = None
        for _ in range(self.workers):
            self._spawn()
        self._supervisor = threading.Thread(target=self._supervise, name="lamforest-pool", daemon=True)
        self._supervisor.start()

    def _spawn(self) -> None:
        p = self._ctx.Process(
            target=_worker_main,
            args=(str(self.store.root), self._inbox, self._outbox, self.memory_mb, time.time()),
            daemon=True,
        )
        p.start()
        self._procs[p.pid] = p

    @property
    def pids(self) -> list[int]:
        with self._lock:
            return list(self._procs)

    def busy(self) -> dict[int, dict]:
        """pid -> event each environment is running now."""
        with self._lock:
            return {pid: ev for pid, (_rid, ev) in self._current.items()}

    def submit(self, tasks: list[GroveTask]) -> None:
        for task in tasks:
            self._inbox.put(task.to_event())

    def _supervise(self) -> None:
        while not self._closed.is_set():
            try:
                kind, pid, rid, event = self._outbox.get(timeout=_POLL_S)
                with self._lock:
                    if kind == "start":
                        self._current[pid] = (rid, event)
                    else:
                        self._current.pop(pid, None)
            except queue.Empty:
                pass
            except (EOFError, OSError):
                return
            self._reap()

    def _reap(self) -> None:
        with self._lock:
            dead = [pid for pid, p in self._procs.items() if not p.is_alive()]
        for pid in dead:
            if self._closed.is_set():
                return
            # Drain start/end messages that the process sent before it died.
            time.sleep(_POLL_S)
            with self._lock:
                proc = self._procs.pop(pid)
                held = self._current.pop(pid, None)
            if held is not None:
                self._record_exit(proc.exitcode, *held)
            self._spawn()

    def _record_exit(self, exitcode: int | None, rid: str, event: dict) -> None:
        """Lambda reports a dead environment as Runtime.ExitError; so do we."""
        how = f"signal {-exitcode}" if exitcode is not None and exitcode < 0 else f"status {exitcode}"
        build, gid = event["build"], f"g{int(event['grove']):05d}"
        state = f"builds/{build}/state/{gid}"
        if not self.store.exists(f"{state}.done"):
            put_json(self.store, f"{state}.failed", {
                "grove": event["grove"], "trees": event["trees"], "seed": event["seed"],
                "attempt": event.get("attempt", 1), "request_id": rid, "state": "failed",
                "error": "Runtime.ExitError", "message": f"worker process exited with {how}",
                "ended": time.time(),
            })
            self.store.delete(f"{state}.running")
        log = self.store.root / "builds" / build / "lambda.log"
        append_lines(log, [
            f"[ERROR] Runtime.ExitError: worker process exited with {how}",
            format_end(rid),
            format_report(rid, 0.0, self.memory_mb, 0, None, "error"),
        ])

    def drain(self) -> int:
        """Drop events not yet picked up by a worker (cancel); return how many."""
        dropped = 0
        while True:
            try:
                self._inbox.get_nowait()
                dropped += 1
            except queue.Empty:
                return dropped

    def close(self) -> None:
        if self._closed.is_set():
            return
        self.drain()
        self._closed.set()
        for _ in self._procs:
            self._inbox.put(None)
        deadline = time.monotonic() + 2.0
        for p in list(self._procs.values()):
            p.join(timeout=max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join(timeout=1)
        self._supervisor.join(timeout=1)
        self._inbox.close()
        self._outbox.close()

    def __enter__(self) -> LocalCompute:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SyncCompute:
    """``-s/--sync``: groves one after another in the driver's own process (a debugging aid)."""

    name = "sync"

    def __init__(self, store: LocalStore, memory_mb: int = 1769) -> None:
        self.store = store
        self.memory_mb = memory_mb
        self._first = True
        self.workers = 1

    def submit(self, tasks: list[GroveTask]) -> None:
        from lamforest.worker import handler

        for task in tasks:
            rid = str(uuid.uuid4())
            log = self.store.root / "builds" / task.build / "lambda.log"
            append_lines(log, [format_start(rid)])
            t0 = time.perf_counter()
            handler(task.to_event(), _Context(rid, self.memory_mb), store=self.store)
            duration = (time.perf_counter() - t0) * 1000.0
            peak = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
            append_lines(log, [format_end(rid), format_report(rid, duration, self.memory_mb, peak)])

    def drain(self) -> int:
        return 0

    def close(self) -> None:
        pass
