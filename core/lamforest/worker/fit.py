"""A ``fit`` event: one grove of a build.

1. stop at once if the build's ``CANCEL`` marker exists;
2. load the train set (and its sample weights), cached for the life of the execution environment;
3. fit the grove in chunks of trees, checking ``CANCEL`` between chunks;
4. write the grove, then the ``done`` record.
"""

from __future__ import annotations

import json
import time
from typing import Any, cast

from lamforest import artifacts, fitwarnings, keys, records, shards
from lamforest.events import FitEvent
from lamforest.forest import tree_bytes
from lamforest.grove import Cancelled, fit
from lamforest.memory import peak_mb as peak_memory_mb
from lamforest.spec import BuildSpec
from lamforest.store.base import Store
from lamforest.worker.env import load_train
from lamforest.worker.shardjob import load_sample


class EventNotPlanned(ValueError):
    """A fit event its build's plan does not contain: nothing is fitted, nothing is written."""


def check_planned(event: FitEvent, store: Store) -> None:
    """Refuse a fit event that is not one of its build's planned groves: a grove index outside
    the plan, or a grove whose trees, seed, data, model, task, parameters or shards differ from
    the plan's (a forged or stale message). An event of a job without a plan (tune-memory) passes."""
    try:
        blob = store.get_bytes(keys.spec(event.build))
    except KeyError:
        return
    try:
        plan = json.loads(blob)
        spec = BuildSpec.from_dict(plan["spec"])
        sizes, seeds = spec.grove_sizes(), spec.grove_seeds()
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise EventNotPlanned(
            f"build {event.build}: its plan cannot be read ({type(exc).__name__}); not fitted"
        ) from None
    if not 0 <= event.grove < len(sizes):
        raise EventNotPlanned(
            f"build {event.build} has groves 0 to {len(sizes) - 1}; the event names grove {event.grove}: not fitted"
        )
    i = event.grove
    want: dict[str, Any] = {
        "trees": sizes[i],
        "seed": spec.seed,
        "first": sum(sizes[:i]),
        "data": plan.get("data_ref"),
        "model": spec.model,
        "task": plan.get("task"),
        "params": spec.params,
    }
    sharded = plan.get("sharded")
    if isinstance(sharded, dict):
        want["shards"] = shards.grove_shards(seeds[i], sharded["train_rows"], sharded["rows_per_grove"])
    for field, value in want.items():
        if getattr(event, field) != value:
            raise EventNotPlanned(
                f"build {event.build}, grove {i}: the event's {field} is not the plan's; not fitted (a forged or "
                "stale message)"
            )


def run_fit(event: FitEvent, store: Store, request_id: str) -> records.GroveRecord:
    """Run one grove to a terminal record; return that record."""
    build, gid = event.build, event.gid
    check_planned(event, store)
    cancel_key = keys.cancel(build)
    base: dict[str, Any] = {
        "grove": event.grove,
        "trees": event.trees,
        "seed": event.seed,
        "attempt": event.attempt,
        "request_id": request_id,
    }
    if records.grove_done(store, build, gid):
        # At-least-once delivery: a duplicate of a grove already done does nothing.
        return cast(records.GroveRecord, {**base, "state": "done", "duplicate": True})  # returned, not written
    if store.exists(cancel_key):
        record = records.grove_record("cancelled", **base, trees_fitted=0)
        records.write_grove(store, build, gid, record)
        return record
    started = time.time()
    t0 = time.perf_counter()
    try:
        # Inside the try: a store that cannot take even the running record (a full disk)
        # still ends in a failed record, if that one fits.
        records.write_grove(store, build, gid, records.grove_record("running", **base, started=started))
        sharded = event.shards is not None
        X, y, w = load_sample(store, event) if sharded else load_train(store, event.data)
        t_load = time.perf_counter()
        # Kept in the record, not printed here: the caller raises each once, as warnings it can filter.
        with fitwarnings.recorded() as caught:
            grove = fit(event, X, y, should_stop=lambda: store.exists(cancel_key), sample_weight=w, oob=not sharded)
        rows = int(X.shape[0])
        del X, y, w
        t_fit = time.perf_counter()
        blob = artifacts.dumps_grove(grove)
        store.put_bytes(keys.grove(build, gid), blob)
        t_write = time.perf_counter()
        record = records.done_record(
            **base,
            started=started,
            load_ms=round((t_load - t0) * 1000, 2),
            fit_ms=round((t_fit - t_load) * 1000, 2),
            write_ms=round((t_write - t_fit) * 1000, 2),
            bytes=len(blob),
            sha256=artifacts.digest(blob),
            max_memory_mb=peak_memory_mb(),
            n_jobs=event.n_jobs,
            rows=rows,
            # What the manifest lists: finish of a grove set need not decode the grove to know them.
            tree_bytes=tree_bytes(grove.estimator),
            estimator=type(grove.estimator).__name__,
            warnings=records.warning_list(caught) if caught else None,
        )
    except Cancelled as exc:
        record = records.grove_record("cancelled", **base, started=started, message=str(exc))
    except Exception as exc:
        record = records.grove_record("failed", **base, started=started, **records.error_fields(exc))
    try:
        records.write_grove(store, build, gid, record)
    except Exception as exc:
        if record["state"] == "done":
            # The grove is whole but its record is not: say so in a failed record.
            record = records.grove_record("failed", **base, started=started, **records.error_fields(exc))
        record = write_last_resort(store, build, gid, base, started, record, exc)
    return record


def write_last_resort(
    store: Store,
    build: str,
    gid: str,
    base: dict[str, Any],
    started: float,
    record: records.GroveRecord,
    exc: Exception,
) -> records.GroveRecord:
    """The terminal record could not be written: write a short failed one and return it, or raise.

    A full disk may still take a few hundred bytes where a traceback did not fit. When
    nothing can be written the error is raised, and the ``running`` record is left as
    it is: whoever ran the handler records the grove over it (the local pool), or, on
    Lambda, the driver counts the attempt lost once the record outlives the function's
    timeout and sends the grove again. Either way the driver does not wait for ever.
    """
    # The grove's own error when it failed, else why its record could not be written.
    failed = record["state"] == "failed"
    short = records.failed_record(
        **base,
        started=started,
        error=record["error"] if failed else type(exc).__name__,
        message=(record["message"] if failed else str(exc))[:500],
    )
    try:
        records.write_grove(store, build, gid, short)
    except Exception:
        raise GroveNotRecorded(f"grove {gid} of {build}: cannot write its record: {exc}") from exc
    return short


class GroveNotRecorded(RuntimeError):
    """Neither the grove's terminal record nor a short failed one could be written."""
