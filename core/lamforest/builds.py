"""The driver: create, dispatch, watch, retry, cancel, finish, predict.

Everything it knows comes from the store, so any process can watch, cancel
or finish a build that another process started. This module is the public
driver API; its parts live in ``plan`` (create), ``watch`` (status) and
``results`` (predict, export), and are re-exported here.
"""

from __future__ import annotations

import io
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

import joblib
import numpy as np

from lamforest import data as datamod
from lamforest import forest
from lamforest.config import Backend
from lamforest.grove import Grove, bootstraps
from lamforest.plan import BuildError, Plan, build_prefix, create, load_plan, validate
from lamforest.results import MODEL_COMPRESS, Prediction, evaluate, export, load_model, predict
from lamforest.spec import GroveTask, grove_id
from lamforest.store.base import put_json
from lamforest.watch import BUILD_STATES, GROVE_STATES, BuildStatus, GroveRow, Watcher, list_builds, status

__all__ = [
    "BUILD_STATES",
    "GROVE_STATES",
    "BuildError",
    "BuildStatus",
    "GroveRow",
    "Plan",
    "Prediction",
    "Watcher",
    "cancel",
    "create",
    "evaluate",
    "export",
    "finish",
    "list_builds",
    "load_grove",
    "load_model",
    "load_plan",
    "predict",
    "run",
    "status",
    "validate",
]


def cancel(backend: Backend, name: str, reason: str = "cancelled by user") -> None:
    """Set the cancel marker: workers stop at their next chunk; nothing more is dispatched."""
    load_plan(backend, name)
    key = f"{build_prefix(name)}/CANCEL"
    if not backend.store.exists(key):
        put_json(backend.store, key, {"reason": reason, "at": time.time()})


Progress = Callable[[BuildStatus], None]


def run(
    backend: Backend,
    name: str,
    *,
    workers: int | None = None,
    sync: bool = False,
    on_progress: Progress | None = None,
    poll_s: float = 0.1,
    should_stop: Callable[[], bool] = lambda: False,
) -> BuildStatus:
    """Dispatch every grove not yet done, watch, retry failures, then finish.

    Also resumes a build whose driver died: groves already done are kept.
    ``should_stop`` lets a caller (the TUI on quit) stop watching without
    cancelling the build.
    """
    plan = load_plan(backend, name)
    spec = plan.spec
    watcher = Watcher(backend, name, plan)
    st = watcher.refresh()
    if st.summary:
        return st
    t_start = time.time()
    compute = backend.make_compute(spec, workers, sync)
    tasks = {t.grove: t for t in plan.tasks(backend.n_jobs(spec))}
    dispatched: dict[int, int] = {}  # grove -> attempt sent
    failures: list[dict[str, Any]] = []

    def send(rows: list[GroveRow]) -> None:
        batch = []
        for row in rows:
            attempt = max(row.attempt, dispatched.get(row.grove, 0)) + 1
            dispatched[row.grove] = attempt
            t = tasks[row.grove]
            batch.append(GroveTask(**{**asdict(t), "attempt": attempt}))
        if batch:
            compute.submit(batch)

    pending = [r for r in st.rows if r.state in ("queued", "failed", "cancelled")]
    if st.state == "cancelled":
        pending = []
    # Groves wait in a backlog when dispatch is paced: one at a time in sync mode, and one
    # wave of workers at a time under a budget, so that the projected cost can stop it.
    if sync:
        window: int | None = 1
    elif spec.max_cost is not None:
        window = max(1, int(getattr(compute, "workers", 0) or 10))
    else:
        window = None
    backlog: deque[GroveRow] = deque(pending)
    seen_failures: set[tuple[int, int]] = set()
    by_grove = {r.grove: r for r in st.rows}

    def in_flight() -> int:
        return sum(
            1
            for g, a in dispatched.items()
            if not (by_grove[g].state in ("done", "failed", "cancelled") and by_grove[g].attempt >= a)
        )

    def over_budget(current: BuildStatus) -> bool:
        projected = current.projected_cost_usd
        if spec.max_cost is None or projected is None or projected <= spec.max_cost:
            return False
        cancel(
            backend,
            name,
            reason=(
                f"budget: projected cost ${projected:.6f} would pass --max-cost ${spec.max_cost:.6f} "
                f"(${current.cost_usd:.6f} spent on {current.trees_done} trees)"
            ),
        )
        return True

    while True:
        if backlog and not watcher.cancel_requested:
            room = len(backlog) if window is None else max(0, window - in_flight())
            send([backlog.popleft() for _ in range(min(room, len(backlog)))])
        st = watcher.refresh()
        by_grove = {r.grove: r for r in st.rows}
        if on_progress:
            on_progress(st)
        broken = getattr(compute, "broken", None)
        if broken:
            raise BuildError(f"{broken}; the build's state is kept, resume with `lamforest finish {name}`")
        if st.state not in ("cancelled", "finishing") and over_budget(st):
            continue
        if st.state == "cancelled":
            backlog.clear()
            compute.drain()
            if not any(r.state == "running" for r in st.rows):
                break
        elif st.state == "finishing":
            break
        else:
            for row in st.rows:
                if row.state != "failed" or (row.grove, row.attempt) in seen_failures:
                    continue
                if row.attempt < dispatched.get(row.grove, 0):
                    continue  # an older attempt's record; the retry is on its way
                seen_failures.add((row.grove, row.attempt))
                failures.append({"grove": row.grove, "attempt": row.attempt, "error": row.error})
                if row.attempt <= spec.retries:
                    backlog.append(row)
            # Every grove out of retries, not just those first seen now: the last one may have failed
            # while others were still running.
            exhausted = [
                r
                for r in st.rows
                if r.state == "failed" and r.attempt > spec.retries and r.attempt >= dispatched.get(r.grove, 0)
            ]
            if exhausted and not backlog and not any(r.state in ("running", "queued") for r in st.rows):
                return _write_failed(backend, watcher, failures, t_start)
        if should_stop():
            return st
        if not (sync and backlog):
            time.sleep(poll_s)
    if st.state == "cancelled":
        _write_end(backend, st, "cancelled", failures, t_start, reason=st.cancel_reason)
        final = watcher.refresh()
        if on_progress:
            on_progress(final)
        return final
    final = finish(backend, name, failures=failures, t_start=t_start, watcher=watcher)
    if on_progress:
        on_progress(final)
    return final


def _write_failed(backend: Backend, watcher: Watcher, failures: list[dict[str, Any]], t_start: float) -> BuildStatus:
    st = watcher.refresh()
    bad = [r for r in st.rows if r.state == "failed"]
    error = f"{len(bad)} grove(s) failed after {st.spec.retries} retries: " + "; ".join(
        f"grove {r.grove}: {r.error}" for r in bad[:5]
    )
    _write_end(backend, st, "failed", failures, t_start, error=error)
    return watcher.refresh()


def _write_end(
    backend: Backend, st: BuildStatus, state: str, failures: list[dict[str, Any]], t_start: float, **extra: Any
) -> None:
    """The summary of a build that ended without a model (cancelled or failed)."""
    summary = {
        "state": state,
        **extra,
        "failures": failures,
        "wall_s": time.time() - t_start,
        "trees_done": st.trees_done,
        "billed_ms": st.billed_ms,
        "cost_usd": st.cost_usd,
        "finished": time.time(),
    }
    put_json(backend.store, f"{build_prefix(st.name)}/summary.json", summary)


# --------------------------------------------------------------------------- finish


def load_grove(backend: Backend, name: str, grove: int) -> Grove:
    blob = backend.store.get_bytes(f"{build_prefix(name)}/groves/{grove_id(grove)}.joblib")
    d = joblib.load(io.BytesIO(blob))
    return Grove(d["estimator"], d["trees"], d["seed"], d.get("oob_sum"), d.get("oob_count"))


def finish(
    backend: Backend,
    name: str,
    *,
    failures: list[dict[str, Any]] | None = None,
    t_start: float | None = None,
    watcher: Watcher | None = None,
    workers: int | None = None,
) -> BuildStatus:
    """Merge the groves into one sklearn forest, score it, write model.joblib and summary.json.

    If groves are missing (the driver died), they are dispatched first.
    """
    watcher = watcher or Watcher(backend, name)
    st = watcher.refresh()
    if st.summary and st.state == "done":
        return st
    if st.state == "cancelled":
        raise BuildError(f"build {name!r} was cancelled ({st.cancel_reason}); nothing to finish")
    if any(r.state != "done" for r in st.rows):
        return run(backend, name, workers=workers)
    plan = watcher.plan
    t0 = time.perf_counter()
    # REPORT lines can trail the done records (CloudWatch ingests with a delay; a local
    # worker logs after its handler returns): wait for them, bounded, so the cost is whole.
    deadline = time.monotonic() + float(backend.details.get("report_wait_s", 3.0))
    while any(r.report is None for r in st.rows) and time.monotonic() < deadline:
        time.sleep(0.2)
        st = watcher.refresh()
    # Fetch groves concurrently (S3 GETs and lz4 decompression overlap); map keeps grove order.
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(st.rows)))) as pool:
        groves = list(pool.map(lambda r: load_grove(backend, name, r.grove), st.rows))
    merged = forest.merge(groves)
    t_merge = time.perf_counter() - t0
    X_te, y_te = datamod.get_test(backend.store, name)
    merged.n_jobs = -1  # score on every core; the saved model keeps scikit-learn's default
    test_score = forest.score(merged, X_te, y_te)
    merged.n_jobs = None
    oob = None
    if bootstraps(plan.spec.params, plan.spec.model):
        _, y_tr = datamod.open_train(backend.store, plan.data_ref)
        classes = np.asarray(merged.classes_) if forest.is_classifier(merged) else None
        oob = forest.oob_score(groves, np.asarray(y_tr), classes)
    buf = io.BytesIO()
    joblib.dump(merged, buf, compress=MODEL_COMPRESS)
    backend.store.put_bytes(f"{build_prefix(name)}/model.joblib", buf.getvalue())
    starts = [r.started for r in st.rows if r.started]
    ends = [r.ended for r in st.rows if r.ended]
    summary = {
        "state": "done",
        "test_score": test_score,
        "metric": forest.metric_name(merged),
        "oob_score": oob,
        "trees": merged.n_estimators,
        "groves": len(groves),
        "merge_s": t_merge,
        "wall_s": time.time() - (t_start or (min(starts) if starts else time.time())),
        "fit_span_s": (max(ends) - min(starts)) if starts and ends else None,
        "billed_ms": st.billed_ms,
        "gb_seconds": st.gb_seconds,
        "cost_usd": st.cost_usd,
        "cost_is_estimate": st.cost_estimate,
        "model_bytes": buf.tell(),
        "failures": failures or [],
        "finished": time.time(),
    }
    put_json(backend.store, f"{build_prefix(name)}/summary.json", summary)
    return watcher.refresh()
