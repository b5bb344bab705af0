"""Create a build: validate everything, take the name, split the data once, store the train set and the spec.

Nothing is written unless the cheap checks passed; the name is then taken
with one exclusive create, and given back if anything after fails.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from lamforest import data as datamod
from lamforest import keys
from lamforest.backend.base import Backend
from lamforest.events import FitEvent
from lamforest.grove import make_estimator
from lamforest.spec import BuildSpec, SpecError, validate_name
from lamforest.store.base import get_json, put_json


class BuildError(RuntimeError):
    """A build cannot do what was asked (not found, not finished, ...)."""


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

    def events(self, n_jobs: int = 1) -> list[FitEvent]:
        """One fit event per grove, in grove order."""
        s = self.spec
        return [
            FitEvent(
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


def _taken(name: str, why: str = "", what: str = "build") -> SpecError:
    return SpecError("name", f"a {what} named {name!r} already exists{why}; pick another name")


def _existing(backend: Backend, name: str) -> SpecError | None:
    if backend.store.exists(keys.spec(name)):
        return _taken(name)
    if backend.store.exists(keys.search(name)):
        return _taken(name, what="search")
    # Files of an earlier build whose spec was lost (and which predates claims): a new build must not adopt
    # its groves or model, so the name stays taken until someone deletes them.
    left = [k for k in backend.store.list(keys.build(name)) if k != keys.claim(name)]
    if left and not backend.store.exists(keys.claim(name)):
        return _taken(
            name,
            f" (it has no spec but holds {len(left)} file(s), e.g. {min(left)}; they are not adopted: "
            f"delete {keys.build(name)} if it is not wanted)",
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
    mine = json.dumps({"name": name, "at": time.time(), "host": platform.node(), "pid": os.getpid()}).encode()
    if not store.create(keys.claim(name), mine):
        raise _existing(backend, name) or _taken(
            name,
            f" (being created, or its creator stopped before writing its spec: "
            f"delete {keys.claim(name)} if no one is creating it)",
        )
    try:
        yield
    except BaseException:
        for key in (*written, keys.claim(name)):
            store.delete(key)
        raise


def create(backend: Backend, spec: BuildSpec) -> Plan:
    """Validate everything, take the name, then store the train set, the test set and ``spec.json``.

    Nothing is written unless the cheap checks passed; if loading the data or
    anything after fails, the name is given back and the build leaves nothing.
    """
    spec = validate(spec)
    with claimed(backend, spec.name, written=(keys.test_set(spec.name),)):
        return _create(backend, spec)


def _create(backend: Backend, spec: BuildSpec) -> Plan:
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
    put_json(backend.store, keys.spec(spec.name), plan.to_dict())
    return plan


def load_plan(backend: Backend, name: str) -> Plan:
    validate_name(name)
    try:
        return Plan.from_dict(get_json(backend.store, keys.spec(name)))
    except KeyError:
        raise BuildError(f"no build named {name!r} in {backend.describe}") from None
