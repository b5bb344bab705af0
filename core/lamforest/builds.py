"""The driver: create, dispatch, watch, retry, cancel, finish, predict.

Everything it knows comes from the store, so any process can watch, cancel
or finish a build that another process started. ``Watcher.refresh`` costs
one LIST of the build's prefix, plus one GET per record that changed.
"""

from __future__ import annotations

import io
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from lamforest import data as datamod
from lamforest import forest
from lamforest.config import Backend
from lamforest.cost import price
from lamforest.grove import Grove, bootstraps, make_estimator
from lamforest.logs import Report, parse_report
from lamforest.spec import BuildSpec, GroveTask, SpecError, grove_id, validate_name
from lamforest.store.base import get_json, put_json

BUILD_STATES = ("queued", "running", "finishing", "done", "failed", "cancelled")
GROVE_STATES = ("queued", "running", "done", "failed", "cancelled")
MODEL_COMPRESS = ("lz4", 1)  # as groves: 5x faster to write than lz4 HC, ~40% larger
LOG_LINES_KEPT = 5000


class BuildError(RuntimeError):
    """A build cannot do what was asked (not found, not finished, ...)."""


def _prefix(name: str) -> str:
    return f"builds/{name}"


# --------------------------------------------------------------------------- create


@dataclass(frozen=True)
class Plan:
    """A created build: its spec and what the driver resolved from the data."""

    spec: BuildSpec
    task: str
    data_ref: str
    n_train: int
    n_test: int
    n_features: int
    classes: list[Any] | None
    created: float
    backend: str

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["spec"] = self.spec.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Plan:
        return cls(**{**d, "spec": BuildSpec.from_dict(d["spec"])})

    def tasks(self, n_jobs: int = 1) -> list[GroveTask]:
        s = self.spec
        return [
            GroveTask(
                build=s.name,
                grove=i,
                seed=seed,
                trees=trees,
                data=self.data_ref,
                model=s.model,
                task=self.task,
                params=s.params,
                chunk=s.chunk,
                n_jobs=n_jobs,
            )
            for i, (trees, seed) in enumerate(zip(s.grove_sizes(), s.grove_seeds(), strict=True))
        ]


def validate(spec: BuildSpec, dataset: datamod.Dataset | None = None) -> BuildSpec:
    """Validate the spec and its params (with scikit-learn's own validation) without writing."""
    spec = spec.validated()
    task = dataset.task if dataset else ("classification" if spec.task == "auto" else spec.task)
    make_estimator(spec.model, task, spec.params)
    return spec


def create(backend: Backend, spec: BuildSpec) -> Plan:
    """Validate everything, then store the train set, the test set and ``spec.json``.

    Nothing is written unless every check passed.
    """
    spec = validate(spec)
    if backend.store.exists(f"{_prefix(spec.name)}/spec.json"):
        raise SpecError("name", f"a build named {spec.name!r} already exists; pick another name")
    ds = datamod.load(spec.data, spec.target, spec.task, spec.seed)
    make_estimator(spec.model, ds.task, spec.params)
    X_tr, X_te, y_tr, y_te = datamod.split(ds, spec.test_size, spec.seed)
    ref = datamod.put_train(backend.store, X_tr, y_tr, ds.task, ds.feature_names)
    datamod.put_test(backend.store, spec.name, X_te, y_te)
    classes = np.unique(y_tr).tolist() if ds.task == "classification" else None
    plan = Plan(
        spec=spec,
        task=ds.task,
        data_ref=ref,
        n_train=int(X_tr.shape[0]),
        n_test=int(X_te.shape[0]),
        n_features=int(X_tr.shape[1]),
        classes=classes,
        created=time.time(),
        backend=backend.name,
    )
    put_json(backend.store, f"{_prefix(spec.name)}/spec.json", plan.to_dict())
    return plan


def load_plan(backend: Backend, name: str) -> Plan:
    validate_name(name)
    try:
        return Plan.from_dict(get_json(backend.store, f"{_prefix(name)}/spec.json"))
    except KeyError:
        raise BuildError(f"no build named {name!r} in {backend.describe}") from None


# --------------------------------------------------------------------------- watch


@dataclass
class GroveRow:
    """One grove as the store and its REPORT line describe it."""

    grove: int
    trees: int
    seed: int
    state: str = "queued"
    attempt: int = 0
    started: float | None = None
    ended: float | None = None
    request_id: str | None = None
    error: str | None = None
    report: Report | None = None
    cost_usd: float | None = None
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def gid(self) -> str:
        return grove_id(self.grove)

    @property
    def retries(self) -> int:
        return max(0, self.attempt - 1)

    @property
    def duration_s(self) -> float | None:
        if self.started is None:
            return None
        return (self.ended or time.time()) - self.started

    def to_dict(self) -> dict[str, Any]:
        return {
            "grove": self.grove,
            "trees": self.trees,
            "seed": self.seed,
            "state": self.state,
            "attempt": self.attempt,
            "started": self.started,
            "ended": self.ended,
            "duration_s": self.duration_s,
            "request_id": self.request_id,
            "error": self.error,
            "billed_ms": self.report.billed_ms if self.report else None,
            "init_ms": self.report.init_ms if self.report else None,
            "max_memory_mb": self.report.max_memory_mb if self.report else None,
            "cost_usd": self.cost_usd,
        }


@dataclass
class BuildStatus:
    name: str
    state: str
    backend: str
    plan: Plan
    rows: list[GroveRow]
    billed_ms: float = 0.0
    gb_seconds: float = 0.0
    cost_usd: float = 0.0
    cost_estimate: bool = True
    reports: int = 0
    summary: dict[str, Any] | None = None
    cancel_reason: str | None = None
    model: str | None = None
    dispatch: dict[str, Any] | None = None  # the compute's counters (dispatch.json): throttles, failed entries

    @property
    def spec(self) -> BuildSpec:
        return self.plan.spec

    def count(self, state: str) -> int:
        return sum(1 for r in self.rows if r.state == state)

    @property
    def trees_done(self) -> int:
        return sum(r.trees for r in self.rows if r.state == "done")

    @property
    def elapsed_s(self) -> float:
        if self.summary and "wall_s" in self.summary:
            return float(self.summary["wall_s"])
        starts = [r.started for r in self.rows if r.started]
        if not starts:
            return 0.0
        ends = [r.ended for r in self.rows if r.ended]
        active = self.state in ("running", "queued", "finishing")
        return (time.time() if active or not ends else max(ends)) - min(starts)

    @property
    def projected_cost_usd(self) -> float | None:
        done = self.trees_done
        if not done:
            return None
        return self.cost_usd / done * self.spec.trees

    @property
    def test_score(self) -> float | None:
        return self.summary.get("test_score") if self.summary else None

    def to_json(self) -> dict[str, Any]:
        s = self.summary or {}
        return {
            "name": self.name,
            "state": self.state,
            "backend": self.backend,
            "task": self.plan.task,
            "model_type": self.spec.model,
            "trees": self.spec.trees,
            "trees_done": self.trees_done,
            "grove_size": self.spec.grove,
            "groves": {
                "total": len(self.rows),
                **{st: self.count(st) for st in GROVE_STATES},
            },
            "elapsed_s": round(self.elapsed_s, 3),
            "billed_ms": self.billed_ms,
            "gb_seconds": round(self.gb_seconds, 6),
            "cost_usd": round(self.cost_usd, 8),
            "cost_is_estimate": self.cost_estimate,
            "projected_cost_usd": (round(self.projected_cost_usd, 8) if self.projected_cost_usd is not None else None),
            "test_score": s.get("test_score"),
            "metric": s.get("metric"),
            "oob_score": s.get("oob_score"),
            "model": self.model,
            "cancel_reason": self.cancel_reason,
            "failures": s.get("failures", []),
            "error": s.get("error"),
            "dispatch": self.dispatch,
        }


class Watcher:
    """An incremental view of one build, kept up to date from the store and the log source."""

    def __init__(self, backend: Backend, name: str, plan: Plan | None = None) -> None:
        self.backend = backend
        self.name = name
        self.plan = plan or load_plan(backend, name)
        self.logs = backend.new_log_source()
        self._versions: dict[str, str] = {}
        self._records: dict[str, dict[str, dict]] = {}  # gid -> state -> record
        self._reports: dict[str, Report] = {}
        self._summary: dict[str, Any] | None = None
        self._cancel: dict[str, Any] | None = None
        self._dispatch: dict[str, Any] | None = None
        self._rids: set[str] = set()  # request ids of every record seen: joins shared logs to this build
        self.log_lines: deque[str] = deque(maxlen=LOG_LINES_KEPT)
        self.rows = [
            GroveRow(grove=i, trees=t, seed=s)
            for i, (t, s) in enumerate(zip(self.plan.spec.grove_sizes(), self.plan.spec.grove_seeds(), strict=True))
        ]

    def _changed(self, key: str, version: str) -> bool:
        if self._versions.get(key) == version:
            return False
        self._versions[key] = version
        return True

    def refresh(self) -> BuildStatus:
        store, pre = self.backend.store, _prefix(self.name)
        listing = store.list(f"{pre}/")
        present: dict[str, set[str]] = {}
        for key, version in listing.items():
            rel = key[len(pre) + 1 :]
            if rel.startswith("state/"):
                gid, _, st = rel[len("state/") :].partition(".")
                present.setdefault(gid, set()).add(st)
                if self._changed(key, version):
                    try:
                        rec = self._records.setdefault(gid, {})[st] = get_json(store, key)
                        if rec.get("request_id"):
                            self._rids.add(rec["request_id"])
                    except (KeyError, ValueError):
                        self._versions.pop(key, None)  # removed or mid-write: next refresh
            elif rel == "dispatch.json" and self._changed(key, version):
                self._dispatch = get_json(store, key)
            elif rel == "summary.json" and self._changed(key, version):
                self._summary = get_json(store, key)
            elif rel == "CANCEL" and self._changed(key, version):
                try:
                    self._cancel = get_json(store, key)
                except (KeyError, ValueError):
                    self._cancel = {"reason": "cancelled"}
        if f"{pre}/CANCEL" not in listing:
            self._cancel = None
        for line in self.logs.lines(self.name):
            self.log_lines.append(line)
            rep = parse_report(line)
            if rep:
                self._reports[rep.request_id] = rep
        return self._status(present, listing)

    def _row_state(self, gid: str, states: set[str]) -> tuple[str, dict]:
        recs = self._records.get(gid, {})
        if "done" in states and "done" in recs:
            return "done", recs["done"]
        if "running" in states and "running" in recs:
            run = recs["running"]
            failed = recs.get("failed") if "failed" in states else None
            newer = failed is None or run.get("attempt", 1) > failed.get("attempt", 1)
            if newer and not self.backend.is_stale(run):
                return "running", run
        if "failed" in states and "failed" in recs:
            return "failed", recs["failed"]
        if "cancelled" in states and "cancelled" in recs:
            return "cancelled", recs["cancelled"]
        return "queued", {}

    def _status(self, present: dict[str, set[str]], listing: dict[str, str]) -> BuildStatus:
        spec = self.plan.spec
        # On AWS the function's architecture is fixed by Terraform; the spec's is only a request.
        arch = self.backend.details.get("architecture") or spec.arch
        for row in self.rows:
            st, rec = self._row_state(row.gid, present.get(row.gid, set()))
            row.state, row.record = st, rec
            row.attempt = int(rec.get("attempt", 0)) if rec else 0
            row.started = rec.get("started")
            row.ended = rec.get("ended") if st in ("done", "failed", "cancelled") else None
            row.request_id = rec.get("request_id")
            row.error = f"{rec.get('error')}: {rec.get('message')}" if st == "failed" else None
            row.report = self._reports.get(row.request_id or "")
            if row.report:
                row.cost_usd = price(row.report.billed_ms, row.report.memory_mb, arch).usd
        reports = list(self._reports.values())
        if getattr(self.logs, "shared", False):  # one log for every build (CloudWatch): join by request id
            reports = [r for rid, r in self._reports.items() if rid in self._rids]
        billed = sum(r.billed_ms for r in reports)
        gbs = sum(r.billed_ms / 1000 * r.memory_mb / 1024 for r in reports)
        cost = sum(price(r.billed_ms, r.memory_mb, arch).usd for r in reports)
        if self._summary:
            state = self._summary.get("state", "done")
        elif self._cancel is not None:
            state = "cancelled"
        elif self.rows and all(r.state == "done" for r in self.rows):
            state = "finishing"
        elif any(r.state != "queued" for r in self.rows):
            state = "running"
        else:
            state = "queued"
        model_key = f"{_prefix(self.name)}/model.joblib"
        model = None
        if model_key in listing:
            local = self.backend.store.local_path(model_key)
            model = str(local) if local else f"{self.backend.store.url}/{model_key}"
        return BuildStatus(
            name=self.name,
            state=state,
            backend=self.backend.name,
            plan=self.plan,
            rows=self.rows,
            billed_ms=billed,
            gb_seconds=gbs,
            cost_usd=cost,
            cost_estimate=self.backend.estimate,
            reports=len(reports),
            summary=self._summary,
            dispatch=self._dispatch,
            cancel_reason=(self._cancel or {}).get("reason") if self._cancel is not None else None,
            model=model,
        )


def status(backend: Backend, name: str) -> BuildStatus:
    return Watcher(backend, name).refresh()


def list_builds(backend: Backend) -> list[BuildStatus]:
    out = []
    for name in backend.store.children("builds/"):
        try:
            out.append(status(backend, name))
        except (BuildError, SpecError):
            continue  # a folder without spec.json: a build being created, or not ours
    out.sort(key=lambda s: s.plan.created, reverse=True)
    return out


# --------------------------------------------------------------------------- run


def cancel(backend: Backend, name: str, reason: str = "cancelled by user") -> None:
    """Set the cancel marker: workers stop at their next chunk; nothing more is dispatched."""
    load_plan(backend, name)
    key = f"{_prefix(name)}/CANCEL"
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
        if backlog and not watcher._cancel:
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
        summary = {
            "state": "cancelled",
            "reason": st.cancel_reason,
            "failures": failures,
            "wall_s": time.time() - t_start,
            "trees_done": st.trees_done,
            "billed_ms": st.billed_ms,
            "cost_usd": st.cost_usd,
            "finished": time.time(),
        }
        put_json(backend.store, f"{_prefix(name)}/summary.json", summary)
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
    summary = {
        "state": "failed",
        "error": f"{len(bad)} grove(s) failed after {st.spec.retries} retries: "
        + "; ".join(f"grove {r.grove}: {r.error}" for r in bad[:5]),
        "failures": failures,
        "wall_s": time.time() - t_start,
        "trees_done": st.trees_done,
        "billed_ms": st.billed_ms,
        "cost_usd": st.cost_usd,
        "finished": time.time(),
    }
    put_json(backend.store, f"{_prefix(watcher.name)}/summary.json", summary)
    return watcher.refresh()


# --------------------------------------------------------------------------- finish


def load_grove(backend: Backend, name: str, grove: int) -> Grove:
    blob = backend.store.get_bytes(f"{_prefix(name)}/groves/{grove_id(grove)}.joblib")
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
    backend.store.put_bytes(f"{_prefix(name)}/model.joblib", buf.getvalue())
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
    put_json(backend.store, f"{_prefix(name)}/summary.json", summary)
    return watcher.refresh()


# --------------------------------------------------------------------------- predict


def load_model(backend: Backend, name: str) -> Any:
    try:
        blob = backend.store.get_bytes(f"{_prefix(name)}/model.joblib")
    except KeyError:
        raise BuildError(f"build {name!r} has no model yet; run `lamforest finish {name}`") from None
    return joblib.load(io.BytesIO(blob))


@dataclass
class Prediction:
    predictions: np.ndarray
    metric: str | None = None
    score: float | None = None
    confusion: np.ndarray | None = None
    labels: list[Any] | None = None
    errors: dict[str, float] | None = None
    rows: int = 0
    source: str = "test set"

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "source": self.source,
            "metric": self.metric,
            "score": self.score,
            "labels": self.labels,
            "confusion": self.confusion.tolist() if self.confusion is not None else None,
            "errors": self.errors,
            "predictions": self.predictions[:1000].tolist(),
        }


def evaluate(model: Any, X: np.ndarray, y: np.ndarray | None, source: str) -> Prediction:
    from sklearn.metrics import confusion_matrix, mean_absolute_error, mean_squared_error

    pred = model.predict(X)
    out = Prediction(predictions=pred, rows=int(X.shape[0]), source=source)
    if y is None:
        return out
    if forest.is_classifier(model):
        labels = list(model.classes_)
        out.metric, out.labels = "accuracy", [x.item() if hasattr(x, "item") else x for x in labels]
        out.score = float(np.mean(pred == y))
        out.confusion = confusion_matrix(y, pred, labels=labels)
    else:
        from sklearn.metrics import r2_score

        out.metric, out.score = "r2", float(r2_score(y, pred))
        err = pred - y
        out.errors = {
            "mae": float(mean_absolute_error(y, pred)),
            "rmse": float(np.sqrt(mean_squared_error(y, pred))),
            "max_abs": float(np.max(np.abs(err))),
            "median_abs": float(np.median(np.abs(err))),
        }
    return out


def predict(backend: Backend, name: str, source: str | None = None) -> Prediction:
    """Predict with the merged forest on the held-out test set, or on another dataset."""
    plan = load_plan(backend, name)
    model = load_model(backend, name)
    if source is None:
        X, y = datamod.get_test(backend.store, name)
        return evaluate(model, X, y, "held-out test set")
    ds = datamod.load(source, plan.spec.target, plan.task, plan.spec.seed)
    if ds.X.shape[1] != plan.n_features:
        raise SpecError("data", f"{source}: {ds.X.shape[1]} features, the model expects {plan.n_features}")
    return evaluate(model, ds.X, ds.y, source)


def export(backend: Backend, name: str, path: Path | str) -> Path:
    """Write the merged model to ``path`` (joblib), for any scikit-learn user to load."""
    path = Path(path)
    model = load_model(backend, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, path, compress=MODEL_COMPRESS)
    return path
