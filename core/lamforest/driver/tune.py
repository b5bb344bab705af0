"""``tune-memory``: fit one grove at several memory sizes, several runs each, and price each size.

Like aws-lambda-power-tuning: for each memory size the same grove (same
seed, same train set) is fitted ``runs`` times, one invocation at a time;
runs slower than 1.5x the median (a cold start, a noisy neighbour) are
dropped, and the rest averaged. Lambda gives CPU in proportion to memory
(1,769 MB = 1 vCPU, up to 6 at 10,240 MB), so each run sets ``n_jobs`` to the
vCPUs of its size.

On AWS the function's memory is changed (UpdateFunctionConfiguration) for
each size, runs are synchronous invokes, and the original size is restored.
Where the backend cannot set the function's memory (the local backend) it is
a **simulation**: the worker process is labelled with the memory size and
given the matching ``n_jobs``, but local memory settings do not change this machine's CPU, so durations mostly reflect
``n_jobs`` against the local cores; the prices are Lambda's for those
durations.
"""

from __future__ import annotations

import statistics
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from lamforest import data as datamod
from lamforest import keys
from lamforest.backend.base import Backend
from lamforest.cost import price, vcpus
from lamforest.events import FitEvent
from lamforest.logs import Report, parse_report
from lamforest.spec import MEMORY_MAX_MB, MEMORY_MIN_MB, MODELS, BuildSpec, SpecError, as_int, choice
from lamforest.store.base import get_json, put_json

DEFAULT_MEMORY = (512, 1024, 1769, 3008)
OUTLIER_FACTOR = 1.5


def parse_memory(value: str | list[int] | tuple[int, ...]) -> list[int]:
    """``512,1024,1769`` -> [512, 1024, 1769]; SpecError("memory") naming the bad size."""
    items = value.split(",") if isinstance(value, str) else list(value)
    sizes = [
        as_int("memory", str(v).strip() if isinstance(v, str) else v, MEMORY_MIN_MB, MEMORY_MAX_MB)
        for v in items
        if str(v).strip()
    ]
    if not sizes:
        raise SpecError("memory", f"give at least one size in MB, {MEMORY_MIN_MB}-{MEMORY_MAX_MB}")
    if len(set(sizes)) != len(sizes):
        raise SpecError("memory", f"a size is repeated in {sizes}")
    return sizes


@dataclass
class MemoryRow:
    memory_mb: int
    vcpus: int
    n_jobs: int
    durations_ms: list[float]
    kept_ms: list[float]
    mean_ms: float
    billed_ms: float
    cost_usd: float  # per grove (one invocation)

    @property
    def dropped(self) -> int:
        return len(self.durations_ms) - len(self.kept_ms)


@dataclass
class TuneResult:
    name: str
    backend: str
    simulated: bool
    trees_per_grove: int
    runs: int
    rows: list[MemoryRow]
    arch: str = "x86_64"
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cheapest(self) -> MemoryRow:
        return min(self.rows, key=lambda r: (r.cost_usd, r.mean_ms))

    @property
    def fastest(self) -> MemoryRow:
        return min(self.rows, key=lambda r: (r.mean_ms, r.cost_usd))

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "cheapest": self.cheapest.memory_mb, "fastest": self.fastest.memory_mb}


def drop_outliers(durations: list[float]) -> list[float]:
    """Runs slower than ``OUTLIER_FACTOR`` x the median are dropped (never all of them)."""
    med = statistics.median(durations)
    kept = [d for d in durations if d <= OUTLIER_FACTOR * med]
    return kept or durations


def _wait_grove(backend: Backend, name: str, gid: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        for st in ("done", "failed"):
            if backend.store.exists(keys.state(name, gid, st)):
                rec = get_json(backend.store, keys.state(name, gid, st))
                if st == "failed":
                    raise RuntimeError(f"tune run {gid} failed: {rec.get('error')}: {rec.get('message')}")
                return rec
        if time.monotonic() > deadline:
            raise TimeoutError(f"tune run {gid}: no record after {timeout_s:.0f} s")
        time.sleep(0.02)


def tune_memory(
    backend: Backend,
    *,
    data: str = "digits",
    target: str | None = None,
    trees_per_grove: int = 10,
    memory: str | list[int] | tuple[int, ...] = DEFAULT_MEMORY,
    runs: int = 3,
    model: str = "rf",
    seed: int = 0,
    timeout_s: float = 900.0,
) -> TuneResult:
    """Fit one grove ``runs`` times at each memory size; return durations, costs, cheapest and fastest."""
    sizes = parse_memory(memory)
    runs = as_int("runs", runs, 1, 20)
    trees = as_int("trees_per_grove", trees_per_grove, 1, 1000)
    model = choice("model", model, MODELS)
    ds = datamod.load(data, target, "auto", seed)  # SpecError("data") before anything is written
    X_tr, _, y_tr, _ = datamod.split(ds, 0.25, seed)
    name = f"tune-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    aws = backend.memory_tuner() if backend.memory_tuner else None
    ref = datamod.put_train(backend.store, X_tr, y_tr, ds.task, ds.feature_names)
    arch = backend.price_arch()
    gseed = BuildSpec(name=name, seed=seed).grove_seeds()[0]
    rids: dict[str, tuple[int, int]] = {}
    index = 0
    log = backend.log_source()
    reports: dict[str, Report] = {}
    try:
        for mem in sizes:
            if aws:
                aws.set(mem)
            compute = backend.make_compute(BuildSpec(name=name, memory=mem), 1, aws is not None)
            for _ in range(runs):
                task = FitEvent(
                    build=name,
                    grove=index,
                    seed=gseed,
                    trees=trees,
                    data=ref,
                    model=model,
                    task=ds.task,
                    chunk=trees,
                    n_jobs=vcpus(mem),
                )
                compute.submit([task])
                rec = _wait_grove(backend, name, task.gid, timeout_s)
                rids[rec["request_id"]] = (mem, index)
                index += 1
            for line in log.lines(name):
                rep = parse_report(line)
                if rep:
                    reports[rep.request_id] = rep
    finally:
        if aws:
            aws.restore()
    deadline = time.monotonic() + backend.report_wait_s
    while set(reports) < set(rids) and time.monotonic() < deadline:
        time.sleep(0.2)
        for line in log.lines(name):
            rep = parse_report(line)
            if rep:
                reports[rep.request_id] = rep
    missing = set(rids) - set(reports)
    if missing:
        raise RuntimeError(f"no REPORT line for {len(missing)} tune run(s); cannot price them")
    rows = []
    for mem in sizes:
        reps = [reports[rid] for rid, (m, _) in sorted(rids.items(), key=lambda kv: kv[1][1]) if m == mem]
        durations = [r.duration_ms for r in reps]
        kept = drop_outliers(durations)
        mean = statistics.fmean(kept)
        billed = float(int(mean) + 1)
        rows.append(
            MemoryRow(
                memory_mb=mem,
                vcpus=vcpus(mem),
                n_jobs=vcpus(mem),
                durations_ms=durations,
                kept_ms=kept,
                mean_ms=mean,
                billed_ms=billed,
                cost_usd=price(billed, mem, arch).usd,
            )
        )
    simulated = aws is None
    note = (
        (
            "SIMULATED on the local backend: local memory does not change this machine's CPU; n_jobs follows "
            "Lambda's vCPUs for each size, durations are measured here and priced as Lambda would"
        )
        if simulated
        else "measured on AWS Lambda: the function's memory was set for each size and restored"
    )
    result = TuneResult(
        name=name,
        backend=backend.name,
        simulated=simulated,
        trees_per_grove=trees,
        runs=runs,
        rows=rows,
        arch=arch,
        note=note,
    )
    for i in range(index):
        backend.store.delete(keys.grove(name, keys.grove_id(i)))
    put_json(backend.store, keys.tune(name), result.to_json())
    return result
