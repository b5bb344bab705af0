"""Distributed predict: the rows stored once, one event per batch of groves, the driver sums the votes.

For forests too large for one machine's memory: no process ever holds more
than ``batch`` groves. A worker loads its groves from the store, sums its
trees' ``predict_proba`` (classifier) or ``predict`` (regressor) in tree
order, as scikit-learn's forest does, and writes the sum and the tree count:

    builds/<name>/predict/<id>/job.json            what was asked
    builds/<name>/predict/<id>/votes/<gid>.npy     a batch's vote sums (deleted once summed)
    builds/<name>/predict/<id>/done/<gid>.json     its record: trees, request id, timings
    builds/<name>/predict/<id>/failed/<gid>.json   or why it failed
    builds/<name>/predict/<id>/result.json         rows, wall time, cost

The driver adds the batches in grove order and divides by the tree count.
scikit-learn adds every tree into one running sum; here each batch has its
own running sum, so the two differ only by float64 rounding of the order of
additions (a few ulps: < 1e-15 on probabilities), and not at all when each
tree's votes are 0/1 (fully grown classification trees).
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lamforest import data as datamod
from lamforest import keys, memory
from lamforest.backend.base import Backend, Event
from lamforest.cost import total_usd
from lamforest.driver.jobs import JobTimeout, reports_for, wait_records
from lamforest.driver.plan import BuildError, load_plan
from lamforest.driver.results import Prediction, from_values, rows_to_predict
from lamforest.driver.watch import status
from lamforest.events import PredictEvent
from lamforest.spec import SpecError, as_int
from lamforest.store.base import put_json

DEFAULT_TIMEOUT_S = 900.0


@dataclass
class DistributedPrediction:
    """The result of a distributed predict: the usual Prediction plus how it was computed."""

    prediction: Prediction
    values: np.ndarray  # probabilities (classifier) or predictions (regressor)
    predict_id: str
    invocations: int
    trees: int
    wall_s: float
    cost_usd: float
    cost_estimate: bool
    reports: int
    worker_peak_mb: float = 0.0  # the largest Max Memory Used of the predict invocations

    @property
    def rows_per_s(self) -> float:
        return self.prediction.rows / self.wall_s if self.wall_s > 0 else float("inf")

    def to_json(self) -> dict[str, Any]:
        return {
            **self.prediction.to_json(),
            "distributed": True,
            "predict_id": self.predict_id,
            "invocations": self.invocations,
            "trees": self.trees,
            "wall_s": round(self.wall_s, 4),
            "rows_per_s": round(self.rows_per_s, 1),
            "cost_usd": self.cost_usd,
            "cost_is_estimate": self.cost_estimate,
            "reports": self.reports,
            "worker_peak_mb": self.worker_peak_mb,
        }


def predict_distributed(
    backend: Backend,
    name: str,
    source: str | None = None,
    *,
    batch_groves: int = 1,
    workers: int | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    poll_s: float = 0.05,
    on_progress: Callable[[int, int], None] | None = None,
) -> DistributedPrediction:
    """Predict ``source`` (default: the held-out test set; rows with or without the target) with a
    finished build, one event per batch of groves.

    Bad input raises SpecError naming the field before anything is written.
    """
    batch = as_int("batch_groves", batch_groves, 1)
    try:
        plan = load_plan(backend, name)
    except BuildError as exc:
        raise SpecError("name", str(exc)) from None
    st = status(backend, name)
    if st.state != "done":
        raise BuildError(f"build {name!r} is {st.state}; distributed predict needs a finished build")
    exact = memory.reset_peak()
    X, y, where = rows_to_predict(backend, name, plan, source)
    if datamod.is_sparse(X):  # the workers read the rows as one dense .npy
        raise SpecError("distributed", f"{where}: sparse rows are predicted without --distributed")
    t0 = time.perf_counter()
    ref = datamod.put_input(backend.store, X)
    pid = f"p{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
    pre = keys.predict_job(name, pid)
    spec = plan.spec
    tasks = [
        PredictEvent(build=name, job=pid, input=ref, grove=g, batch=min(batch, spec.n_groves - g))
        for g in range(0, spec.n_groves, batch)
    ]
    put_json(
        backend.store,
        keys.job_spec(pre),
        {
            "build": name,
            "input": ref,
            "rows": int(X.shape[0]),
            "batch_groves": batch,
            "events": len(tasks),
            "source": where,
            "created": time.time(),
        },
    )
    compute = backend.make_compute(spec, workers, False)
    compute.submit(list[Event](tasks))
    try:
        done, failed = wait_records(
            backend.store, pre, [t.gid for t in tasks], timeout_s=timeout_s, poll_s=poll_s, on_progress=on_progress
        )
    except JobTimeout as exc:
        raise BuildError(f"distributed predict {pid} of {name!r}: {exc}") from None
    if failed:
        first = next(iter(failed.values()))
        raise BuildError(
            f"distributed predict {pid} of {name!r}: {len(failed)} batch(es) failed; grove "
            f"{first.get('grove')}: {first.get('error')}: {first.get('message')}"
        )
    total: np.ndarray | None = None
    for t in tasks:  # grove order
        key = keys.job_votes(pre, t.gid)
        votes = np.load(io.BytesIO(backend.store.get_bytes(key)), allow_pickle=False)
        total = votes if total is None else total + votes
        backend.store.delete(key)
    trees = sum(int(r["trees"]) for r in done.values())
    if trees != spec.trees:
        raise BuildError(f"distributed predict {pid}: {trees} trees voted, the forest has {spec.trees}")
    if total is None:
        raise BuildError(f"distributed predict {pid}: no batch to sum")
    values = total / trees
    classes = plan.class_arrays
    wall = time.perf_counter() - t0
    pred = from_values(values, y, classes, where)
    pred.driver_peak_mb = memory.peak_mb() if exact else None
    rids = {rid for r in done.values() if (rid := r.get("request_id"))}
    reports = reports_for(backend, name, "predict", rids)
    out = DistributedPrediction(
        prediction=pred,
        values=values,
        predict_id=pid,
        invocations=len(tasks),
        trees=trees,
        wall_s=wall,
        cost_usd=total_usd(reports.values(), backend.price_arch(spec.arch)),
        cost_estimate=backend.estimate,
        reports=len(reports),
        worker_peak_mb=max((r.max_memory_mb for r in reports.values()), default=0.0),
    )
    result = {k: v for k, v in out.to_json().items() if k not in ("predictions", "confusion")}
    put_json(backend.store, keys.job_result(pre), result)
    return out
