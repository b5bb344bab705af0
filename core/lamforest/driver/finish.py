"""End a build: merge its groves into one forest, score it, write the model and the summary;
or write the summary of a build that ended without a model (cancelled, failed)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from lamforest import artifacts, forest, keys
from lamforest import data as datamod
from lamforest.backend.base import Backend
from lamforest.driver import estimate
from lamforest.driver.oob import write_oob
from lamforest.driver.plan import BuildError
from lamforest.driver.watch import BuildStatus, Watcher
from lamforest.grove import Grove, bootstraps
from lamforest.store.base import put_json


class GroveMismatch(BuildError):
    """Grove files differ from what their done records say; ``gids`` can be fitted again."""

    def __init__(self, message: str, gids: list[str]) -> None:
        super().__init__(message)
        self.gids = gids


def load_grove(backend: Backend, name: str, grove: int, record: dict[str, Any] | None = None) -> Grove:
    """A done grove, checked against its done ``record`` (sha256, bytes) before it is read.

    Raises ``GroveMismatch`` when the file is missing or is not the file the
    worker wrote, and ``BuildError`` when it is not a valid grove file.
    """
    gid = keys.grove_id(grove)
    try:
        blob = backend.store.get_bytes(keys.grove(name, gid))
    except KeyError:
        raise GroveMismatch(artifacts.grove_error(name, gid, "its file is missing"), [gid]) from None
    why = artifacts.mismatch(blob, record)
    if why:
        raise GroveMismatch(artifacts.grove_error(name, gid, why), [gid])
    try:
        return artifacts.loads_grove(blob)
    except artifacts.TreeFileError as exc:
        raise BuildError(artifacts.grove_error(name, gid, str(exc))) from None


def forget_groves(backend: Backend, name: str, gids: list[str]) -> None:
    """Remove groves' done records and files so that the next dispatch fits them again."""
    for gid in gids:
        backend.store.delete(keys.state(name, gid, "done"))
        backend.store.delete(keys.grove(name, gid))


def write_end(
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
    put_json(backend.store, keys.summary(st.name), summary)


def write_failed(backend: Backend, watcher: Watcher, failures: list[dict[str, Any]], t_start: float) -> BuildStatus:
    st = watcher.refresh()
    bad = [r for r in st.rows if r.state == "failed"]
    error = f"{len(bad)} grove(s) failed after {st.spec.retries} retries: " + "; ".join(
        f"grove {r.grove}: {r.error}" for r in bad[:5]
    )
    write_end(backend, st, "failed", failures, t_start, error=error)
    return watcher.refresh()


def finalize(
    backend: Backend, watcher: Watcher, *, failures: list[dict[str, Any]] | None, t_start: float | None
) -> BuildStatus:
    """Every grove is done: merge, score (test and OOB), write model.tree and summary.json.

    Each grove is checked against its done record first; ``GroveMismatch``
    names those that are not what their worker wrote (``run.finish`` fits them again).
    """
    name, plan = watcher.name, watcher.plan
    st = watcher.refresh()
    t0 = time.perf_counter()
    # REPORT lines can trail the done records (CloudWatch ingests with a delay; a local
    # worker logs after its handler returns): wait for them, bounded, so the cost is whole.
    deadline = time.monotonic() + backend.report_wait_s
    while any(r.report is None for r in st.rows) and time.monotonic() < deadline:
        time.sleep(0.2)
        st = watcher.refresh()

    # Fetch groves concurrently (S3 GETs and decompression overlap); map keeps grove order.
    def fetch(row: Any) -> Grove | GroveMismatch:
        try:
            return load_grove(backend, name, row.grove, row.record)
        except GroveMismatch as exc:
            return exc

    with ThreadPoolExecutor(max_workers=min(8, max(1, len(st.rows)))) as pool:
        fetched = list(pool.map(fetch, st.rows))
    bad = [g for g in fetched if isinstance(g, GroveMismatch)]
    if bad:
        gids = [gid for exc in bad for gid in exc.gids]
        raise GroveMismatch(f"{len(bad)} grove file(s) do not match their records; first: {bad[0]}", gids)
    groves = [g for g in fetched if isinstance(g, Grove)]
    merged = forest.merge(groves)
    t_merge = time.perf_counter() - t0
    test_score = None
    if plan.n_test:  # a build that trains on every row (test size 0) has no held-out score
        X_te, y_te = datamod.get_test(backend.store, name)
        merged.n_jobs = -1  # score on every core; the saved model keeps scikit-learn's default
        test_score = forest.score(merged, X_te, y_te)
        merged.n_jobs = None
    oob = None
    if bootstraps(plan.spec.params, plan.spec.model):
        try:
            X_tr, y_tr = datamod.open_train(backend.store, plan.data_ref)
            w_tr = datamod.open_weight(backend.store, plan.data_ref)
            datamod.check_train(plan.data_ref, X_tr, y_tr, w_tr)  # OOB scores only against the rows the groves saw
        except (ValueError, OSError, EOFError) as exc:  # DataIntegrityError, or a .npy too short to open
            raise BuildError(f"build {name!r}: {' '.join(str(exc).split())}") from None
        classes = np.asarray(merged.classes_) if forest.is_classifier(merged) else None
        decision = forest.oob_decision(groves, np.asarray(y_tr), classes)
        if decision is not None:
            oob = decision[1]
            write_oob(backend, name, decision[0])
    blob = artifacts.dumps_model(merged)
    backend.store.put_bytes(keys.model(name), blob)
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
        "model_bytes": len(blob),
        "model_sha256": artifacts.digest(blob),
        "failures": failures or [],
        "init_ms": estimate.median_init_ms([r.report.init_ms for r in st.rows if r.report]),
        "finished": time.time(),
    }
    summary["estimate"] = estimate.compare(backend, name, summary["wall_s"], st.cost_usd)
    estimate.keep_groves(backend, plan.spec, name, [r.record for r in st.rows])
    estimate.keep_init(backend, name, summary["init_ms"])
    put_json(backend.store, keys.summary(name), summary)
    return watcher.refresh()
