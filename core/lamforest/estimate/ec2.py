"""The same job on one EC2 instance, for comparison with a Lambda projection.

scikit-learn on one machine with ``n_jobs`` = its vCPUs: the sample's per-tree fit time spread over
the vCPUs (at ``ec2_parallel_efficiency``), then the same OOB sums, scoring and model write as a
build, plus the instance's start-up. On-demand Linux instances bill per second with a 60 s minimum.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from lamforest.estimate.params import ModelParams
from lamforest.estimate.project import speedup, trees_time
from lamforest.estimate.sample import Sample
from lamforest.spec import SpecError


@dataclass(frozen=True)
class Ec2Projection:
    vcpus: int
    price_per_hour: float
    wall_s: float
    billed_s: float
    cost_usd: float
    phases: dict[str, float]
    memory_mb: float  # the job's peak: data, every tree, fit's working memory
    memory_ok: bool | None  # None when the instance's memory was not given
    warnings: list[str]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def check_instance(vcpus: int, price_per_hour: float, memory_gb: float | None) -> None:
    """The EC2 instance's description, checked before anything is measured."""
    if not 1 <= vcpus <= 1024:
        raise SpecError("ec2_vcpus", f"must be 1 to 1024, got {vcpus}")
    if memory_gb is not None and not (memory_gb > 0 and math.isfinite(memory_gb)):
        raise SpecError("ec2_memory", f"must be a positive number of GB, got {memory_gb!r}")
    if not (price_per_hour > 0 and math.isfinite(price_per_hour)):
        raise SpecError("ec2_price", f"must be a positive USD per hour, got {price_per_hour!r}")


def ec2(
    sample: Sample,
    trees: int,
    vcpus: int,
    price_per_hour: float,
    params: ModelParams | None = None,
    *,
    memory_gb: float | None = None,
    chunk: int | None = None,
) -> Ec2Projection:
    """The same job on one instance of ``vcpus`` vCPUs: scikit-learn with n_jobs=vcpus, the same OOB,
    scoring and model write; billed per second with a 60 s minimum at ``price_per_hour``."""
    params = params or ModelParams()
    check_instance(vcpus, price_per_hour, memory_gb)
    eff = params.ec2_parallel_efficiency
    fit = trees_time(trees, sample.fit_per_tree_s, chunk or trees, vcpus, eff) * params.ec2_cpu_scale
    serial = (sample.fit_fixed_s + trees * (sample.oob_per_tree_s + sample.dump_s_per_tree)) * params.ec2_cpu_scale
    score = trees * sample.predict_s_per_tree / speedup(vcpus, eff) * params.ec2_cpu_scale
    phases = {
        "startup_s": params.ec2_startup_s,
        "prepare_s": sample.prepare_s,
        "fit_s": fit,
        "oob_and_write_s": serial,
        "score_s": score,
    }
    wall = sum(phases.values())
    billed = max(60.0, float(math.ceil(wall)))
    mem = sample.worker_base_mb + sample.train_mem_mb + sample.fit_overhead_mb + trees * sample.tree_mem_mb
    ok = None if memory_gb is None else mem <= memory_gb * 1024
    warnings = []
    if ok is False:
        warnings.append(f"ec2: the job needs ~{mem / 1024:,.1f} GB, more than the instance's {memory_gb:,.0f} GB")
    usd = price_per_hour * billed / 3600.0
    return Ec2Projection(vcpus, price_per_hour, wall, billed, usd, phases, mem, ok, warnings)
