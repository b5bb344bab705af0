"""Local worker processes that behave like Lambda execution environments.

A persistent pool: each worker is a fresh ``python -m lamforest.worker.local``
process, i.e. one environment (see ``lamforest.worker.local``). Its first call reports an ``Init Duration``
(interpreter start and imports), later calls are warm. Every call leaves
Lambda-format ``START``/``END``/``REPORT`` lines in the build's log, with the
measured duration, the configured memory size and the process's peak RSS.
Events travel as JSON lines, each with the request id the pool gives it (so
the pool can finish the log and record of a call whose worker it killed); the
train set travels by reference and is memory-mapped by the worker, never
pickled.

Workers are plain subprocesses rather than a ``multiprocessing`` pool: they
never re-import the caller's ``__main__`` (which breaks under stdin scripts
and some notebooks), and a killed worker is an ordinary dead child.

Memory limits are real, as on Lambda: a monitor thread samples every busy
worker's peak RSS (``VmHWM``) every ``SAMPLE_S``; one whose peak passes the
pool's ``memory_mb`` is killed (SIGKILL), its invocation recorded ``failed``
with ``Runtime.OutOfMemory`` (the MB it used, the limit, what to do) and its
REPORT line says ``Status: error`` and ``Error Type: Runtime.OutOfMemory``
with the MB observed; the driver retries it, then fails the build with that
reason. Where ``/proc`` is missing (not Linux) the limit is not enforced. A
worker whose imports alone pass the limit marks the pool broken with the MB
it needs, rather than being respawned.

A worker that dies mid-grove otherwise (killed) is replaced, and its grove is
recorded ``failed`` with ``Runtime.ExitError``, as Lambda reports it; the
driver then retries it. Workers that die before they are ready, three times
running, mark the pool broken instead of respawning forever.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

from lamforest import fitwarnings, keys, records
from lamforest.backend.base import Event
from lamforest.events import FitEvent
from lamforest.logs import append_lines, format_end, format_report
from lamforest.store.local import LocalStore
from lamforest.worker.local import invoke, log_key

MAX_START_FAILURES = 3
SAMPLE_S = 0.02  # how often the monitor reads each busy worker's peak memory
OUT_OF_MEMORY = "Runtime.OutOfMemory"


def default_workers() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def peak_rss_mb(pid: int) -> int | None:
    """Peak resident memory (``VmHWM``) of process ``pid`` in MB; None where it cannot be read
    (no ``/proc``, or the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def out_of_memory_message(used_mb: int, limit_mb: int, event: dict) -> str:
    """What a ``Runtime.OutOfMemory`` record says: the MB used, the limit and what to do,
    which depends on what the event holds in memory."""
    what = "raise --memory"
    if event.get("kind", "fit") == "fit":
        # A grove of a sharded build holds its shards' rows; any other grove holds the whole
        # train set (memory-mapped) and its trees.
        sharded = event.get("shards") is not None
        what += " or give each grove fewer " + ("rows (--rows-per-grove)" if sharded else "trees (--grove)")
    return f"worker used {used_mb} MB, more than its --memory of {limit_mb} MB: {what}"


def start_floor_message(floor_mb: int, limit_mb: int) -> str:
    """Why a pool whose workers' imports alone pass the limit is broken."""
    enough = (floor_mb // 64 + 1) * 64  # the next multiple of 64 MB above the imports
    return (
        f"local workers need {floor_mb} MB to start (their imports); --memory {limit_mb} is below that: "
        f"use at least {enough}"
    )


@dataclass(frozen=True)
class Failure:
    """How an invocation ended without its own terminal record."""

    error: str
    message: str
    request_id: str
    started: float | None = None


# What to write for an invocation that left no terminal record: a description for messages and
# the write, per event kind. Raises KeyError/TypeError/ValueError for an invalid event.
Unrecorded = Callable[[dict, Failure], tuple[str, Callable[[LocalStore], None]]]


def _unrecorded_grove(event: dict, failure: Failure) -> tuple[str, Callable[[LocalStore], None]]:
    build, grove = str(event["build"]), int(event["grove"])
    record = records.failed_record(
        grove=grove,
        trees=int(event["trees"]),
        seed=int(event["seed"]),
        attempt=int(event.get("attempt", 1)),
        request_id=failure.request_id,
        started=failure.started,
        error=failure.error,
        message=failure.message,
    )
    gid = keys.grove_id(grove)

    def write(store: LocalStore) -> None:
        if not records.grove_done(store, build, gid):  # a late done record wins
            records.write_grove(store, build, gid, record)

    return f"grove {grove} of {build}", write


def _unrecorded_shards(event: dict, failure: Failure) -> tuple[str, Callable[[LocalStore], None]]:
    build, job, batch = str(event["build"]), str(event["job"]), int(event["batch"])
    prefix, jid = keys.shard_job(build, job), keys.grove_id(batch)
    record = records.job_record(
        "failed",
        op=str(event.get("op")),
        batch=batch,
        shards=list(event["shards"]),
        request_id=failure.request_id,
        error=failure.error,
        message=failure.message,
    )

    def write(store: LocalStore) -> None:
        if not records.job_done(store, prefix, jid):
            records.write_job(store, prefix, jid, record)

    return f"batch {batch} of {build}'s {job} job", write


# Event kinds whose failed invocations the pool records. A kind that keeps job records adds a
# function writing ``records.job_record("failed", ...)`` under its ``keys.job_record(prefix,
# "failed", jid)``. Kinds not listed (predict, search) time out on their missing records.
UNRECORDED: dict[str, Unrecorded] = {"fit": _unrecorded_grove, "shards": _unrecorded_shards}


def record_unrecorded(
    store: LocalStore,
    event: dict,
    error: str,
    message: str,
    request_id: str | None = None,
    *,
    started: float | None = None,
) -> str | None:
    """An invocation ended without its terminal record (its handler raised, or its worker
    died): write a failed one, as ``UNRECORDED`` says for the event's kind.

    Return None, or why even that could not be written (the pool is then ``broken``: with
    a full or read-only store nothing more can run, and the driver says so at once
    instead of waiting for a record that will never come).
    """
    how = UNRECORDED.get(str(event.get("kind", "fit")))
    if how is None or message.startswith("EventNotPlanned:"):  # not one of its build's groves: nothing to record
        return None
    try:
        what, write = how(event, Failure(error, message, request_id or str(uuid.uuid4()), started))
    except (KeyError, TypeError, ValueError):
        return None  # an invalid event: there is nothing to record it against
    try:
        write(store)
    except OSError as exc:
        return f"cannot record {what} in the store ({exc}); after {error}: {message}"
    return None


@dataclass
class _Call:
    """One invocation in a worker: what the pool needs to finish its log and record if it dies."""

    event: dict
    request_id: str
    started: float  # wall clock, for the record
    t0: float  # perf counter, for the REPORT's duration
    init_ms: float | None  # the environment's INIT, on its first call


class _Ends:
    """Calls ended since the driver last waited: ``wait`` returns at once when there are some."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._told = self._seen = 0

    def tell(self) -> None:
        with self._cond:
            self._told += 1
            self._cond.notify_all()

    def wait(self, timeout: float) -> None:
        with self._cond:
            if self._told == self._seen:
                self._cond.wait(timeout)
            self._seen = self._told


class _Worker:
    def __init__(self, proc: subprocess.Popen[str], started_ns: int) -> None:
        assert proc.stdin is not None and proc.stdout is not None  # started with both piped
        self.proc = proc
        self.stdin: IO[str] = proc.stdin
        self.stdout: IO[str] = proc.stdout
        self.started_ns = started_ns
        self.init_ms: float | None = None  # until its first call
        self.current: _Call | None = None
        self.peak_mb = 0  # the last peak the monitor sampled
        self.oom_mb: int | None = None  # the peak seen when the monitor killed it


IDLE_S = 300.0  # an environment idle this long ends (a fit session's pool does not hold memory for ever)


class LocalCompute:
    """A pool of ``workers`` environment processes fed from one queue, each held to ``memory_mb``."""

    name = "local"

    def __init__(
        self, store: LocalStore, workers: int | None = None, memory_mb: int = 1769, eager: int | None = None
    ) -> None:
        self.store = store
        self.workers = workers or default_workers()
        # Slots that start their process at once (a cold start overlapping the driver's own work);
        # the others start one only when there is an event for it: never more processes than work.
        self.eager = self.workers if eager is None else max(0, min(eager, self.workers))
        self.memory_mb = memory_mb
        self.broken: str | None = None
        self.resumable = True  # whether a build stopped by ``broken`` can be finished later
        self._queue: queue.Queue[dict | None] = queue.Queue()
        self._closed = threading.Event()
        self._busy = threading.Event()  # wakes the monitor when a call starts
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)  # lazy slots wait here for work no process will take
        # Processes alive or starting that are not running an event: the queue's events beyond
        # these are work for a lazy slot. The eager slots count from the start.
        self._free = self.eager
        self._start_failures = 0
        # Until the first submit the driver is busy on one core (importing, loading and storing the
        # rows): cold starts then take turns on the cores it leaves, so the imports do not slow it.
        # Once work is queued nothing waits for the driver: every slot may start at once.
        self._start_limit = max(1, default_workers() - 1)
        self._starting = 0
        self._submitted = False
        self._threads = [
            threading.Thread(target=self._feed, args=(i,), name=f"lamforest-worker-{i}", daemon=True)
            for i in range(self.workers)
        ]
        self._live: dict[int, _Worker] = {}
        self._ends = _Ends()
        for t in self._threads:
            t.start()
        # Without /proc nothing can be sampled: the limit is then not enforced.
        self.enforces_memory = Path("/proc/self/status").exists()
        self._monitor_thread = threading.Thread(target=self._monitor, name="lamforest-memory", daemon=True)
        if self.enforces_memory:
            self._monitor_thread.start()

    # -- one feeder thread per worker slot: start a process, hand it events one by one
    def _spawn(self) -> _Worker:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("LAMFOREST_BUCKET", None)  # local workers use the local store they are given
        started_ns = time.time_ns()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lamforest.worker.local",
                str(self.store.root),
                str(self.memory_mb),
                str(started_ns),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,
            text=True,
            bufsize=1,
            env=env,
        )
        w = _Worker(proc, started_ns)
        with self._lock:
            self._live[proc.pid] = w
        return w

    def _read(self, stream: IO[str]) -> dict | None:
        line = stream.readline()
        return json.loads(line) if line else None

    def _start(self) -> _Worker | None:
        """A new environment, ready for events; None when it could not start (or cannot fit), or the
        pool closed while it waited its turn to start."""
        with self._wake:
            while self._starting >= self._start_limit and not self._submitted and not self._closed.is_set():
                self._wake.wait(0.5)
            if self._closed.is_set():
                return None
            self._starting += 1
        try:
            return self._start_now()
        finally:
            with self._wake:
                self._starting -= 1
                self._wake.notify_all()

    def _start_now(self) -> _Worker | None:
        worker = self._spawn()
        if self._read(worker.stdout) is None:  # died while starting
            return self._retire(worker, started=False)
        worker.init_ms = (time.time_ns() - worker.started_ns) / 1e6
        floor = peak_rss_mb(worker.proc.pid)
        if floor is not None and floor > self.memory_mb:
            # Its imports alone pass the limit: every new worker would too, so say so once
            # instead of killing and respawning them.
            with self._lock:
                self.broken = self.broken or start_floor_message(floor, self.memory_mb)
                self.resumable = False  # the build's --memory cannot change: finishing it would break again
            self._stop(worker)
            return None
        with self._lock:
            self._start_failures = 0
        return worker

    def _claim_start(self) -> bool:
        """Wait until the queue holds an event no live or starting process will take, and claim
        the start of one for it; False once the pool closes."""
        with self._wake:
            while not self._closed.is_set() and not self.broken:
                if self._queue.qsize() > self._free:
                    self._free += 1
                    return True
                self._wake.wait(0.5)
        return False

    def _count_free(self, delta: int) -> None:
        with self._wake:
            self._free += delta
            self._wake.notify_all()

    def _feed(self, slot: int = 0) -> None:
        worker: _Worker | None = None
        lazy = slot >= self.eager  # an eager slot's first start is counted in ``_free`` already
        while not self._closed.is_set() and not self.broken:
            if worker is None:
                if lazy and not self._claim_start():
                    break
                lazy = True  # every later start is for work only
                worker = self._start()
                if worker is None:
                    self._count_free(-1)
                continue
            try:
                event = self._queue.get(timeout=IDLE_S)
            except queue.Empty:
                # Idle: this environment ends, as Lambda's do; the slot starts one again for work.
                self._stop(worker)
                self._count_free(-1)
                worker = None
                continue
            if event is None:
                break
            self._count_free(-1)  # busy: a lazy slot may start for the events behind this one
            call = _Call(event, str(uuid.uuid4()), time.time(), time.perf_counter(), worker.init_ms)
            with self._lock:
                worker.current, worker.init_ms = call, None
            self._busy.set()
            try:
                invocation = {"request_id": call.request_id, "event": event}
                worker.stdin.write(json.dumps(invocation) + "\n")
                worker.stdin.flush()
                reply = self._read(worker.stdout)
            except (BrokenPipeError, OSError, ValueError):
                reply = None
            if reply is None:  # the environment died mid-invocation
                worker = self._retire(worker, started=True)
                self._ends.tell()
                continue
            with self._lock:
                worker.current = None
                killed = worker.oom_mb is not None  # over the limit just as it answered
            if reply.get("error"):  # the handler raised: its grove may have no record
                problem = record_unrecorded(self.store, event, "Runtime.HandlerError", reply["error"], call.request_id)
                self.broken = self.broken or problem
            if killed:
                worker = self._retire(worker, started=True)
            elif (peak_rss_mb(worker.proc.pid) or 0) > self.memory_mb:
                # It passed the limit between two samples and finished: the next call must not
                # be blamed for it, so this environment ends here.
                self._stop(worker)
                worker = None
            else:
                self._count_free(1)
            self._ends.tell()  # its records and REPORT line are written: the driver may look now
        if worker is not None:
            self._stop(worker)

    def _retire(self, worker: _Worker, started: bool) -> _Worker | None:
        """Reap a dead worker; return what the feeder's slot holds next: no worker."""
        code = worker.proc.wait()
        with self._lock:
            self._live.pop(worker.proc.pid, None)
            call, worker.current = worker.current, None
            if not started:
                self._start_failures += 1
                if self._start_failures >= MAX_START_FAILURES and not self.broken:
                    self.broken = (
                        f"local workers exit while starting (status {code}, {self._start_failures} times); "
                        f"try `{sys.executable} -m lamforest.worker.local` to see why"
                    )
        # A call killed for memory was recorded by the monitor, before the kill.
        if call is not None and worker.oom_mb is None and not self._closed.is_set():
            self._record_exit(code, call, worker.peak_mb)
        return None

    def _record_exit(self, exitcode: int | None, call: _Call, peak_mb: int) -> None:
        """Lambda reports a dead environment as Runtime.ExitError; so do we."""
        how = f"signal {-exitcode}" if exitcode is not None and exitcode < 0 else f"status {exitcode}"
        message = f"worker process exited with {how}"
        # The REPORT before the record: a driver that sees the record may end the build at once.
        self._log_end(call, "Runtime.ExitError", message, peak_mb)
        problem = record_unrecorded(
            self.store, call.event, "Runtime.ExitError", message, call.request_id, started=call.started
        )
        if problem and not self.broken:
            self.broken = problem

    # -- the memory limit: one monitor thread for the pool
    def _monitor(self) -> None:
        while not self._closed.is_set():
            self._busy.clear()
            with self._lock:
                busy = [w for w in self._live.values() if w.current is not None and w.oom_mb is None]
            if not busy:
                self._busy.wait(1.0)  # idle: woken by the next call (or close)
                continue
            for w in busy:
                peak = peak_rss_mb(w.proc.pid)
                if peak is None:
                    continue  # it has just ended
                w.peak_mb = peak
                if peak > self.memory_mb:
                    self._kill_out_of_memory(w, peak)
            self._closed.wait(SAMPLE_S)

    def _kill_out_of_memory(self, worker: _Worker, peak_mb: int) -> None:
        """Kill a worker over the limit, as Lambda's platform does, and record its call.

        Its REPORT and failed record are written before the kill: a watcher that saw the
        dead worker's ``running`` record first would count the attempt lost
        (``Runtime.Lost``), and a driver that sees the record may end the build at once.
        """
        with self._lock:
            call = worker.current
            if call is None or worker.oom_mb is not None:
                return  # it has just answered: the feeder checks its peak itself
            worker.oom_mb = peak_mb  # the feeder reaps it without recording it again
        message = out_of_memory_message(peak_mb, self.memory_mb, call.event)
        self._log_end(call, OUT_OF_MEMORY, message, peak_mb)
        problem = record_unrecorded(
            self.store, call.event, OUT_OF_MEMORY, message, call.request_id, started=call.started
        )
        if problem and not self.broken:
            self.broken = problem
        with contextlib.suppress(OSError):  # already gone
            worker.proc.kill()  # SIGKILL; a no-op once the feeder has reaped it

    def _log_end(self, call: _Call, error: str, message: str, peak_mb: int) -> None:
        """The lines a dead worker could not write: its error, END and an error REPORT (its START
        is already there, under the request id the pool gave the call)."""
        duration = (time.perf_counter() - call.t0) * 1000.0
        rid = call.request_id
        # The log is best effort; the record (or ``broken``) says what happened.
        with contextlib.suppress(OSError):
            append_lines(
                self.store.root / log_key(call.event),
                [
                    f"[ERROR] {error}: {message}",
                    format_end(rid),
                    format_report(rid, duration, self.memory_mb, peak_mb, call.init_ms, "error", error),
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

    @property
    def processes(self) -> int:
        """Worker processes alive now: never more than there was work for, none once idle."""
        with self._lock:
            return len(self._live)

    # -- the Compute protocol
    def submit(self, events: list[Event]) -> None:
        if self.broken:
            raise RuntimeError(self.broken)
        for event in events:
            self._queue.put(event.to_event())
        with self._wake:
            self._submitted = True  # cold starts stop taking turns (see __init__)
            self._wake.notify_all()

    def wait(self, timeout: float) -> None:
        self._ends.wait(timeout)

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
        self._busy.set()  # the monitor's wait
        with self._wake:
            self._wake.notify_all()  # lazy slots waiting for work
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join(timeout=3)
        if self._monitor_thread.is_alive():
            self._monitor_thread.join(timeout=3)
        with self._lock:
            leftovers = list(self._live.values())
        for w in leftovers:  # a worker busy with a long grove: stop it, as Lambda would on timeout
            w.proc.kill()
            w.proc.wait(timeout=2)

    def abandon(self) -> None:
        """As ``close``: a worker still busy after a short wait is killed, never waited for."""
        self.close()

    def __enter__(self) -> LocalCompute:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SyncCompute:
    """Groves fitted in the driver's own process: the same ``run_fit`` calls a worker makes, so the
    same trees.

    With one thread (``-s/--sync``, a debugging aid) ``submit`` fits each grove before it
    returns. With more (a local build smaller than the workers' start-up: no ``--workers``,
    rows x trees x features up to ``IN_PROCESS_WORK``), ``submit`` queues the groves for that
    many threads, as scikit-learn's own ``n_jobs`` fits trees on threads (its tree builder
    releases the GIL), and returns; ``drain`` drops the groves not started, ``close`` waits
    for the rest. Its ``memory_mb`` is only reported: a process cannot be held to a limit and
    survive passing it, so these builds are not killed for memory (the local pool's are).

    ``threads`` is how many the build may use; with fewer ``groves`` than that, one thread per
    grove, each grove's forest fitting its trees on the threads left over (its ``n_jobs``, as
    scikit-learn's: the trees do not depend on it). One grove of 10 trees on 2 cores used one.
    """

    name = "sync"

    def __init__(self, store: LocalStore, memory_mb: int = 1769, threads: int = 1, groves: int | None = None) -> None:
        self.broken: str | None = None  # threads of this process do not break: a grove's error is its record
        self.resumable = True
        self.store = store
        self.memory_mb = memory_mb
        threads = max(1, threads)
        self.workers = max(1, min(threads, groves or threads))
        self.grove_jobs = threads // self.workers
        self._queue: queue.Queue[Event | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._abandoned = False
        self._scope = contextlib.ExitStack()
        self._ends = _Ends()

    def submit(self, events: list[Event]) -> None:
        if self.workers == 1:
            for event in events:
                self._fit(event)
            return
        if not self._threads:
            # Set once for the threads' lifetime: catch_warnings per grove is not thread-safe.
            self._scope.enter_context(fitwarnings.threads())
            records.IN_PROCESS.on = True
            self._scope.callback(setattr, records.IN_PROCESS, "on", False)
            # Daemons: a driver interrupted (Ctrl+C) leaves without waiting for a grove no thread can
            # stop; its running records then name a process that has ended, so the grove is refitted.
            self._threads = [
                threading.Thread(target=self._serve, name=f"lamforest-grove-{i}", daemon=True)
                for i in range(self.workers)
            ]
            for t in self._threads:
                t.start()
        for event in events:
            self._queue.put(event)

    def _serve(self) -> None:
        while (event := self._queue.get()) is not None:
            self._fit(event)

    def _fit(self, event: Event) -> None:
        if isinstance(event, FitEvent) and self.grove_jobs > 1:
            event = replace(event, n_jobs=self.grove_jobs)
        body = event.to_event()
        threaded = bool(self._threads)
        if not threaded:
            records.IN_PROCESS.on = True  # its records say so: another process must not take them for lost
        try:
            error = invoke(body, self.store, self.memory_mb, None)
        except KeyboardInterrupt:
            self._interrupted(event)
            raise
        finally:
            if not threaded:
                records.IN_PROCESS.on = False
        if error and not self.broken:
            self.broken = record_unrecorded(self.store, body, "Runtime.HandlerError", error)
        self._ends.tell()

    def _interrupted(self, event: Event) -> None:
        """A grove interrupted in this very process: its running record names a process that lives on
        (this one) and would be waited for; it ends cancelled, as a cancel between chunks ends it."""
        build, grove = getattr(event, "build", None), getattr(event, "grove", None)
        if build is None or grove is None or not self.store.exists(keys.state(build, event.gid, "running")):
            return
        record = records.grove_record(
            "cancelled",
            grove=grove,
            trees=getattr(event, "trees", 0),
            seed=getattr(event, "seed", 0),
            attempt=getattr(event, "attempt", 1),
            request_id=None,
            message="interrupted (KeyboardInterrupt)",
        )
        with contextlib.suppress(OSError):
            records.write_grove(self.store, build, event.gid, record)

    def drain(self) -> int:
        dropped = ends = 0
        with contextlib.suppress(queue.Empty):
            while True:
                if self._queue.get_nowait() is None:
                    ends += 1
                else:
                    dropped += 1
        for _ in range(ends):  # a closed compute's word to its threads stays
            self._queue.put(None)
        return dropped

    def wait(self, timeout: float) -> None:
        self._ends.wait(timeout)

    def abandon(self) -> None:
        """The driver is interrupted: drop the groves not started and close without waiting for
        the running ones (they end with their grove, or with the process)."""
        self._abandoned = True
        self.close()

    def close(self) -> None:
        """Drop the groves not started, wait for those running (they stop at their next chunk once
        cancelled) unless abandoned, then put the process's warning filters back."""
        threads, self._threads = self._threads, []
        try:
            self.drain()
            for _ in threads:
                self._queue.put(None)
            if not self._abandoned:
                for t in threads:
                    t.join()
        finally:
            self._scope.close()
