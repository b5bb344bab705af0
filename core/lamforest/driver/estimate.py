"""What ``estimate`` reads from and writes to the store and the environment.

* the sample cache: a folder of small JSON files (``LAMFOREST_ESTIMATE_CACHE``, else ``samples``
  in this user's cache dir);
* calibrated parameters: ``estimate/params.json`` in the store (``keys.estimate_params``),
  written by ``estimate --calibrate`` and used by every later estimate;
* the cold start measured in this account: the median of the Init Durations the last finished
  builds' REPORT lines carried (``keys.estimate_inits``, kept by ``finish``);
* the workers' speed measured on this backend: the fit times of the last finished build of the same
  data and parameters (``keys.measured_groves``, kept by ``finish``);
* the budget check of ``build --max-cost``, before anything is written or dispatched;
* the concurrency: ``--concurrency``, else ``LAMFOREST_CONCURRENCY``, else the function's reserved
  concurrency from the Terraform outputs (``Backend.concurrency``), else the account default (1,000);
  the local pool's is its worker count (``Backend.pool_workers``);
* the ``estimate`` record a finished build's summary keeps, next to its actual time and cost.
"""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lamforest import documents, fmt, keys
from lamforest.backend.base import Backend
from lamforest.driver.plan import BuildError
from lamforest.driver.sample import measure_sample
from lamforest.estimate.calibrate import Calibration, Observation, calibrate
from lamforest.estimate.params import ModelParams, local_params
from lamforest.estimate.project import Projection, cpu_layout, project, trees_time
from lamforest.estimate.sample import Sample, cached_sample, work_key
from lamforest.spec import BuildSpec, SpecError
from lamforest.store.base import get_json, location, put_json

if TYPE_CHECKING:
    from lamforest.data import Dataset

ACCOUNT_DEFAULT_CONCURRENCY = 1000


def cache_dir() -> Path:
    """Where samples are cached: ``LAMFOREST_ESTIMATE_CACHE``, else this user's cache dir (not the store:
    a sample describes this machine)."""
    env = os.environ.get("LAMFOREST_ESTIMATE_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("lamforest", appauthor=False)) / "samples"


def saved_params(backend: Backend, *, tolerant: bool = False) -> ModelParams | None:
    """The calibrated parameters, or None when none were saved. A file that cannot be read is one line
    naming it and the way out (``tolerant``: None, for the calibration that writes it again)."""
    key = keys.estimate_params()
    try:
        blob = backend.store.get_bytes(key)
    except KeyError:
        return None
    try:
        params = ModelParams.from_dict(json.loads(blob)["params"])
        for f in fields(ModelParams):
            value, default = getattr(params, f.name), f.default
            if isinstance(default, bool) != isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{f.name} is {value!r}")
        return params
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        if tolerant:
            return None
        where = location(backend.store, key)
        raise BuildError(
            f"{where} cannot be read ({type(exc).__name__}: {str(exc)[:80]}); delete {where} (estimates then "
            "use the defaults until `lamforest estimate --calibrate` fits new ones)"
        ) from None


def summaries(backend: Backend) -> list[tuple[str, documents.Summary]]:
    """Every ended build's summary, through the one summary reader; one that does not read is skipped
    (calibration learns from honest builds only, and `status` names the broken one)."""
    out = []
    for name in backend.store.children(keys.BUILDS):
        try:
            out.append((name, documents.parse_summary(backend.store.get_bytes(keys.summary(name)))))
        except (KeyError, ValueError):
            continue
    return out


def measured_init_ms(backend: Backend) -> float | None:
    """The median of the Init Durations the last finished builds on this backend measured, or None
    (one GET: ``finish`` keeps them in ``keys.estimate_inits()``)."""
    try:
        inits = list(get_json(backend.store, keys.estimate_inits()).values())
    except (KeyError, ValueError, AttributeError):
        return None
    return statistics.median(inits) if inits else None


KEPT_INITS = 50


def keep_init(backend: Backend, name: str, init_ms: float | None) -> None:
    """Add a finished build's median Init Duration to the last ``KEPT_INITS`` kept."""
    if init_ms is None:
        return
    try:
        kept = dict(get_json(backend.store, keys.estimate_inits()))
    except (KeyError, ValueError, TypeError):
        kept = {}
    kept.pop(name, None)
    kept[name] = float(init_ms)
    put_json(backend.store, keys.estimate_inits(), dict(list(kept.items())[-KEPT_INITS:]))


def observations(backend: Backend) -> list[Observation]:
    return [o for name, s in summaries(backend) if (o := Observation.from_summary(name, s)) is not None]


def run_calibration(backend: Backend) -> Calibration:
    """Fit the parameters to the finished builds in the store and save them for later estimates of this
    backend's workers (Lambda's on AWS, the pool's on the local backend)."""
    cal = calibrate(observations(backend), saved_params(backend, tolerant=True) or ModelParams())
    put_json(
        backend.store,
        keys.estimate_params(),
        {
            "params": cal.params.to_dict(),
            "builds": cal.builds,
            "error_before": cal.error_before,
            "error_after": cal.error_after,
            "note": cal.note,
        },
    )
    return cal


def default_concurrency(backend: Backend) -> tuple[int, str]:
    """(concurrency, where it came from) for Lambda on this backend."""
    env = os.environ.get("LAMFOREST_CONCURRENCY")
    if env:
        try:
            value = int(env)
        except ValueError:
            raise SpecError("concurrency", f"LAMFOREST_CONCURRENCY must be a whole number, got {env!r}") from None
        if value < 1:
            raise SpecError("concurrency", f"LAMFOREST_CONCURRENCY must be at least 1, got {value}")
        return value, "LAMFOREST_CONCURRENCY"
    if backend.concurrency:
        return backend.concurrency, "the function's reserved concurrency (Terraform outputs)"
    return ACCOUNT_DEFAULT_CONCURRENCY, "the account default (AWS docs)"


@dataclass(frozen=True)
class Estimate:
    """One spec's projections: on Lambda, and on this backend when it is the local pool."""

    spec: BuildSpec
    sample: Sample
    lam: Projection
    local: Projection | None
    sources: dict[str, str]  # parameter -> where this estimate's value came from, when not the default

    @property
    def for_backend(self) -> Projection:
        """What this backend will do and report: the local pool's projection there, else Lambda's."""
        return self.local or self.lam


def lambda_params(backend: Backend, concurrency: int | None = None) -> tuple[ModelParams, dict[str, str]]:
    """The Lambda parameters for this backend: calibrated if saved (when this backend's workers are
    Lambda's), the account's measured cold start, the concurrency."""
    sources: dict[str, str] = {}
    params = saved_params(backend) if backend.pool_workers is None else None
    if params is not None:
        sources["cpu_scale"] = f"calibrated ({keys.estimate_params()})"
    params = params or ModelParams()
    init = None if backend.estimate else measured_init_ms(backend)  # a bill's REPORT lines are Lambda's own
    if init is not None:
        params = replace(params, cold_start_ms=init)
        sources["cold_start_ms"] = "median Init Duration of this account's builds"
    if concurrency is None:
        concurrency, sources["concurrency"] = default_concurrency(backend)
    else:
        sources["concurrency"] = "--concurrency"
    return replace(params, concurrency=int(concurrency)), sources


def estimate_spec(
    backend: Backend,
    spec: BuildSpec,
    *,
    concurrency: int | None = None,
    workers: int | None = None,
    measure: bool = True,
    refresh: bool = False,
    cache: Path | None = None,
    dataset: Dataset | None = None,
) -> Estimate | None:
    """Project ``spec`` (measuring a sample unless one is cached, or None when ``measure`` is off;
    ``refresh`` measures anew; ``dataset``: rows in memory, see ``measure_sample``)."""
    spec = spec.validated()
    cache = cache or cache_dir()
    pool = backend.pool_workers(workers) if backend.pool_workers is not None else None
    # On the local backend, as many probes start at once as the pool has workers (its cold start and
    # contention); for Lambda alone, one.
    if measure:
        sample: Sample | None = measure_sample(spec, cache, workers=pool or 1, refresh=refresh, dataset=dataset)
    else:
        sample = cached_sample(spec, cache)
    if sample is None:
        return None
    params, sources = lambda_params(backend, concurrency)
    lp = local_params(sample, pool) if pool is not None else None
    calibrated = saved_params(backend) if lp is not None else None
    if lp is not None and calibrated is not None:  # calibrated on this store's builds: the local pool's
        lp = replace(lp, cpu_scale=calibrated.cpu_scale, cold_start_ms=calibrated.cold_start_ms)
        sources["local cpu_scale"] = sources["local cold_start_ms"] = f"calibrated ({keys.estimate_params()})"
    # Groves of an earlier build of the same data and parameters, on this backend: their fit times
    # replace the assumed speed of this backend's workers (Lambda's vCPUs, or the pool's contention).
    scale = measured_scale(backend, spec, sample, lp or params)
    if scale is not None:
        if lp is not None:
            lp = replace(lp, cpu_scale=scale[0])
        else:
            params = replace(params, cpu_scale=scale[0])
        sources["cpu_scale" if lp is None else "local cpu_scale"] = scale[1]
    arch = backend.price_arch(spec.arch)
    lam = project(sample, spec.trees, spec.grove, spec.memory, arch, params=params, chunk=spec.chunk)
    local = None
    if lp is not None:
        local = project(sample, spec.trees, spec.grove, spec.memory, arch, params=lp, chunk=spec.chunk, backend="local")
    return Estimate(spec, sample, lam, local, sources)


MAX_KEPT_GROVES = 200


def keep_groves(backend: Backend, spec: BuildSpec, name: str, records: list[dict[str, Any]]) -> None:
    """Keep the fit times of a finished build's groves (at most 200) for estimates of the same work."""
    groves = [
        {"trees": int(r["trees"]), "fit_ms": float(r["fit_ms"]), "n_jobs": int(r.get("n_jobs", 1))}
        for r in records
        if r.get("fit_ms") and r.get("trees")
    ][:MAX_KEPT_GROVES]
    if groves:
        doc = {"build": name, "memory": spec.memory, "chunk": spec.chunk, "groves": groves}
        put_json(backend.store, keys.measured_groves(work_key(spec)), doc)


def measured_scale(backend: Backend, spec: BuildSpec, sample: Sample, params: ModelParams) -> tuple[float, str] | None:
    """(cpu_scale, source) from the kept groves of the same work on this backend, or None.

    Each grove's measured fit (trees and OOB sums) against what the sample predicts for it at
    cpu_scale 1 with that build's threads and memory; the median ratio.
    """
    try:
        doc = get_json(backend.store, keys.measured_groves(work_key(spec)))
    except (KeyError, ValueError):
        return None
    _, speed = cpu_layout(int(doc.get("memory", spec.memory)), params)
    ratios = []
    for g in doc.get("groves", []):
        chunk = int(doc.get("chunk", spec.chunk))
        fit = trees_time(g["trees"], sample.fit_per_tree_s, chunk, g["n_jobs"], params.parallel_efficiency)
        predicted = (fit + sample.fit_fixed_s + g["trees"] * sample.oob_per_tree_s) / speed
        if predicted > 0:
            ratios.append(g["fit_ms"] / 1000.0 / predicted)
    if not ratios:
        return None
    return statistics.median(ratios), f"measured groves of build {doc.get('build')!r} ({len(ratios)} groves)"


def check_budget(
    backend: Backend,
    spec: BuildSpec,
    *,
    workers: int | None = None,
    concurrency: int | None = None,
    dataset: Dataset | None = None,
    budget: str = "--max-cost",
) -> Estimate | None:
    """Refuse a build projected above ``spec.max_cost`` before anything is written or dispatched.

    Measures a sample unless one is cached (of ``dataset`` when given, see ``measure_sample``).
    Raises SpecError("max_cost") naming the projected cost and the budget as the caller's user set it
    (``budget``: a flag, or a parameter); returns the estimate (None without a budget).
    """
    if spec.max_cost is None:
        return None
    est = estimate_spec(backend, spec, concurrency=concurrency, workers=workers, dataset=dataset)
    assert est is not None  # measured
    p = est.for_backend
    if p.cost_usd > spec.max_cost:
        raise SpecError(
            "max_cost",
            f"projected cost {fmt.usd(p.cost_usd)} (p10-p90 {fmt.usd(p.cost_p10_usd)}-{fmt.usd(p.cost_p90_usd)}) "
            f"is above {budget} ${spec.max_cost:g}; nothing was dispatched",
        )
    return est


def record(backend: Backend, name: str, projection: Projection) -> None:
    """Keep the projection a build was given before dispatch; ``finish`` sets it beside the actuals."""
    put_json(backend.store, keys.estimate(name), summary_record(projection))


def record_planned(backend: Backend, spec: BuildSpec, *, workers: int | None = None) -> Projection | None:
    """Record the estimate of a created build from a cached sample, if there is one (cheap: nothing is
    measured); return it."""
    est = estimate_spec(backend, spec, workers=workers, measure=False)
    if est is None:
        return None
    record(backend, spec.name, est.for_backend)
    return est.for_backend


def compare(backend: Backend, name: str, wall_s: float, cost_usd: float) -> dict[str, Any] | None:
    """The build's recorded estimate with the actuals beside it and the relative errors, or None."""
    try:
        est = get_json(backend.store, keys.estimate(name))
    except (KeyError, ValueError):
        return None
    out = dict(est)
    out["actual_wall_s"], out["actual_cost_usd"] = wall_s, cost_usd
    out["wall_error"] = (est["wall_s"] - wall_s) / wall_s if wall_s > 0 else None
    out["cost_error"] = (est["cost_usd"] - cost_usd) / cost_usd if cost_usd > 0 else None
    return out


def median_init_ms(inits: list[float | None]) -> float | None:
    """The median of the Init Durations a build's REPORT lines carried, or None."""
    values = [float(i) for i in inits if i is not None]
    return statistics.median(values) if values else None


def summary_record(projection: Projection) -> dict[str, Any]:
    """What a finished build's summary keeps of its estimate (``Observation.from_summary`` reads it).

    ``wall_s`` is the part a build's summary measures (dispatch to summary); the driver's load,
    split and upload before it are ``prepare_s``.
    """
    before = projection.phases["prepare_s"] + projection.phases["upload_s"]
    return {
        "backend": projection.backend,
        "wall_s": projection.wall_s - before,
        "wall_p10_s": projection.wall_p10_s - before,
        "wall_p90_s": projection.wall_p90_s - before,
        "prepare_s": before,
        "cost_usd": projection.cost_usd,
        "gb_seconds": projection.gb_seconds,
        "billed_ms": projection.billed_ms,
        "work_s": projection.work_s,
        "other_s": projection.other_s,
        "cold_starts": projection.cold_starts,
        "sample": projection.sample_key,
    }
