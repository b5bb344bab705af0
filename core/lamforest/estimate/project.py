"""Project a build before it runs: wall time (median and p10-p90), GB-seconds, cost, memory per worker.

The model extrapolates a ``Sample`` (one grove's work measured on this
machine, see ``lamforest.estimate.sample``) with named parameters (``ModelParams``;
each documents its default and where the default comes from):

* one grove's duration = its fit (per-tree time x ``cpu_scale``, spread over
  the vCPUs its memory size buys, in chunks as ``grove.fit`` does) + OOB sums
  + dump + upload + the S3 requests of its records; an environment's first
  invocation also pays the cold start (billed, as for container images) and
  the train-set download;
* a discrete event simulation runs the groves through dispatch (events leave
  the driver at ``dispatch_per_s``), Lambda's scaling rule (a bucket of
  ``scaling_burst`` new environments refilled at ``scaling_per_s``, as AWS
  describes it), the concurrency cap, and warm reuse of idle environments;
* the driver's part before (load, split, upload the train set) and after
  (wait for REPORT lines, fetch, merge, score, write the model) the fits.

The simulation is run ``runs`` times with stated noise (per-grove spread,
cold-start spread, and one systematic factor on ``cpu_scale`` per run); the
projection is the median and the p10-p90 range of those runs. Each simulated
invocation is billed as a REPORT line bills it (``cost.billed_ms``, init
included) and priced with ``cost.total_usd`` -- the same functions as a
finished build's bill.

``local_params`` turns the same model into one of the local pool (its worker
count, the measured local cold start, no download, instant dispatch), which
is how the model is checked against real builds.

The parameters are in ``params``, the simulation in ``simulate``, the
EC2 comparison in ``ec2``, fitting the parameters to past builds in ``calibrate``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lamforest import cost
from lamforest.estimate.params import ModelParams
from lamforest.estimate.sample import Sample, cached_sample
from lamforest.estimate.simulate import simulate
from lamforest.forest import DEFAULT_MERGE_LIMIT_MB, STREAM_PREFETCH
from lamforest.shards import scan_batch
from lamforest.spec import ARCHITECTURES, MEMORY_MAX_MB, MEMORY_MIN_MB, BuildSpec, SpecError

S3_REQUESTS_PER_GROVE = 6  # done? CANCEL? running PUT, grove PUT, done PUT, running DELETE; + one CANCEL check a chunk
GROVE_FETCH_THREADS = 8  # builds.finish fetches groves with 8 threads


# --------------------------------------------------------------------------- one grove


def speedup(threads: int, efficiency: float) -> float:
    """How much faster ``threads`` threads fit than one: 1 + (threads - 1) x efficiency."""
    return 1.0 + (max(1, threads) - 1) * efficiency


def cpu_layout(memory_mb: int, params: ModelParams) -> tuple[int, float]:
    """(threads, per-thread speed): n_jobs for the memory size, and the share of a core each thread gets."""
    if not params.cpu_from_memory:
        return max(1, params.n_jobs or 1), 1.0
    vcpus = max(1, min(params.max_vcpus, round(memory_mb / params.mb_per_vcpu)))
    threads = params.n_jobs or vcpus
    # Below one vCPU's worth of memory, a share of one; above, whole vCPUs (10,240 MB is 6).
    capacity = min(1.0, memory_mb / params.mb_per_vcpu) if vcpus == 1 else float(vcpus)
    return threads, min(1.0, capacity / threads)


def trees_time(trees: int, per_tree_s: float, chunk: int, threads: int, efficiency: float) -> float:
    """Seconds to fit ``trees`` in chunks of ``chunk`` on ``threads`` threads (full-speed threads).

    scikit-learn splits each chunk's trees over min(chunk, threads) jobs, so a chunk takes
    ceil(k / p) rounds of p trees side by side, each round p / speedup(p) tree-times.
    """
    total = 0.0
    left = trees
    while left > 0:
        k = min(chunk, left)
        p = min(k, threads)
        total += math.ceil(k / p) * per_tree_s * p / speedup(p, efficiency)
        left -= k
    return total


@dataclass(frozen=True)
class GroveCost:
    """One grove's parts, in seconds, before noise: ``cpu_s`` scales with cpu_scale, ``io_s`` does not."""

    trees: int
    cpu_s: float
    io_s: float
    cold_s: float  # cold start (billed INIT)
    download_s: float  # an environment's first invocation fetches the train set

    @property
    def warm_s(self) -> float:
        return self.cpu_s + self.io_s


def grove_cost(sample: Sample, trees: int, memory_mb: int, chunk: int, params: ModelParams) -> GroveCost:
    threads, speed = cpu_layout(memory_mb, params)
    fit = trees_time(trees, sample.fit_per_tree_s, chunk, threads, params.parallel_efficiency)
    serial = sample.fit_fixed_s + trees * (sample.oob_per_tree_s + sample.dump_s_per_tree)
    cpu = (fit + serial) / speed * params.cpu_scale
    upload = trees * sample.grove_bytes_per_tree / 1e6 / params.s3_upload_mb_s
    requests = (S3_REQUESTS_PER_GROVE + math.ceil(trees / max(1, chunk))) * params.s3_request_ms / 1000.0
    return GroveCost(
        trees=trees,
        cpu_s=cpu,
        io_s=upload + requests,
        cold_s=params.cold_start_ms / 1000.0,
        download_s=sample.train_mb / params.s3_download_mb_s,
    )


def worker_peak_mb(sample: Sample, trees: int) -> float:
    """A worker's peak RSS for a grove: imports + mapped train set + fit's working memory + the trees
    + the compressed grove being written."""
    return (
        sample.worker_base_mb
        + sample.train_mem_mb
        + sample.fit_overhead_mb
        + trees * (sample.tree_mem_mb + sample.grove_bytes_per_tree / 1e6)
    )


# --------------------------------------------------------------------------- the projection


@dataclass(frozen=True)
class _Bill:
    """One simulated invocation as its REPORT line would bill it (``cost.Billed``)."""

    billed_ms: float
    memory_mb: float


@dataclass(frozen=True)
class Projection:
    backend: str  # "aws" or "local": which parameters
    trees: int
    grove: int
    groves: int
    memory_mb: int
    arch: str
    concurrency: int
    threads: int  # n_jobs per worker
    wall_s: float  # median of the simulated runs
    wall_p10_s: float
    wall_p90_s: float
    phases: dict[str, float]  # median: prepare, upload, fit span (dispatch to last grove), finish
    grove_s: float  # one full grove on a warm environment, before noise
    cold_starts: int
    peak_concurrency: int
    billed_ms: float
    gb_seconds: float
    cost_usd: float  # median
    cost_p10_usd: float
    cost_p90_usd: float
    requests: int
    peak_worker_mb: float
    memory_ok: bool
    driver_peak_mb: float
    warnings: list[str]
    work_s: float  # billed seconds that scale with cpu_scale, at cpu_scale 1 (for calibrate)
    other_s: float  # billed seconds that do not (I/O, requests, downloads)
    params: ModelParams
    sample_key: str
    sample_how: str

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["params"] = self.params.to_dict()
        return d


def _lognormal(rng: np.random.Generator, cv: float, size: int | None = None) -> Any:
    """Mean-one lognormal noise with coefficient of variation ``cv`` (ones when cv is 0)."""
    if cv <= 0:
        return np.ones(size) if size is not None else 1.0
    sigma = math.sqrt(math.log1p(cv * cv))
    return rng.lognormal(-sigma * sigma / 2, sigma, size)


def _check(trees: int, grove: int, memory_mb: int, arch: str, concurrency: int) -> None:
    if trees < 1:
        raise SpecError("trees", f"must be at least 1, got {trees}")
    if not 1 <= grove <= trees:
        raise SpecError("grove", f"must be between 1 and trees ({trees}), got {grove}")
    if not MEMORY_MIN_MB <= memory_mb <= MEMORY_MAX_MB:
        raise SpecError("memory", f"must be {MEMORY_MIN_MB}-{MEMORY_MAX_MB} MB, got {memory_mb}")
    if arch not in ARCHITECTURES:
        raise SpecError("arch", f"must be one of {', '.join(ARCHITECTURES)}; got {arch!r}")
    if concurrency < 1:
        raise SpecError("concurrency", f"must be at least 1, got {concurrency}")


def project(
    sample: Sample,
    trees: int,
    grove: int,
    memory_mb: int = 1769,
    arch: str = "x86_64",
    concurrency: int | None = None,
    params: ModelParams | None = None,
    *,
    chunk: int = 5,
    backend: str = "aws",
) -> Projection:
    """Project a build of ``trees`` trees in groves of ``grove`` (see the module docstring)."""
    params = params or ModelParams()
    concurrency = int(concurrency or params.concurrency)
    _check(trees, grove, memory_mb, arch, concurrency)
    sizes = [grove] * (trees // grove) + ([trees % grove] if trees % grove else [])
    n = len(sizes)
    costs = {g: grove_cost(sample, g, memory_mb, chunk, params) for g in set(sizes)}
    cpu = np.array([costs[g].cpu_s for g in sizes])
    io = np.array([costs[g].io_s for g in sizes])
    tree_cv = sample.tree_cv or params.tree_cv
    spread = np.array([math.sqrt(tree_cv**2 / g + params.grove_cv**2) for g in sizes])
    # A train set stored whole is downloaded once per environment (cold); a sharded grove reads its
    # own sample of shards every time, warm or cold.
    sharded = sample.shards > 0
    read_s = sample.train_mb / params.s3_download_mb_s
    download = 0.0 if sharded else read_s
    if sharded:
        io = io + read_s
    dispatch = np.zeros(n) if math.isinf(params.dispatch_per_s) else np.arange(n) / params.dispatch_per_s
    threads, _ = cpu_layout(memory_mb, params)

    upload_s = 0.0 if sharded else sample.train_mb / params.driver_upload_mb_s
    scan_s, scan_bills = _scan(sample, memory_mb, concurrency, params)
    finish_s = _finish_s(sample, trees, n, params)
    rng = np.random.default_rng(params.seed)
    runs = max(5, min(params.runs, 100_000 // max(1, n)))  # ~1 s at most: the TUI calls this as fields change
    walls, spans, costs_usd, bills_ms, gbs, colds, peaks = [], [], [], [], [], [], []
    for _ in range(runs):
        scale = _lognormal(rng, params.cpu_scale_cv)
        noise = np.exp(rng.normal(-(spread**2) / 2, spread)) if spread.any() else 1.0
        warm = cpu * scale * noise + io
        init = params.cold_start_ms / 1000.0 * _lognormal(rng, params.cold_start_cv, n)
        sim = simulate(warm.tolist(), (init + download).tolist(), dispatch.tolist(), concurrency, *_bucket(params))
        bills = [_bill(warm[i], download, init[i], sim.cold[i], memory_mb) for i in range(n)]
        bills = bills + scan_bills
        walls.append(sample.prepare_s + upload_s + scan_s + sim.makespan + params.poll_s / 2 + finish_s)
        spans.append(sim.makespan)
        costs_usd.append(cost.total_usd(bills, arch))
        bills_ms.append(sum(b.billed_ms for b in bills))
        gbs.append(cost.total_gb_seconds(bills))
        colds.append(sum(sim.cold))
        peaks.append(sim.peak_concurrency)
    mid = int(np.argsort(walls)[len(walls) // 2])
    peak_mb = max(worker_peak_mb(sample, g) for g in set(sizes))
    grove_s = costs[sizes[0]].warm_s
    warnings = _warnings(sample, sizes, memory_mb, peak_mb, grove_s, costs[sizes[0]], params, backend)
    driver_mb = _driver_peak_mb(sample, trees, n)
    if params.driver_memory_mb and driver_mb > params.driver_memory_mb:
        warnings.append(
            f"driver: finishing {trees:,} trees needs ~{driver_mb / 1024:,.1f} GB, more than this machine's "
            f"{params.driver_memory_mb / 1024:,.1f} GB; build with smaller groves (--grove: it holds a few "
            "at a time), or run the driver on a larger machine"
        )
    return Projection(
        backend=backend,
        trees=trees,
        grove=grove,
        groves=n,
        memory_mb=memory_mb,
        arch=arch,
        concurrency=concurrency,
        threads=threads,
        wall_s=float(np.median(walls)),
        wall_p10_s=float(np.percentile(walls, 10)),
        wall_p90_s=float(np.percentile(walls, 90)),
        phases={
            "prepare_s": sample.prepare_s,
            "upload_s": upload_s,
            **({"scan_s": scan_s, "read_s_per_grove": read_s} if sharded else {}),
            "fit_span_s": float(np.median(spans)),
            "finish_s": finish_s + params.poll_s / 2,
        },
        grove_s=grove_s,
        cold_starts=int(colds[mid]),
        peak_concurrency=int(peaks[mid]),
        billed_ms=float(np.median(bills_ms)),
        gb_seconds=float(np.median(gbs)),
        cost_usd=float(np.median(costs_usd)),
        cost_p10_usd=float(np.percentile(costs_usd, 10)),
        cost_p90_usd=float(np.percentile(costs_usd, 90)),
        requests=n,
        peak_worker_mb=peak_mb,
        memory_ok=peak_mb <= memory_mb,
        driver_peak_mb=driver_mb,
        warnings=warnings,
        work_s=float(cpu.sum()) / params.cpu_scale,
        other_s=float(io.sum()) + int(colds[mid]) * download,
        params=params,
        sample_key=sample.key,
        sample_how=sample.how,
    )


def _scan(sample: Sample, memory_mb: int, concurrency: int, params: ModelParams) -> tuple[float, list[_Bill]]:
    """The scan pass of sharded data before any grove: every shard's bytes read once at the per-function
    S3 throughput, in events of ``shards.scan_batch`` shards, ``concurrency`` at a time, each a cold
    start at first. (0, []) for a train set stored whole."""
    if not sample.shards:
        return 0.0, []
    events = math.ceil(sample.shards / scan_batch(sample.shards))
    event_s = sample.data_bytes / 1e6 / events / params.s3_download_mb_s
    waves = math.ceil(events / max(1, concurrency))
    init_s = params.cold_start_ms / 1000.0
    bills = [_bill(event_s, 0.0, init_s, i < concurrency, memory_mb) for i in range(events)]
    return init_s + waves * event_s + params.poll_s, bills


def _bill(warm_s: float, download_s: float, init_s: float, cold: bool, memory_mb: int) -> _Bill:
    """A REPORT line's bill: Duration (plus the download on a cold environment) and, when cold, INIT."""
    if cold:
        return _Bill(cost.billed_ms((warm_s + download_s) * 1000.0, init_s * 1000.0), memory_mb)
    return _Bill(cost.billed_ms(warm_s * 1000.0), memory_mb)


def _bucket(params: ModelParams) -> tuple[float, float]:
    return float(params.scaling_burst), params.scaling_per_s


def _finish_s(sample: Sample, trees: int, groves: int, params: ModelParams) -> float:
    """The driver after the last grove: REPORT lines, fetch and load groves, OOB sums, score, and write the
    merged model when it is below the merge limit."""
    grove_mb = trees * sample.grove_bytes_per_tree / 1e6
    fetch = grove_mb / params.driver_download_mb_s
    load = trees * sample.load_s_per_tree
    score = trees * sample.predict_s_per_tree / speedup(params.driver_cores, params.parallel_efficiency)
    # The merged file is written only below the merge limit; above it the forest stays its groves.
    merges = trees * sample.tree_mem_mb <= DEFAULT_MERGE_LIMIT_MB
    write = trees * sample.dump_s_per_tree + grove_mb / params.driver_upload_mb_s if merges else 0.0
    return params.report_wait_s + fetch + load + groves * sample.oob_add_s + score + write


def _driver_peak_mb(sample: Sample, trees: int, groves: int) -> float:
    """finish streams the groves: a few in memory at a time (read ahead while one votes) and the running
    OOB sums. Nothing holds the whole forest, merged or not: the merged file is written grove by grove."""
    width = max(1, sample.classes)
    oob = 2 * sample.rows * (width * 8 + 8) / 1e6 if sample.oob_per_tree_s > 0 else 0.0
    in_flight = (STREAM_PREFETCH + 1) * trees / max(1, groves) * sample.tree_mem_mb
    return sample.worker_base_mb + in_flight + oob


def _warnings(
    sample: Sample,
    sizes: list[int],
    memory_mb: int,
    peak_mb: float,
    grove_s: float,
    first: GroveCost,
    params: ModelParams,
    backend: str,
) -> list[str]:
    out = []
    if peak_mb > memory_mb:
        per_tree = sample.tree_mem_mb + sample.grove_bytes_per_tree / 1e6
        room = memory_mb - (peak_mb - sizes[0] * per_tree)
        fits = max(0, int(room // per_tree)) if per_tree > 0 else 0
        out.append(
            f"memory: a grove of {sizes[0]} trees needs ~{peak_mb:,.0f} MB per worker, more than {memory_mb:,} MB "
            f"(at most {fits} trees fit); raise --memory or lower --grove"
        )
    longest = grove_s + first.cold_s + first.download_s
    if backend == "aws" and longest > params.timeout_s:
        out.append(
            f"grove: a grove of {sizes[0]} trees is projected at {longest:,.0f} s, past Lambda's "
            f"{params.timeout_s:,.0f} s timeout; lower --grove or raise --memory"
        )
    return out


# --------------------------------------------------------------------------- for the TUI


def quick_estimate(
    spec: BuildSpec, cache_dir: Path | str | None, params: ModelParams | None = None, concurrency: int | None = None
) -> Projection | None:
    """A projection from a cached sample only (no data is loaded, nothing is fitted); None without one.

    Cheap enough to call as a form's fields change, off the UI thread (0.05-0.3 s for up to 10,000
    groves). Pass ``params`` from ``lamforest.driver.estimate.lambda_params(backend)`` (computed once) for
    the calibrated parameters, this account's cold start and concurrency.
    """
    sample = cached_sample(spec, cache_dir)
    if sample is None:
        return None
    try:
        return project(sample, spec.trees, spec.grove, spec.memory, spec.arch, concurrency, params, chunk=spec.chunk)
    except SpecError:
        return None
