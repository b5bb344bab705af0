"""Local worker processes that behave like Lambda execution environments.

A persistent pool: each worker is a fresh ``python -m lamforest.worker.local``
process, i.e. one environment (see ``lamforest.worker.local``). Its first call reports an ``Init Duration``
(interpreter start and imports), later calls are warm. Every call leaves
Lambda-format ``START``/``END``/``REPORT`` lines in the build's log, with the
measured duration, the configured memory size and the process's peak RSS.
Events travel as JSON lines; the train set travels by reference and is
memory-mapped by the worker, never pickled.

Workers are plain subprocesses rather than a ``multiprocessing`` pool: they
never re-import the caller's ``__main__`` (which breaks under stdin scripts
and some notebooks), and a killed worker is an ordinary dead child.

A worker that dies mid-grove (killed, out of memory) is replaced, and its
grove is recorded ``failed`` with ``Runtime.ExitError``, as Lambda reports
it; the driver then retries it. Workers that die before they are ready,
three times running, mark the pool broken instead of respawning forever.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from typing import IO

from lamforest import keys, records
from lamforest.backend.base import Event
from lamforest.logs import append_lines, format_end, format_report, format_start
from lamforest.store.local import LocalStore
from lamforest.worker.local import invoke, log_key

MAX_START_FAILURES = 3


def default_workers() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


class _Worker:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdin is not None and proc.stdout is not None  # started with both piped
        self.proc = proc
        self.stdin: IO[str] = proc.stdin
        self.stdout: IO[str] = proc.stdout
        self.ready = False
        self.current: dict | None = None


class LocalCompute:
    """A pool of ``workers`` environment processes fed from one queue."""

    name = "local"

    def __init__(self, store: LocalStore, workers: int | None = None, memory_mb: int = 1769) -> None:
        self.store = store
        self.workers = workers or default_workers()
        self.memory_mb = memory_mb
        self.broken: str | None = None
        self._queue: queue.Queue[dict | None] = queue.Queue()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._start_failures = 0
        self._threads = [
            threading.Thread(target=self._feed, name=f"lamforest-worker-{i}", daemon=True) for i in range(self.workers)
        ]
        self._live: dict[int, _Worker] = {}
        for t in self._threads:
            t.start()

    # -- one feeder thread per worker slot: start a process, hand it events one by one
    def _spawn(self) -> _Worker:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("LAMFOREST_BUCKET", None)  # local workers use the local store they are given
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lamforest.worker.local",
                str(self.store.root),
                str(self.memory_mb),
                str(time.time_ns()),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,
            text=True,
            bufsize=1,
            env=env,
        )
        w = _Worker(proc)
        with self._lock:
            self._live[proc.pid] = w
        return w

    def _read(self, stream: IO[str]) -> dict | None:
        line = stream.readline()
        return json.loads(line) if line else None

    def _feed(self) -> None:
        worker: _Worker | None = None
        while not self._closed.is_set() and not self.broken:
            if worker is None:
                worker = self._spawn()
                if self._read(worker.stdout) is None:  # died while starting
                    worker = self._retire(worker, started=False)
                    continue
                worker.ready = True
                with self._lock:
                    self._start_failures = 0
            event = self._queue.get()
            if event is None:
                break
            worker.current = event
            try:
                worker.stdin.write(json.dumps(event) + "\n")
                worker.stdin.flush()
                reply = self._read(worker.stdout)
            except (BrokenPipeError, OSError, ValueError):
                reply = None
            if reply is None:  # the environment died mid-invocation
                worker = self._retire(worker, started=True)
                continue
            worker.current = None
        if worker is not None:
            self._stop(worker)

    def _retire(self, worker: _Worker, started: bool) -> _Worker | None:
        """Reap a dead worker; return what the feeder's slot holds next: no worker."""
        code = worker.proc.wait()
        with self._lock:
            self._live.pop(worker.proc.pid, None)
            if not started:
                self._start_failures += 1
                if self._start_failures >= MAX_START_FAILURES and not self.broken:
                    self.broken = (
                        f"local workers exit while starting (status {code}, {self._start_failures} times); "
                        f"try `{sys.executable} -m lamforest.worker.local` to see why"
                    )
        if worker.current is not None and not self._closed.is_set():
            self._record_exit(code, worker.current)
        return None

    def _record_exit(self, exitcode: int | None, event: dict) -> None:
        """Lambda reports a dead environment as Runtime.ExitError; so do we."""
        how = f"signal {-exitcode}" if exitcode is not None and exitcode < 0 else f"status {exitcode}"
        rid = str(uuid.uuid4())
        if event.get("kind", "fit") == "fit":  # a predict or search job times out on its missing record
            build, gid = event["build"], keys.grove_id(int(event["grove"]))
            if not records.grove_done(self.store, build, gid):
                record = records.failed_record(
                    grove=event["grove"],
                    trees=event["trees"],
                    seed=event["seed"],
                    attempt=event.get("attempt", 1),
                    request_id=rid,
                    error="Runtime.ExitError",
                    message=f"worker process exited with {how}",
                )
                records.write_grove(self.store, build, gid, record)
        append_lines(
            self.store.root / log_key(event),
            [
                format_start(rid),
                f"[ERROR] Runtime.ExitError: worker process exited with {how}",
                format_end(rid),
                format_report(rid, 0.0, self.memory_mb, 0, None, "error"),
            ],
        )

    def _stop(self, worker: _Worker) -> None:
        try:
            worker.stdin.close()
            worker.proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            worker.proc.kill()
            worker.proc.wait(timeout=2)
        with self._lock:
            self._live.pop(worker.proc.pid, None)

    # -- the Compute protocol
    def submit(self, events: list[Event]) -> None:
        if self.broken:
            raise RuntimeError(self.broken)
        for event in events:
            self._queue.put(event.to_event())

    def drain(self) -> int:
        """Drop events not yet picked up by a worker (cancel); return how many."""
        dropped = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return dropped
            if item is None:  # keep close()'s stop signals
                self._queue.put(None)
                return dropped
            dropped += 1

    def close(self) -> None:
        if self._closed.is_set():
            return
        self.drain()
        self._closed.set()
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join(timeout=3)
        with self._lock:
            leftovers = list(self._live.values())
        for w in leftovers:  # a worker busy with a long grove: stop it, as Lambda would on timeout
            w.proc.kill()
            w.proc.wait(timeout=2)

    def __enter__(self) -> LocalCompute:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SyncCompute:
    """``-s/--sync``: groves one after another in the driver's own process (a debugging aid)."""

    name = "sync"
    broken: str | None = None

    def __init__(self, store: LocalStore, memory_mb: int = 1769) -> None:
        self.store = store
        self.memory_mb = memory_mb
        self.workers = 1

    def submit(self, events: list[Event]) -> None:
        for event in events:
            invoke(event.to_event(), self.store, self.memory_mb, None)

    def drain(self) -> int:
        return 0

    def close(self) -> None:
        pass
