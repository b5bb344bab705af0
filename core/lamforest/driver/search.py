"""Hyperparameter search: one invocation per combination, each fitting a whole forest, scored on validation.

Each trial is one ``search`` event (not a build of groves): the combination's
forest is small enough for one invocation, and one event per trial keeps the
leaderboard a LIST of small records. The validation set is carved from the
train set with the build's seed; the test set (the same split a build with
this seed makes) is never seen, so a promoted build is scored on rows that no
trial touched. Keys: ``search.json`` (what was asked), ``trials/done|failed/<tid>.json``,
``leaderboard.json`` (the final table, best first); see ``lamforest.keys``.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from lamforest import data as datamod
from lamforest import keys, records
from lamforest.backend.base import Backend
from lamforest.cost import price, total_usd
from lamforest.driver.jobs import JobTimeout, reports_for, wait_records
from lamforest.driver.plan import BuildError, claimed
from lamforest.driver.plan import create as create_build
from lamforest.driver.run import Progress
from lamforest.driver.run import run as run_build
from lamforest.driver.watch import BuildStatus
from lamforest.events import SearchEvent
from lamforest.grove import make_estimator
from lamforest.spec import RESERVED_PARAMS, BuildSpec, SpecError, as_int, validate_name
from lamforest.store.base import get_json, put_json

MAX_TRIALS = 1000
DEFAULT_SPACE: dict[str, list[Any]] = {
    "max_depth": [None, 8, 16, 32],
    "max_features": ["sqrt", "log2", 0.5, 1.0],
    "min_samples_leaf": [1, 2, 4, 8],
}


@dataclass(frozen=True)
class SearchSpec:
    """A search: a grid (every combination) or ``random`` combinations drawn from it.

    ``base`` is the build every trial is a variant of: data, target, trees (per trial), grove
    (trees between cancel checks, and the grove size of a promoted build), model, task, seed,
    test split and memory.
    """

    base: BuildSpec
    grid: dict[str, list[Any]] = field(default_factory=dict)
    random: int | None = None
    valid_size: float = 0.25

    @classmethod
    def of(
        cls,
        name: str,
        grid: dict[str, list[Any]] | None = None,
        random: int | None = None,
        valid_size: float = 0.25,
        trees: int = 50,
        **build: Any,
    ) -> SearchSpec:
        """A search from the build fields (``data``, ``grove``, ``seed``, ...) and the search's own."""
        return cls(BuildSpec(name=name, trees=trees, **build), dict(grid or {}), random, valid_size)

    @property
    def name(self) -> str:
        return self.base.name

    def validated(self) -> SearchSpec:
        base = self.base
        as_int("trees", base.trees, 1, 10_000)
        grove, trees = as_int("grove", base.grove, 1), as_int("trees", base.trees, 1)
        if grove > trees:  # -g is trees between cancel checks: at most a trial's trees
            base = replace(base, grove=trees)
        base = base.validated()  # once: a base from make_spec is kept as it is
        rnd = None if self.random is None else as_int("random", self.random, 1, MAX_TRIALS)
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
        out = SearchSpec(base=base, grid=grid, random=rnd, valid_size=valid)
        n = out.n_combinations
        if rnd is None and n > MAX_TRIALS:
            raise SpecError("grid", f"{n} combinations exceed {MAX_TRIALS}; use --random N")
        return out

    @property
    def n_combinations(self) -> int:
        return math.prod(len(v) for v in self.grid.values())

    def combinations(self) -> list[dict[str, Any]]:
        """Every grid combination, or ``random`` distinct ones drawn with the seed."""
        keys_ = list(self.grid)
        if self.random is None:
            return [dict(zip(keys_, combo, strict=True)) for combo in itertools.product(*self.grid.values())]
        n = self.n_combinations
        rng = random.Random(self.base.seed)
        picks = rng.sample(range(n), min(self.random, n))
        out = []
        for index in picks:
            combo = {}
            for key in reversed(keys_):
                index, i = divmod(index, len(self.grid[key]))
                combo[key] = self.grid[key][i]
            out.append({k: combo[k] for k in keys_})
        return out

    def build_spec(
        self, name: str, params: dict[str, Any], trees: int | None = None, grove: int | None = None
    ) -> BuildSpec:
        return replace(
            self.base, name=name, params=params, trees=trees or self.base.trees, grove=grove or self.base.grove
        )

    def to_dict(self) -> dict[str, Any]:
        return {"base": self.base.to_dict(), "grid": self.grid, "random": self.random, "valid_size": self.valid_size}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SearchSpec:
        if "base" not in d:  # written before the spec kept its build fields as one BuildSpec
            d = dict(d)
            own = {k: d.pop(k) for k in ("grid", "random", "valid_size") if k in d}
            return cls.of(**d, **own)
        return cls(BuildSpec.from_dict(d["base"]), d.get("grid", {}), d.get("random"), d.get("valid_size", 0.25))


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
    return backend.store.exists(keys.search(name))


def list_searches(backend: Backend) -> list[str]:
    return [n for n in backend.store.children(keys.BUILDS) if exists(backend, n)]


def create(backend: Backend, spec: SearchSpec) -> dict[str, Any]:
    """Validate everything (every combination with scikit-learn's own checks), then store the data and
    ``search.json``. The name is taken (shared with builds) after the cheap checks, and given back if
    loading the data or a combination's check fails."""
    spec = spec.validated()
    with claimed(backend, spec.name):
        return _create(backend, spec)


def _create(backend: Backend, spec: SearchSpec) -> dict[str, Any]:
    store, base = backend.store, spec.base
    ds = datamod.load(base.data, base.target, base.task, base.seed)
    if ds.y.ndim == 2:
        raise SpecError("target", f"{base.target}: a search scores one target; give one column")
    combos = spec.combinations()
    for combo in combos:
        try:
            make_estimator(base.model, ds.task, combo)
        except SpecError as exc:
            key = exc.field.removeprefix("param").strip()
            raise SpecError(f"grid {key}".strip(), exc.message) from None
    X_tr, _, y_tr, _ = datamod.split(ds, base.test_size, base.seed)  # the test set is left out here
    part = datamod.Dataset(X=X_tr, y=y_tr, task=ds.task, source=ds.source, feature_names=ds.feature_names)
    try:
        X_fit, X_val, y_fit, y_val = datamod.split(part, spec.valid_size, base.seed)
    except SpecError as exc:
        raise SpecError("valid_size", exc.message) from None
    fit_ref = datamod.put_train(store, X_fit, y_fit, ds.task, ds.feature_names)
    valid_ref = datamod.put_train(store, X_val, y_val, ds.task, ds.feature_names)
    doc = {
        "spec": spec.to_dict(),
        "task": ds.task,
        "data_ref": fit_ref,
        "valid_ref": valid_ref,
        "combinations": combos,
        "n_fit": int(X_fit.shape[0]),
        "n_valid": int(X_val.shape[0]),
        "created": time.time(),
        "backend": backend.name,
    }
    put_json(store, keys.search(spec.name), doc)
    return doc


def load(backend: Backend, name: str) -> dict[str, Any]:
    validate_name(name)
    try:
        doc = get_json(backend.store, keys.search(name))
    except KeyError:
        raise SpecError("name", f"no search named {name!r} in {backend.describe}") from None
    doc["spec"] = SearchSpec.from_dict(doc["spec"])
    return doc


def leaderboard(backend: Backend, name: str, *, with_costs: bool = False, _doc: dict | None = None) -> Leaderboard:
    """The search as the store has it now: one LIST of its trials, one GET per record."""
    doc = _doc or load(backend, name)
    spec: SearchSpec = doc["spec"]
    trials = [Trial(trial=i, params=p) for i, p in enumerate(doc["combinations"])]
    pre = keys.trials(name)
    metric = None
    rids: dict[str, Trial] = {}
    for key in backend.store.list(keys.job_files(pre)):
        parsed = keys.parse_job_record(pre, key)
        if parsed is None:
            continue
        state = parsed[0]
        try:
            rec = records.parse_job(get_json(backend.store, key), state)
        except (KeyError, ValueError):
            continue
        t = trials[int(rec["trial"])]
        t.state = state
        if rec.get("started") and rec.get("ended"):
            t.duration_s = float(rec["ended"]) - float(rec["started"])
        if state == "done":
            t.score, metric = float(rec["score"]), rec.get("metric")
            if rid := rec.get("request_id"):
                rids[rid] = t
        else:
            t.error = f"{rec.get('error')}: {rec.get('message')}"
    total = 0.0
    if with_costs and rids:
        reports = reports_for(backend, name, "search", set(rids))
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
    lb.finished = backend.store.exists(keys.leaderboard(name))
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
    pre = keys.trials(name)
    have = set(backend.store.list(keys.job_records(pre, "done")))
    events = [
        SearchEvent(
            build=name,
            trial=i,
            seed=bspec.seed,
            trees=bspec.trees,
            data=doc["data_ref"],
            valid=doc["valid_ref"],
            model=bspec.model,
            task=doc["task"],
            params=combo,
            chunk=bspec.grove,
            n_jobs=backend.n_jobs(bspec),
        )
        for i, combo in enumerate(doc["combinations"])
        if keys.job_record(pre, "done", keys.grove_id(i)) not in have
    ]
    if events:
        backend.make_compute(bspec, workers, False).submit(list(events))

    def progress(done: int, total: int) -> None:
        if on_progress:
            on_progress(leaderboard(backend, name, _doc=doc))

    try:
        wait_records(
            backend.store,
            pre,
            [keys.grove_id(i) for i in range(len(doc["combinations"]))],
            timeout_s=timeout_s,
            poll_s=poll_s,
            on_progress=progress,
            should_stop=should_stop,
        )
    except JobTimeout as exc:
        raise BuildError(f"search {name!r}: {exc}") from None
    lb = leaderboard(backend, name, with_costs=True, _doc=doc)
    if all(t.state in ("done", "failed") for t in lb.trials):
        put_json(backend.store, keys.leaderboard(name), lb.to_json())
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
    on_progress: Progress | None = None,
) -> BuildStatus:
    """Start a full build with the best trial's params (same data, seed and split as the search)."""
    create_promoted(backend, name, build_name, trees=trees, grove=grove)
    return run_build(backend, build_name, workers=workers, on_progress=on_progress)


def create_promoted(
    backend: Backend, name: str, build_name: str, *, trees: int | None = None, grove: int | None = None
) -> BuildSpec:
    """Create (not run) the build of the best trial's params and record it in the search; for a
    caller that runs builds its own way (the TUI's driver threads)."""
    doc = load(backend, name)
    lb = leaderboard(backend, name, _doc=doc)
    best = lb.best
    if best is None:
        raise SpecError("promote", f"search {name!r} has no scored trial yet")
    spec = doc["spec"].build_spec(build_name, best.params, trees=trees, grove=grove)
    create_build(backend, spec)
    doc["promoted"] = [*doc.get("promoted", []), build_name]
    put_json(backend.store, keys.search(name), {**doc, "spec": doc["spec"].to_dict()})
    return spec
