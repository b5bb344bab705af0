"""Write builds into a store as the driver and the local workers would, with values you choose.

For the TUI's snapshot tests and its benchmark: real ``spec.json``, state
records and Lambda-format ``START``/``END``/``REPORT`` lines in the local
log, written through the core's store and log writers, so the app reads
them with the real ``Watcher``. Nothing here is mocked; only the times,
request ids and durations are fixed, so screens look the same on every run.
"""

from __future__ import annotations

import uuid
from functools import cache
from pathlib import Path
from typing import Any

from lamforest import documents, keys, records
from lamforest.driver import Plan
from lamforest.logs import append_lines, format_end, format_report, format_start
from lamforest.spec import BuildSpec
from lamforest.store.base import Store, put_json

FIXED_CREATED = 1_767_225_600.0  # 2026-01-01 00:00 UTC
FAKE_DATA_REF = keys.data_ref("0" * 64)


def request_id(build: str, grove: int, attempt: int = 1) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"lamforest:{build}:{grove}:{attempt}"))


def write_plan(
    store: Store,
    name: str,
    *,
    trees: int = 40,
    grove: int = 5,
    created: float = FIXED_CREATED,
    data: str = "digits",
    memory: int = 1769,
    classes: int = 10,
) -> Plan:
    spec = BuildSpec(name=name, data=data, trees=trees, grove=grove, memory=memory).validated()
    plan = Plan(
        spec=spec,
        task="classification",
        data_ref=FAKE_DATA_REF,
        n_train=1347,
        n_test=450,
        n_features=64,
        classes=list(range(classes)),
        created=created,
        backend="local",
    )
    put_json(store, keys.spec(name), plan.to_dict())
    return plan


@cache
def _seeds(seed: int, trees: int, grove: int) -> tuple[int, ...]:
    # BuildSpec.grove_seeds is O(groves) per call: once per build here.
    return tuple(BuildSpec(name="x", seed=seed, trees=trees, grove=grove).grove_seeds())


def _log(store: Store, name: str, lines: list[str]) -> None:
    path = store.local_path(keys.lambda_log(name))
    assert path is not None, "the local log format lives in a local store"
    append_lines(Path(path), lines)


def write_grove(
    store: Store,
    plan: Plan,
    grove: int,
    state: str,
    *,
    started: float,
    duration_s: float = 0.05,
    init_ms: float | None = None,
    attempt: int = 1,
    max_memory_mb: int = 99,
    log: bool = True,
) -> None:
    """One grove's record (``running``, ``done`` or ``failed``) and, with ``log``, its local log lines."""
    name = plan.spec.name
    rid = request_id(name, grove, attempt)
    trees = plan.spec.grove if grove < plan.spec.n_groves - 1 else plan.spec.grove_sizes()[-1]
    seed = _seeds(plan.spec.seed, plan.spec.trees, plan.spec.grove)[grove]
    base: dict[str, Any] = {
        "grove": grove,
        "trees": trees,
        "seed": seed,
        "attempt": attempt,
        "request_id": rid,
        "started": started,
    }
    gid = keys.grove_id(grove)
    if state == "running":
        if log:
            _log(store, name, [format_start(rid)])
        records.write_grove(store, name, gid, records.grove_record("running", **base))
        return
    ended = started + duration_s
    if state == "done":
        record = records.done_record(
            **base,
            ended=ended,
            fit_ms=round(duration_s * 900, 2),
            load_ms=1.0,
            write_ms=2.0,
            bytes=250_000,
            max_memory_mb=max_memory_mb,
            n_jobs=1,
        )
    elif state == "failed":
        record = records.failed_record(**base, ended=ended, error="MemoryError", message="grove did not fit in memory")
    else:
        record = records.grove_record(state, **base, ended=ended)
    records.write_grove(store, name, gid, record)
    status = None if state == "done" else "error"
    if not log:
        return
    _log(
        store,
        name,
        [
            format_end(rid),
            format_report(rid, duration_s * 1000, plan.spec.memory, max_memory_mb, init_ms, status),
        ],
    )


def write_summary(
    store: Store,
    plan: Plan,
    *,
    wall_s: float,
    test_score: float = 0.9644,
    billed_ms: float = 0.0,
    cost_usd: float = 0.0,
) -> None:
    summary = documents.done_summary(
        test_score=test_score,
        metric="accuracy",
        oob_score=None,
        trees=plan.spec.trees,
        groves=plan.spec.n_groves,
        merge_s=0.001,
        wall_s=wall_s,
        billed_ms=billed_ms,
        cost_usd=cost_usd,
        cost_is_estimate=True,
        failures=[],
        finished=plan.created + wall_s,
    )
    documents.write_summary(store, plan.spec.name, summary)


def write_finished_build(
    store: Store,
    name: str,
    *,
    groves: int = 8,
    grove: int = 5,
    created: float = FIXED_CREATED,
    workers: int = 2,
    log: bool = True,
) -> Plan:
    """A done build: ``groves`` groves run two at a time with fixed, varied durations (``log``: and
    their local log lines; a bucket has no local log, so pass False for an S3 store)."""
    plan = write_plan(store, name, trees=groves * grove, grove=grove, created=created)
    clock = [created + 2.0] * workers
    for g in range(groves):
        w = g % workers
        duration = 0.04 + 0.013 * ((g * 7) % 5)
        init = 2056.04 if g < workers else None
        if log:
            write_grove(store, plan, g, "running", started=clock[w])
        write_grove(store, plan, g, "done", started=clock[w], duration_s=duration, init_ms=init, log=log)
        clock[w] += duration + 0.005
    write_summary(store, plan, wall_s=max(clock) - created)
    return plan


def write_driver(store: Store, name: str, gen: int, *, at: float, renewed: float, released: bool = False) -> None:
    """Generation ``gen`` took the build at ``at``; its lease, last renewed at ``renewed`` (and released, or not),
    becomes the build's lease (a later generation's overwrites it, as in the store)."""
    lease = documents.lease(renewed=renewed, renew_s=5.0, gen=gen, host="elsewhere", pid=4242, released=released)
    # As a driver takes a build: one exclusive create (a generation written again keeps its first claim).
    documents.create_driver_claim(store, name, gen, documents.driver_claim(lease, at=at))
    documents.write_lease(store, name, lease)
