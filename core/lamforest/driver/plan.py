"""Create a build: validate everything, take the name, split the data once, store the train set and the spec.

``create`` loads the data a spec names (a built-in, synthetic rows, a file);
``create_from_arrays`` takes arrays already in memory (the Python estimators)
and trains on every row. Nothing is written unless the cheap checks passed;
the name is then taken with one exclusive create, and given back if anything
after fails.
"""

from __future__ import annotations

import json
import os
import platform
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from lamforest import data as datamod
from lamforest import documents, keys, records, weights
from lamforest.backend.base import Backend
from lamforest.documents import Summary, parse_summary
from lamforest.events import FitEvent
from lamforest.grove import check_params, keyed_like, make_estimator
from lamforest.shards import grove_shards
from lamforest.spec import BuildSpec, SpecError, validate_name
from lamforest.spec_input import checked
from lamforest.store.base import location, put_json


class BuildError(RuntimeError):
    """A build cannot do what was asked (not found, not finished, ...)."""


class BrokenBuildError(BuildError):
    """One of a build's documents (spec.json, summary.json, a grove's record, the manifest) exists but
    cannot be read or is not of its types (truncated, edited, not ours); the message names the file."""


def read_summary(backend: Backend, name: str) -> Summary | None:
    """A build's summary.json, or None when it has none; one that cannot be read, or whose fields are
    not of their types (``documents.parse_summary``), is a ``BrokenBuildError`` naming the file and the
    way out (``finish`` writes it again)."""
    key = keys.summary(name)
    try:
        blob = backend.store.get_bytes(key)
    except KeyError:
        return None
    try:
        doc = parse_summary(blob)
    except ValueError as exc:
        where = location(backend.store, key)
        raise BrokenBuildError(
            f"{where} cannot be read ({type(exc).__name__}: {str(exc)[:100]}); delete {where} and run "
            f"`lamforest finish {name}` to write it again from the groves"
        ) from None
    return doc


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
    feature_names: list[str] | None = None  # the columns' names, when the data had real ones
    weighted: bool = False  # the train set carries per-row sample weights
    # Sharded data: the source, rows per shard, train rows per shard, the grove sample's size
    # (``driver.sharded``); None for a train set stored whole.
    sharded: dict[str, Any] | None = None
    # Target columns: above 1, ``classes`` holds one list per output (multi-output y).
    outputs: int = 1
    # The held-out rows' file, as stored: predict and finish score only that file (None: older builds).
    test_sha256: str | None = None

    @property
    def class_arrays(self) -> Any:
        """The classes as ``forest.Votes`` takes them: an array, a list of arrays (one per output), or
        None (regression)."""
        if self.task != "classification":
            return None
        if self.outputs > 1:
            return [np.asarray(c) for c in self.classes or []]
        return np.asarray(self.classes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["spec"] = self.spec.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Plan:
        return cls(**{**d, "spec": BuildSpec.from_dict(d["spec"])})

    def events(self, n_jobs: int = 1) -> list[FitEvent]:
        """One fit event per grove, in grove order; on sharded data each names the shards it reads
        (a seeded subset, by the grove's seed, whole shards up to the plan's rows per grove)."""
        s = self.spec
        sampled: dict[str, Any] = {}
        if self.sharded is not None:
            train, cap = self.sharded["train_rows"], self.sharded["rows_per_grove"]
            sampled = {"test_size": s.test_size, "split_seed": s.seed, "classes": self.classes}
        sizes = s.grove_sizes()
        firsts = np.cumsum([0, *sizes[:-1]]).tolist()
        # Trees are seeded by the forest's seed and their index (FitEvent.first); the per-grove seeds
        # only pick a sharded grove's sample of shards.
        return [
            FitEvent(
                build=s.name,
                grove=i,
                seed=s.seed,
                trees=trees,
                data=self.data_ref,
                model=s.model,
                task=self.task,
                params=s.params,
                chunk=s.chunk,
                n_jobs=n_jobs,
                first=int(first),
                **({**sampled, "shards": grove_shards(sample_seed, train, cap)} if sampled else {}),
            )
            for i, (trees, first, sample_seed) in enumerate(zip(sizes, firsts, s.grove_seeds(), strict=True))
        ]


def validate(spec: BuildSpec, dataset: datamod.Dataset | None = None) -> BuildSpec:
    """Validate the spec and its params (with scikit-learn's own validation) without writing; once
    (``spec.checked``): a spec validated before, by ``make_spec`` or here, is not checked again."""
    spec = checked(spec)
    if dataset is not None and dataset.task != spec.task:
        check_params(spec.model, dataset.task, spec.params)
    return spec


def _taken(name: str, why: str = "", what: str = "build") -> SpecError:
    return SpecError("name", f"a {what} named {name!r} already exists{why}; pick another name")


def name_taken(backend: Backend, name: str) -> SpecError | None:
    """Why ``name`` cannot be created now (a build, a search, or files of one), or None; nothing is written.
    For a check ahead of a later create (which still takes the name exclusively)."""
    return _existing(backend, name)


def _existing(backend: Backend, name: str) -> SpecError | None:
    if backend.store.exists(keys.spec(name)):
        return _taken(name)
    if backend.store.exists(keys.search(name)):
        return _taken(name, what="search")
    # Files of an earlier build whose spec was lost (and which predates claims): a new build must not adopt
    # its groves or model, so the name stays taken until someone deletes them.
    # Local logs are not a build's data (a refused create's workers may still append to them).
    # Nor are a refused or interrupted sharded create's job records (scan-<id>, never read again).
    shard_jobs = keys.shard_job(name, "")
    left = [
        k
        for k in backend.store.list(keys.build(name))
        if k != keys.claim(name) and not keys.is_lambda_log(k) and not k.startswith(shard_jobs)
    ]
    if left and not backend.store.exists(keys.claim(name)):
        return _taken(
            name,
            f" (it has no spec but holds {len(left)} file(s), e.g. {min(left)}; they are not adopted: "
            f"delete {location(backend.store, keys.build(name))} if it is not wanted)",
        )
    return None


@contextmanager
def claimed(backend: Backend, name: str, *, written: tuple[str, ...] = ()) -> Iterator[None]:
    """Take the name ``name`` for a build or search being created, exclusively, or raise ``SpecError("name")``.

    Builds and searches share names. The claim is one conditional create
    (``Store.create``): of two creators racing for a name, on any hosts,
    exactly one wins. If the body raises (bad data, Ctrl+C), the claim and the
    build's own ``written`` keys are removed, so the name stays free and
    nothing of the build is left (a content-addressed train set stays: other
    builds may share it). A claim without ``spec.json``/``search.json`` is a
    creation in progress, or one whose process stopped: the name stays taken.
    """
    store = backend.store
    taken = _existing(backend, name)
    if taken:
        raise taken
    mine = documents.name_claim(name=name, at=time.time(), host=platform.node(), pid=os.getpid())
    if not documents.create_name_claim(store, mine):
        folder = location(store, keys.build(name))
        raise _existing(backend, name) or _taken(
            name,
            f" (being created, or its creator stopped before writing its spec: "
            f"`lamforest status {name}` says which; delete {folder} if no one is creating it)",
        )
    try:
        yield
    except BaseException:
        for key in (*written, keys.claim(name)):
            store.delete(key)
        raise


# Told the train set's rows and features once the data is loaded, split and checked, before it is stored.
OnSplit = Callable[[int, int], None]


def create(backend: Backend, spec: BuildSpec, on_split: OnSplit | None = None) -> Plan:
    """Validate everything, take the name, then store the train set, the test set and ``spec.json``.

    Nothing is written unless the cheap checks passed; if loading the data or
    anything after fails, the name is given back and the build leaves nothing.
    """
    spec = validate(spec)
    with claimed(backend, spec.name, written=(keys.test_set(spec.name),)):
        ds = datamod.load(spec.data, spec.target, spec.task, spec.seed, weight=spec.weight)
        return _store(backend, spec, ds, on_split)


def create_from_arrays(
    backend: Backend,
    spec: BuildSpec,
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None = None,
    feature_names: list[str] | None = None,
) -> Plan:
    """Create a build that trains on every row of ``X``, ``y`` (no held-out set).

    ``spec.data`` only describes where the rows came from; ``spec.test_size``
    is taken as 0. ``spec.task`` should be given (``auto`` guesses as for a
    file). ``feature_names`` are recorded in the plan when the rows had real
    column names. Nothing is written unless every check passed.
    """
    spec = validate(replace(spec, test_size=0.0))
    ds = _arrays_dataset(X, y, sample_weight, feature_names, spec.task, spec.data)
    with claimed(backend, spec.name):
        return _store(backend, spec, ds)


def _arrays_dataset(
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    feature_names: list[str] | None,
    task: str,
    source: str,
) -> datamod.Dataset:
    X = X if datamod.is_sparse(X) else np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2:
        raise SpecError("data", f"X must be 2-D (rows x features), got shape {X.shape}")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim not in (1, 2) or y.shape[-1] == 0:
        raise SpecError("target", f"y must be 1-D, or 2-D with one column per output, got shape {y.shape}")
    names = [str(n) for n in feature_names] if feature_names is not None else None
    if names is not None and len(names) != X.shape[1]:
        raise SpecError("data", f"{len(names)} feature names for {X.shape[1]} columns")
    ds = datamod.from_arrays(X, y, names, task, source)
    if sample_weight is not None:
        ds.weight = weights.check_weight(sample_weight, X.shape[0])
    return ds


def train_ref(
    X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None, feature_names: list[str] | None, task: str
) -> str:
    """The ref ``create_from_arrays`` would store these rows under (every row trains: no split)."""
    ds = _arrays_dataset(X, y, sample_weight, feature_names, task, "arrays")
    X_tr, _, y_tr, _, w_tr = datamod.split_weighted(ds, 0.0, 0)
    X_tr = X_tr if datamod.is_sparse(X_tr) else np.ascontiguousarray(X_tr, dtype=np.float32)
    return keys.data_ref(datamod.content_hash(X_tr, y_tr, w_tr))


def _store(backend: Backend, spec: BuildSpec, ds: datamod.Dataset, on_split: OnSplit | None = None) -> Plan:
    """Split once, then store the train set, the test set (if any) and ``spec.json``, in that order."""
    if ds.task != spec.task:  # ``auto`` until the data said: the params, checked for either, now for this one
        make_estimator(spec.model, ds.task, spec.params)
    X_tr, X_te, y_tr, y_te, w_tr = datamod.split_weighted(ds, spec.test_size, spec.seed)
    preflight(spec.model, ds.task, spec.params, X_tr, y_tr, spec.seed)
    if on_split is not None:
        on_split(int(X_tr.shape[0]), int(X_tr.shape[1]))
    ref = datamod.put_train(backend.store, X_tr, y_tr, ds.task, ds.feature_names, w_tr)
    test_sha256 = datamod.put_test(backend.store, spec.name, X_te, y_te) if X_te.shape[0] else None
    outputs = int(y_tr.shape[1]) if y_tr.ndim == 2 else 1
    classes: list[Any] | None = None
    if ds.task == "classification":
        classes = [np.unique(y_tr[:, k]).tolist() for k in range(outputs)] if outputs > 1 else np.unique(y_tr).tolist()
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
        feature_names=list(ds.feature_names) if ds.named else None,
        weighted=w_tr is not None,
        outputs=outputs,
        test_sha256=test_sha256,
    )
    put_json(backend.store, keys.spec(spec.name), plan.to_dict())
    return plan


PREFLIGHT_ROWS = 200


def preflight(model: str, task: str, params: dict[str, Any], X: np.ndarray, y: np.ndarray, seed: int) -> None:
    """Fit one tree with the build's exact parameters on a small sample of the train set.

    scikit-learn checks some parameters only when it fits (``bootstrap=False`` with
    ``max_samples``, a ``class_weight`` naming an absent class, ``monotonic_cst`` on a
    multiclass task). Without this, each would fail in every grove, each failure billed
    and retried; here it is bad input, naming the parameter, before anything is
    written or dispatched. The sample keeps every class, so class checks see them all.
    """
    rows = preflight_rows(task, params, y, seed)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the one-tree fit's warnings are not the build's (its groves say them)
            est = make_estimator(model, task, keyed_like(params, y), n_estimators=1, random_state=seed, n_jobs=1)
            est.fit(X[rows], y[rows])
    except (ValueError, TypeError, OverflowError, MemoryError) as exc:  # an int too large for C, or to allocate
        raise SpecError(param_field(str(exc), params), str(exc)) from None


def preflight_rows(task: str, params: dict[str, Any], y: np.ndarray, seed: int) -> np.ndarray:
    """Indices of the preflight sample: one row of every class first, then random rows, in
    all ``PREFLIGHT_ROWS`` (more when an integer ``max_samples`` asks for more rows)."""
    n = len(y)
    want = PREFLIGHT_ROWS
    max_samples = params.get("max_samples")
    if isinstance(max_samples, int) and not isinstance(max_samples, bool):
        want = max(want, max_samples)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    if task == "classification":
        # One row of every class of every output.
        columns = y[order].reshape(n, -1).T
        head = order[np.unique(np.concatenate([np.unique(col, return_index=True)[1] for col in columns]))]
        rest = np.setdiff1d(order, head, assume_unique=True)
        order = np.concatenate([head, rng.permutation(rest)])
    return np.sort(order[: max(want, len(head) if task == "classification" else 0)])


def param_field(message: str, params: dict[str, Any]) -> str:
    """``param <name>`` for the parameter scikit-learn's message is about, or ``param``.

    Exact names win; then a name without its plural ``s`` (``max_sample``); then its first
    word (``monotonic`` in "Monotonicity constraints"). With one parameter given, it is
    that one.
    """
    text = message.lower()
    scored = []
    for key in params:
        k = key.lower()
        head = k.split("_")[0]
        score = 3 if k in text else 2 if k.rstrip("s") in text else 1 if len(head) >= 5 and head in text else 0
        if score:
            scored.append((score, key))
    if scored:
        return f"param {max(scored)[1]}"
    return f"param {next(iter(params))}" if len(params) == 1 else "param"


def _not_planned(backend: Backend, name: str) -> str:
    """Why a name has no plan: no such build, or one being created (claimed, its data still being loaded
    or its shards scanned), or whose creator stopped before its plan."""
    try:
        claim = documents.parse_name_claim(backend.store.get_bytes(keys.claim(name)))
    except KeyError:
        return f"no build named {name!r} in {backend.describe}"
    except ValueError:
        claim = None  # a claim all the same: the name is taken
    folder = location(backend.store, keys.build(name))
    who = f"pid {claim.get('pid')} on {claim.get('host')}" if claim is not None else "another process"
    if claim is not None and claim.get("host") == platform.node() and not records.pid_alive(int(claim["pid"])):
        return (
            f"build {name!r} was being created by {who}, which has ended before writing its plan; "
            f"delete {folder} to free the name"
        )
    return (
        f"build {name!r} is being created by {who} (its data is loaded or its shards scanned before it has a "
        f"plan); wait for it, or if that process is gone, delete {folder} to free the name"
    )


def load_plan(backend: Backend, name: str) -> Plan:
    validate_name(name)
    key = keys.spec(name)
    try:
        blob = backend.store.get_bytes(key)
    except KeyError:
        raise BuildError(_not_planned(backend, name)) from None
    try:
        plan = Plan.from_dict(json.loads(blob))
        plan.spec.validated()  # every range the spec was created within (a grove of 0 trees divides by zero)
        return plan
    except SpecError as exc:
        raise BrokenBuildError(
            f"{location(backend.store, key)} is corrupted (its {exc.field}: {exc.message}); "
            "restore it, or remove the build's folder to forget it"
        ) from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        where = location(backend.store, key)
        raise BrokenBuildError(
            f"{where} is corrupted ({type(exc).__name__}: {str(exc)[:200]}); "
            "restore it, or remove the build's folder to forget it"
        ) from None
