"""Hyperparameter search: one invocation per combination, each fitting a whole forest, scored on validation.

Each trial is one ``search`` event (not a build of groves): the combination's
forest is small enough for one invocation, and one event per trial keeps the
leaderboard a LIST of small records. The validation set is carved from the
train set with the build's seed; the test set (the same split a build with
this seed makes) is never seen, so a promoted build is scored on rows that no
trial touched.

    builds/<name>/search.json                  what was asked: grid, trials, data refs
    builds/<name>/trials/done/<tid>.json       a trial's params, score, timings, request id
    builds/<name>/trials/failed/<tid>.json     or its error
    builds/<name>/leaderboard.json             the final table, best first
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from lamforest import builds as drv
from lamforest import data as datamod
from lamforest.config import Backend
from lamforest.grove import make_estimator
from lamforest.jobs import JobTimeout, reports_for, wait_records
from lamforest.spec import (
    MODELS,
    RESERVED_PARAMS,
    TASKS,
    BuildSpec,
    GroveTask,
    SpecError,
    _as_int,
    _choice,
    grove_id,
    parse_param_value,
    validate_name,
)
from lamforest.store.base import Store, get_json, put_json

MAX_TRIALS = 1000
DEFAULT_SPACE: dict[str, list[Any]] = {
    "max_depth": [None, 8, 16, 32],
    "max_features": ["sqrt", "log2", 0.5, 1.0],
    "min_samples_leaf": [1, 2, 4, 8],
}


def parse_grid(items: list[str] | tuple[str, ...]) -> dict[str, list[Any]]:
    """``KEY=V1,V2,...`` items as {key: [values]}; SpecError("grid") on bad syntax."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, values = str(item).partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise SpecError("grid", f"expected KEY=V1,V2,..., got {item!r}")
        parts = [v.strip() for v in values.split(",")]
        if any(not v for v in parts):
            raise SpecError("grid", f"{item!r} has an empty value")
        if key in grid:
            raise SpecError("grid", f"{key!r} is given twice")
        grid[key] = [parse_param_value(v) for v in parts]
    return grid


@dataclass(frozen=True)
class SearchSpec:
    """A search: a grid (every combination) or ``random`` combinations drawn from it."""

    name: str
    data: str = "digits"
    target: str | None = None
    grid: dict[str, list[Any]] = field(default_factory=dict)
    random: int | None = None
    trees: int = 50
    grove: int = 10  # trees between cancel checks in a trial, and the grove size of a promoted build
    model: str = "rf"
    task: str = "auto"
    seed: int = 0
    test_size: float = 0.25
    valid_size: float = 0.25
    memory: int = 1769

    def validated(self) -> SearchSpec:
        name = validate_name(self.name)
        trees = _as_int("trees", self.trees, 1, 10_000)
        grove = _as_int("grove", self.grove, 1)
        model = _choice("model", self.model, MODELS)
        task = _choice("task", self.task, TASKS)
        rnd = None if self.random is None else _as_int("random", self.random, 1, MAX_TRIALS)
        try:
            valid = float(self.valid_size)
        except (TypeError, ValueError):
            raise SpecError("valid_size", f"must be a number in (0, 1), got {self.valid_size!r}") from None
        if not 0.0 < valid < 1.0:
            raise SpecError("valid_size", f"must be in (0, 1), got {self.valid_size!r}")
        if not isinstance(self.grid, dict):
            raise SpecError("grid", "must map parameter names to lists of values")
        if not self.grid and rnd is None:
            raise SpecError("grid", "give --grid KEY=V1,V2 ... or --random N")
        grid = dict(self.grid) if self.grid else dict(DEFAULT_SPACE)
        for key, values in grid.items():
            if key in RESERVED_PARAMS:
                raise SpecError(f"grid {key}", RESERVED_PARAMS[key])
            if not isinstance(values, list) or not values:
                raise SpecError(f"grid {key}", "needs at least one value")
        base = BuildSpec(
            name=name,
            data=self.data,
            target=self.target,
            trees=trees,
            grove=min(grove, trees),
            model=model,
            task=task,
            seed=self.seed,
            test_size=self.test_size,
            memory=self.memory,
        ).validated()
        out = SearchSpec(
            name=name,
            data=base.data,
            target=base.target,
            grid=grid,
            random=rnd,
            trees=trees,
            grove=base.grove,
            model=model,
            task=task,
            seed=base.seed,
            test_size=base.test_size,
            valid_size=valid,
            memory=base.memory,
        )
        n = out.n_combinations
        if rnd is None and n > MAX_TRIALS:
            raise SpecError("grid", f"{n} combinations exceed {MAX_TRIALS}; use --random N")
        return out

    @property
    def n_combinations(self) -> int:
        return math.prod(len(v) for v in self.grid.values())

    def combinations(self) -> list[dict[str, Any]]:
        """Every grid combination, or ``random`` distinct ones drawn with the seed."""
        keys = list(self.grid)
        if self.random is None:
            return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*self.grid.values())]
        n = self.n_combinations
        rng = random.Random(self.seed)
        picks = rng.sample(range(n), min(self.random, n))
        out = []
        for index in picks:
            combo = {}
            for key in reversed(keys):
                index, i = divmod(index, len(self.grid[key]))
                combo[key] = self.grid[key][i]
            out.append({k: combo[k] for k in keys})
        return out

    def build_spec(
        self, name: str, params: dict[str, Any], trees: int | None = None, grove: int | None = None
    ) -> BuildSpec:
        return BuildSpec(
            name=name,
            data=self.data,
            target=self.target,
            trees=trees or self.trees,
            grove=grove or self.grove,
            model=self.model,
            task=self.task,
            params=params,
            seed=self.seed,
            test_size=self.test_size,
            memory=self.memory,
        )


def _prefix(name: str) -> str:
    return f"builds/{name}"


# --------------------------------------------------------------------------- worker side


def run_trial(task: GroveTask, store: Store, request_id: str) -> dict[str, Any]:
    """A ``search`` event: fit the whole forest of ``task.trees`` with ``task.params``, score on validation."""
    import os
    import resource

    from lamforest import forest
    from lamforest.grove import fit
    from lamforest.worker import error_fields, load_train

    pre = f"{_prefix(task.build)}/trials"
    base = {
        "trial": task.grove,
        "params": task.params,
        "trees": task.trees,
        "request_id": request_id,
        "pid": os.getpid(),
        "n_jobs": task.n_jobs,
    }
    if store.exists(f"{pre}/done/{task.gid}.json"):
        return {**base, "state": "done", "duplicate": True}
    started = time.time()
    t0 = time.perf_counter()
    try:
        X, y = load_train(store, task.data)
        Xv, yv = load_train(store, task.input)
        grove = fit(task, X, y)
        t_fit = time.perf_counter()
        score = forest.score(grove.estimator, Xv, yv)
        record = {
            **base,
            "state": "done",
            "score": score,
            "metric": forest.metric_name(grove.estimator),
            "started": started,
            "ended": time.time(),
            "fit_ms": round((t_fit - t0) * 1000, 2),
            "score_ms": round((time.perf_counter() - t_fit) * 1000, 2),
            "max_memory_mb": int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
        put_json(store, f"{pre}/done/{task.gid}.json", record)
    except Exception as exc:
        record = {
            **base,
            "state": "failed",
            **error_fields(exc),
            "started": started,
            "ended": time.time(),
        }
        put_json(store, f"{pre}/failed/{task.gid}.json", record)
    return record


# --------------------------------------------------------------------------- driver side


@dataclass
class Trial:
    trial: int
    params: dict[str, Any]
    state: str = "queued"
    score: float | None = None
    duration_s: float | None = None
    cost_usd: float | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Leaderboard:
    """A search's trials, best first (then running/queued/failed)."""

    name: str
    metric: str | None
    trials: list[Trial]
    spec: SearchSpec
    cost_usd: float = 0.0
    cost_estimate: bool = True
    finished: bool = False
    promoted: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        return sum(1 for t in self.trials if t.state == "done")

    @property
    def best(self) -> Trial | None:
        scored = [t for t in self.trials if t.score is not None]
        return max(scored, key=lambda t: (t.score, -t.trial)) if scored else None

    def ranked(self) -> list[Trial]:
        order = {"done": 0, "running": 1, "queued": 2, "failed": 3}
        return sorted(self.trials, key=lambda t: (order.get(t.state, 4), -(t.score or 0.0), t.trial))

    def to_json(self) -> dict[str, Any]:
        best = self.best
        return {
            "name": self.name,
            "metric": self.metric,
            "trials": [t.to_dict() for t in self.ranked()],
            "done": self.done,
            "total": len(self.trials),
            "cost_usd": self.cost_usd,
            "cost_is_estimate": self.cost_estimate,
            "finished": self.finished,
            "best": best.to_dict() if best else None,
            "promoted": self.promoted,
        }


def exists(backend: Backend, name: str) -> bool:
    return backend.store.exists(f"{_prefix(name)}/search.json")


def list_searches(backend: Backend) -> list[str]:
    return [n for n in backend.store.children("builds/") if exists(backend, n)]


def create(backend: Backend, spec: SearchSpec) -> dict[str, Any]:
    """Validate everything (every combination with scikit-learn's own checks), then store the data and
    ``search.json``. Nothing is written unless every check passed."""
    spec = spec.validated()
    store = backend.store
    if store.exists(f"{_prefix(spec.name)}/spec.json") or exists(backend, spec.name):
        raise SpecError("name", f"a build or search named {spec.name!r} already exists; pick another name")
    ds = datamod.load(spec.data, spec.target, spec.task, spec.seed)
    combos = spec.combinations()
    for combo in combos:
        try:
            make_estimator(spec.model, ds.task, combo)
        except SpecError as exc:
            key = exc.field.removeprefix("param").strip()
            raise SpecError(f"grid {key}".strip(), exc.message) from None
    X_tr, _, y_tr, _ = datamod.split(ds, spec.test_size, spec.seed)  # the test set is left out here
    part = datamod.Dataset(X=X_tr, y=y_tr, task=ds.task, source=ds.source, feature_names=ds.feature_names)
    try:
        X_fit, X_val, y_fit, y_val = datamod.split(part, spec.valid_size, spec.seed)
    except SpecError as exc:
        raise SpecError("valid_size", exc.message) from None
    fit_ref = datamod.put_train(store, X_fit, y_fit, ds.task, ds.feature_names)
    valid_ref = datamod.put_train(store, X_val, y_val, ds.task, ds.feature_names)
    doc = {
        "spec": {**asdict(spec)},
        "task": ds.task,
        "data_ref": fit_ref,
        "valid_ref": valid_ref,
        "combinations": combos,
        "n_fit": int(X_fit.shape[0]),
        "n_valid": int(X_val.shape[0]),
        "created": time.time(),
        "backend": backend.name,
    }
    put_json(store, f"{_prefix(spec.name)}/search.json", doc)
    return doc


def load(backend: Backend, name: str) -> dict[str, Any]:
    validate_name(name)
    try:
        doc = get_json(backend.store, f"{_prefix(name)}/search.json")
    except KeyError:
        raise SpecError("name", f"no search named {name!r} in {backend.describe}") from None
    doc["spec"] = SearchSpec(**doc["spec"])
    return doc


def leaderboard(
    backend: Backend, name: str, *, with_costs: bool = False, cost_wait_s: float = 0.0, _doc: dict | None = None
) -> Leaderboard:
    """The search as the store has it now: one LIST of its trials, one GET per record."""
    doc = _doc or load(backend, name)
    spec: SearchSpec = doc["spec"]
    trials = [Trial(trial=i, params=p) for i, p in enumerate(doc["combinations"])]
    pre = f"{_prefix(name)}/trials"
    metric = None
    rids: dict[str, Trial] = {}
    for key in backend.store.list(pre + "/"):
        state, _, file = key[len(pre) + 1 :].partition("/")
        if state not in ("done", "failed") or not file.endswith(".json"):
            continue
        try:
            rec = get_json(backend.store, key)
        except (KeyError, ValueError):
            continue
        t = trials[int(rec["trial"])]
        t.state = state
        if rec.get("started") and rec.get("ended"):
            t.duration_s = float(rec["ended"]) - float(rec["started"])
        if state == "done":
            t.score, metric = float(rec["score"]), rec.get("metric")
            rids[rec["request_id"]] = t
        else:
            t.error = f"{rec.get('error')}: {rec.get('message')}"
    total = 0.0
    if with_costs and rids:
        from lamforest.cost import price, total_usd

        reports = reports_for(backend, name, "search", set(rids), wait_s=cost_wait_s)
        for rid, rep in reports.items():
            rids[rid].cost_usd = price(rep.billed_ms, rep.memory_mb, backend.price_arch()).usd
        total = total_usd(reports.values(), backend.price_arch())
    promoted = doc.get("promoted", [])
    lb = Leaderboard(
        name=name,
        metric=metric,
        trials=trials,
        spec=spec,
        cost_usd=total,
        cost_estimate=backend.estimate,
        promoted=promoted,
    )
    lb.finished = backend.store.exists(f"{_prefix(name)}/leaderboard.json")
    return lb


def run(
    backend: Backend,
    name: str,
    *,
    workers: int | None = None,
    timeout_s: float = 3600.0,
    poll_s: float = 0.05,
    on_progress: Callable[[Leaderboard], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> Leaderboard:
    """Dispatch one ``search`` event per combination not yet done, wait (bounded), write the leaderboard."""
    doc = load(backend, name)
    spec: SearchSpec = doc["spec"]
    bspec = spec.build_spec(name, {})
    have = set(backend.store.list(f"{_prefix(name)}/trials/done/"))
    tasks = [
        GroveTask(
            build=name,
            grove=i,
            seed=spec.seed,
            trees=spec.trees,
            data=doc["data_ref"],
            model=spec.model,
            task=doc["task"],
            params=combo,
            chunk=spec.grove,
            n_jobs=backend.n_jobs(bspec),
            kind="search",
            input=doc["valid_ref"],
            job="trial",
        )
        for i, combo in enumerate(doc["combinations"])
        if f"{_prefix(name)}/trials/done/{grove_id(i)}.json" not in have
    ]
    if tasks:
        backend.make_compute(bspec, workers, False).submit(tasks)

    def progress(done: int, total: int) -> None:
        if on_progress:
            on_progress(leaderboard(backend, name, _doc=doc))

    try:
        wait_records(
            backend.store,
            f"{_prefix(name)}/trials",
            [grove_id(i) for i in range(len(doc["combinations"]))],
            timeout_s=timeout_s,
            poll_s=poll_s,
            on_progress=progress,
            should_stop=should_stop,
        )
    except JobTimeout as exc:
        raise drv.BuildError(f"search {name!r}: {exc}") from None
    lb = leaderboard(backend, name, with_costs=True, cost_wait_s=2.0 if backend.name == "local" else 10.0, _doc=doc)
    if all(t.state in ("done", "failed") for t in lb.trials):
        put_json(backend.store, f"{_prefix(name)}/leaderboard.json", lb.to_json())
        lb.finished = True
    if on_progress:
        on_progress(lb)
    return lb


def promote(
    backend: Backend,
    name: str,
    build_name: str,
    *,
    trees: int | None = None,
    grove: int | None = None,
    workers: int | None = None,
    on_progress: drv.Progress | None = None,
) -> drv.BuildStatus:
    """Start a full build with the best trial's params (same data, seed and split as the search)."""
    doc = load(backend, name)
    lb = leaderboard(backend, name, _doc=doc)
    best = lb.best
    if best is None:
        raise SpecError("promote", f"search {name!r} has no scored trial yet")
    spec = doc["spec"].build_spec(build_name, best.params, trees=trees, grove=grove)
    drv.create(backend, spec)
    doc["promoted"] = [*doc.get("promoted", []), build_name]
    put_json(backend.store, f"{_prefix(name)}/search.json", {**doc, "spec": asdict(doc["spec"])})
    return drv.run(backend, build_name, workers=workers, on_progress=on_progress)
