"""Run a build: dispatch every grove not yet done, watch, retry failures, then finish; cancel.

Everything the driver knows comes from the store, so any process can watch,
cancel or finish a build that another process started. The decisions (what
to send, when to retry, when the budget or the retries end it) are
``schedule.Scheduler``'s; this module is the I/O loop around them.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from lamforest import data, keys
from lamforest.backend.base import Backend, Compute
from lamforest.driver import stream
from lamforest.driver.finish import (
    EarlyStream,
    GroveMismatch,
    MergePolicy,
    finalize,
    forget_groves,
    write_end,
    write_failed,
)
from lamforest.driver.lease import Lease, acquire
from lamforest.driver.plan import BuildError, Plan, load_plan, read_summary
from lamforest.driver.schedule import Scheduler, over_budget, small_work, window_for
from lamforest.driver.watch import BuildStatus, Watcher
from lamforest.spec import BuildSpec, check_workers
from lamforest.store.base import location, put_json

Progress = Callable[[BuildStatus], None]


def cancel(backend: Backend, name: str, reason: str = "cancelled by user") -> None:
    """Set the cancel marker: workers stop at their next chunk; nothing more is dispatched.

    A build that has already ended (it has a summary: done, failed or cancelled) is left
    as it is: ``BuildError`` says so, and nothing is written.
    """
    load_plan(backend, name)
    summary = read_summary(backend, name)  # one that cannot be read is said, and nothing is written
    ended = None if summary is None else summary.get("state", "done")
    if ended is not None:
        raise BuildError(f"build {name!r} has already ended ({ended}); nothing to cancel, nothing changed")
    key = keys.cancel(name)
    if not backend.store.exists(key):
        put_json(backend.store, key, {"reason": reason, "at": time.time()})


def in_process_threads(
    backend: Backend, spec: BuildSpec, n_train: int, n_features: int, pool: int | None, threads: int | None = None
) -> int | None:
    """How many threads of this process should fit a build's groves (``run(..., sync=True,
    workers=...)``), or None to use the backend's workers.

    Only on a local backend (``backend.pool_workers``), for work smaller than starting its workers
    (``schedule.small_work``), where no pool size was asked for (``pool``: ``--workers``), and only
    from the main thread: the threads' warnings are routed through process-wide filters
    (``fitwarnings.threads``). The groves are the same ``run_fit`` calls a worker makes, so the
    trees are the same. ``threads``: as many as asked, else one per core; never more than cores.
    With fewer groves, each grove's forest fits on the threads left over (``SyncCompute``).
    Not for sharded data, whose groves read shards: its callers never ask.
    """
    if backend.pool_workers is None or pool is not None:
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    if not small_work(n_train, spec.trees, n_features):
        return None
    cores = backend.pool_workers(None)
    return max(1, min(threads or cores, cores))


def workers_needed(backend: Backend, spec: BuildSpec, pool: int | None, sync: bool = False) -> bool:
    """Whether a build will surely fit on the backend's workers, told before its data is loaded, so
    that their start (local: interpreters importing scikit-learn) can overlap the loading.

    Sure when a pool size is asked (``--workers``) or the groves run elsewhere (AWS); on the local
    backend without one, when the data's shape hint (``data.shape_hint``) says the work is not
    small (``in_process_threads`` decides again, with the split's true sizes). Never for ``--sync``.
    """
    if sync:
        return False
    if backend.pool_workers is not None and data.missing_path(spec.data):
        return False  # the load fails at once: no interpreter is started for a build that cannot begin
    if backend.pool_workers is None or pool is not None:
        return True
    if threading.current_thread() is not threading.main_thread():
        return True  # off the main thread no build is fitted on threads
    hint = data.shape_hint(spec.data)
    if hint is None:
        return False
    rows, columns = hint
    return not small_work(int(rows * (1 - spec.test_size)), spec.trees, columns)


def run(
    backend: Backend,
    name: str,
    *,
    workers: int | None = None,
    sync: bool = False,
    on_progress: Progress | None = None,
    poll_s: float = 0.1,
    should_stop: Callable[[], bool] = lambda: False,
    merge: MergePolicy | None = None,
    on_start: Callable[[], None] | None = None,
) -> BuildStatus:
    """Dispatch every grove not yet done, watch, retry failures, then finish.

    Also resumes a build whose driver died: groves already done are kept. ``on_start`` is called
    once this driver holds the build (``DriverBusy`` otherwise, before it is called).
    ``should_stop`` lets a caller (the TUI on quit) stop watching without
    cancelling the build. While it runs, the build's lease is renewed, so that
    a watcher can tell a live driver from a dead one (``interrupted``).
    """
    check_workers(workers)
    plan = load_plan(backend, name)
    watcher = Watcher(backend, name, plan)
    st = watcher.refresh()
    if st.summary:
        return st
    if plan.n_test and plan.sharded is None and not backend.store.exists(keys.test_set(name)):
        # Checked before anything is dispatched: groves fitted for a build that cannot be scored are billed for nothing.
        raise BuildError(
            f"{location(backend.store, keys.test_set(name))} (the held-out rows) is missing: build {name!r} cannot "
            "be scored, so nothing is dispatched; build it again under a new name"
        )
    with acquire(backend.store, name, say=_say) as lease:
        if on_start:
            on_start()  # this driver holds the build: a caller's "dispatching" line is true now
        return _drive(backend, name, plan, watcher, workers, sync, on_progress, poll_s, should_stop, merge, lease)


def _say(line: str) -> None:
    """A bounded wait for another driver's lease is said on stderr: a silent minute looks like a hang."""
    print(line, file=sys.stderr, flush=True)


@dataclass
class _Driving:
    """One driver holding one build: what its loop reads besides the build's status."""

    backend: Backend
    name: str
    plan: Plan
    watcher: Watcher
    compute: Compute
    sync: bool
    on_progress: Progress | None
    poll_s: float
    should_stop: Callable[[], bool]
    merge: MergePolicy | None
    lease: Lease | None
    t_start: float
    early: EarlyStream | None = None  # the finish's pass over the groves, begun as they land


def _drive(
    backend: Backend,
    name: str,
    plan: Plan,
    watcher: Watcher,
    workers: int | None,
    sync: bool,
    on_progress: Progress | None,
    poll_s: float,
    should_stop: Callable[[], bool],
    merge: MergePolicy | None = None,
    lease: Lease | None = None,
) -> BuildStatus:
    watcher.driving = True  # this process drives it: never "interrupted" in its own eyes
    st = watcher.refresh()
    t_start = time.time()
    if backend.pool_workers is not None and st.rows and all(r.state == "done" for r in st.rows):
        # Nothing to fit (a finish after every grove landed): no local worker is started for it (on AWS a
        # compute starts nothing). A grove found bad while streaming is refitted by a new run.
        sync, workers = True, 1
    compute = backend.make_compute(plan.spec, workers, sync)
    # Threads of this process fitting the groves would share it with the early pass: a build that
    # small finishes fast anyway.
    early = None if sync else EarlyStream(backend, plan, merge)
    d = _Driving(
        backend, name, plan, watcher, compute, sync, on_progress, poll_s, should_stop, merge, lease, t_start, early
    )
    try:
        return _loop(d, st)
    except KeyboardInterrupt:
        if sync:  # threads of this process cannot be stopped mid-grove: not waited for
            compute.abandon()
        raise
    finally:
        if early is not None:
            early.close()  # what a finish did not take over (a cancel, a failure, an interrupt)
        if sync:
            compute.close()  # this build's own: threads fitting its groves end with it


def _loop(d: _Driving, st: BuildStatus) -> BuildStatus:
    backend, name, plan, watcher, compute, t_start = d.backend, d.name, d.plan, d.watcher, d.compute, d.t_start
    spec = plan.spec
    # One grove at a time in this thread (--sync): each submit returns when its grove is fitted.
    inline = d.sync and compute.workers == 1
    events = {e.grove: e for e in plan.events(backend.n_jobs(spec))}
    sched = Scheduler.start(
        st.rows,
        retries=spec.retries,
        window=window_for(d.sync, spec.max_cost, compute.workers),
        cancelled=st.state == "cancelled",
    )
    while True:
        damaged = watcher.unreadable_record()
        if damaged:
            compute.drain()
            raise BuildError(damaged)  # before dispatching: a worker skips a grove whose done record exists
        if not watcher.cancel_requested:
            batch = sched.to_send(st.rows)
            if batch:
                compute.submit([replace(events[g], attempt=a) for g, a in batch])
        st = watcher.refresh()
        if d.on_progress:
            d.on_progress(st)
        if d.lease is not None and d.lease.lost:
            compute.drain()
            raise BuildError(f"{d.lease.lost}; this driver stopped, the other one goes on")
        if compute.broken:
            if not compute.resumable:  # only the local pool knows a limit no retry passes
                folder = location(backend.store, keys.build(name))
                error = f"{compute.broken}; delete {folder} and create the build again with that --memory"
                # Failed, not interrupted: `status` must not advise a finish that breaks the same way.
                write_end(backend, st, "failed", sched.failures, t_start, error=error)
                raise BuildError(error)
            raise BuildError(f"{compute.broken}; the build's state is kept, resume with `lamforest finish {name}`")
        if st.state not in ("cancelled", "finishing"):
            reason = over_budget(st.projected_cost_usd, st.cost_usd, st.trees_done, spec.max_cost)
            if reason:
                cancel(backend, name, reason=reason)
                continue
        if st.state == "cancelled":
            sched.clear()
            compute.drain()
            if not any(r.state == "running" for r in st.rows):
                break
        elif st.state == "finishing":
            break
        elif sched.observe(st.rows):
            compute.drain()  # a failure no retry mends: what waits in the queue is not started
            return write_failed(backend, watcher, sched.failures, t_start)
        elif sched.fatal:
            compute.drain()
        if d.should_stop():
            return st
        if d.early is not None and st.state == "running":
            d.early.advance(st, watcher.listing)
        if not (inline and sched.backlog):
            compute.wait(d.poll_s)  # a local grove's end wakes it: no poll's worth of idle cores
    if st.state == "cancelled":
        write_end(backend, st, "cancelled", sched.failures, t_start, reason=st.cancel_reason)
        final = watcher.refresh()
    else:
        final = finalize(backend, watcher, failures=sched.failures, t_start=t_start, merge=d.merge, early=d.early)
    if d.on_progress:
        d.on_progress(final)
    return final


def finish(
    backend: Backend,
    name: str,
    *,
    failures: list[dict[str, Any]] | None = None,
    t_start: float | None = None,
    watcher: Watcher | None = None,
    workers: int | None = None,
    merge: MergePolicy | None = None,
) -> BuildStatus:
    """Score the groves as one forest (streamed), write manifest.json and summary.json, and model.tree when
    ``merge`` allows it. Merge the groves into one sklearn forest, score it, write model.tree and summary.json.

    If groves are missing (the driver died), they are dispatched first. A grove
    whose file is missing or differs from its done record (altered, truncated)
    is fitted again once (groves are deterministic); never merged as it is.
    """
    watcher = watcher or Watcher(backend, name)
    st = watcher.refresh()
    if damaged := watcher.unreadable_record():
        raise BuildError(damaged)  # said before a summary is deleted or a grove dispatched
    if st.summary and st.state == "done":
        has_manifest = backend.store.exists(keys.manifest(name))
        if has_manifest:
            stream.load_manifest(backend, name)  # finished, but a damaged manifest is said with its way out
        grove_set = st.summary.get("model_kind") == "groves" and has_manifest
        wants_merge = merge is not None and merge.mode == "always"
        every = all(r.state == "done" for r in st.rows)  # a grove whose record was deleted, as a refit hint says
        if (st.model is not None and has_manifest and every) or (
            grove_set and not wants_merge and _groves_whole(backend, st)
        ):
            return st  # merged, or a grove set by design with every grove in place
        if merge is None and st.summary.get("model_kind") == "groves":
            merge = MergePolicy("never")  # finishing again keeps what the build was: a grove set
        # A grove set asked to merge, or a build missing a grove (its record and file deleted, as a refit
        # hint says), or a model gone (deleted, or older than tree files): finish again, refitting what is gone.
        backend.store.delete(keys.summary(name))
        st = watcher.refresh()
    if st.state == "cancelled":
        raise BuildError(f"build {name!r} was cancelled ({st.cancel_reason}); nothing to finish")
    if st.state == "failed":
        raise BuildError(
            f"build {name!r} failed ({(st.summary.get('error') if st.summary else None) or 'see `lamforest status`'}); "
            "finish cannot help: fix the cause and start a new build"
        )
    if any(r.state != "done" for r in st.rows):
        return _refit_once(backend, name, workers, lambda: run(backend, name, workers=workers, merge=merge), merge)
    with acquire(backend.store, name, say=_say):
        watcher.driving = True
        return _refit_once(
            backend,
            name,
            workers,
            lambda: finalize(backend, watcher, failures=failures, t_start=t_start, merge=merge),
            merge,
        )


def _groves_whole(backend: Backend, st: BuildStatus) -> bool:
    """Every grove of a finished grove set has its done record and its file (one LIST); their bytes are
    checked against the records and the manifest whenever the groves are read."""
    present = backend.store.list(keys.groves(st.name))
    return all(r.state == "done" and keys.grove(st.name, r.gid) in present for r in st.rows)


def _refit_once(
    backend: Backend,
    name: str,
    workers: int | None,
    attempt: Callable[[], BuildStatus],
    merge: MergePolicy | None = None,
) -> BuildStatus:
    """Run ``attempt``; each grove found missing or altered is forgotten and fitted again, once.

    Streaming stops at the first bad grove, so several bad groves take several rounds; a grove
    that is bad again after its refit is an error, never a loop.
    """
    refitted: set[str] = set()
    while True:
        try:
            return attempt()
        except GroveMismatch as exc:
            again = refitted.intersection(exc.gids)
            if again:
                raise BuildError(f"{exc} (again, after fitting it anew: check the store)") from None
            refitted.update(exc.gids)
            forget_groves(backend, name, exc.gids)
        attempt = lambda: run(backend, name, workers=workers, merge=merge)  # noqa: E731
