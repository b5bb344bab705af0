"""A ``search`` event: fit one whole forest with a trial's params and score it on the validation rows."""

from __future__ import annotations

import time
from typing import cast

from lamforest import forest, keys, records
from lamforest.events import SearchEvent
from lamforest.grove import fit
from lamforest.memory import peak_mb as peak_memory_mb
from lamforest.store.base import Store
from lamforest.worker.env import load_train


def run_trial(event: SearchEvent, store: Store, request_id: str) -> records.JobRecord:
    pre = keys.trials(event.build)
    base = {
        "trial": event.trial,
        "params": event.params,
        "trees": event.trees,
        "request_id": request_id,
        "n_jobs": event.n_jobs,
    }
    if records.job_done(store, pre, event.gid):
        return cast(records.JobRecord, {**base, "state": "done", "duplicate": True})  # returned, not written
    started = time.time()
    t0 = time.perf_counter()
    try:
        X, y, w = load_train(store, event.data)
        Xv, yv, _ = load_train(store, event.valid)
        grove = fit(event, X, y, sample_weight=w)
        t_fit = time.perf_counter()
        score = forest.score(grove.estimator, Xv, yv)
        record = records.job_record(
            "done",
            **base,
            score=score,
            metric=forest.metric_name(grove.estimator),
            started=started,
            ended=time.time(),
            fit_ms=round((t_fit - t0) * 1000, 2),
            score_ms=round((time.perf_counter() - t_fit) * 1000, 2),
            max_memory_mb=peak_memory_mb(),
        )
    except Exception as exc:
        record = records.job_record("failed", **base, **records.error_fields(exc), started=started, ended=time.time())
    records.write_job(store, pre, event.gid, record)
    return record
