"""The estimate's named parameters: each with its default and where that default comes from.

``ModelParams`` models AWS Lambda; ``local_params`` turns it into a model of the local pool.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from lamforest import cost
from lamforest.estimate.sample import Sample


def _ram_mb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    except (ValueError, OSError, AttributeError):
        return 0.0


def _p(default: Any, unit: str, source: str) -> Any:
    return field(default=default, metadata={"unit": unit, "source": source})


@dataclass(frozen=True)
class ModelParams:
    """The model's named parameters. Defaults model AWS Lambda; ``local_params`` models the local pool."""

    cold_start_ms: float = _p(
        2000.0,
        "ms",
        "Lambda INIT of the image: the REPORT line in the field notes (Init Duration 1,987.45 ms), rounded; "
        "replaced by the median Init Duration of this account's REPORT lines when past builds have any",
    )
    cold_start_cv: float = _p(0.3, "", "assumption: INIT varies with image caching; not measured")
    s3_download_mb_s: float = _p(
        85.0, "MB/s", "AWS S3 performance guidelines: one request per 85-90 MB/s; the train set is one GET per worker"
    )
    s3_upload_mb_s: float = _p(85.0, "MB/s", "as s3_download_mb_s: one PUT per grove")
    s3_request_ms: float = _p(25.0, "ms", "assumption: one small S3 request (records, CANCEL checks); not measured")
    dispatch_per_s: float = _p(
        1321.0, "events/s", "measured: PublishBatch x10, 8 threads, against moto (docs/benchmarks.md, Dispatch to SNS)"
    )
    scaling_burst: int = _p(1000, "environments", "AWS Lambda docs, scaling behaviour: 1,000 per 10 s per function")
    scaling_per_s: float = _p(
        100.0, "environments/s", "AWS Lambda docs: the 1,000 per 10 s are refilled continuously (best effort)"
    )
    concurrency: int = _p(
        1000,
        "executions",
        "AWS docs: the default account concurrency; --concurrency, else the function's reserved concurrency",
    )
    mb_per_vcpu: int = _p(
        cost.MB_PER_VCPU, "MB", "AWS docs (field notes): 1,769 MB = 1 vCPU, CPU in proportion to memory"
    )
    max_vcpus: int = _p(cost.MAX_VCPUS, "vCPUs", "AWS docs (field notes): up to 6 vCPUs at 10,240 MB")
    n_jobs: int = _p(0, "threads", "0: the vCPUs of the memory size, as the AWS backend sets n_jobs; local: 1")
    cpu_from_memory: bool = _p(True, "", "Lambda gives CPU in proportion to memory; not so on the local pool")
    parallel_efficiency: float = _p(
        0.9, "", "measured: n_jobs=2 fits 1.9x faster than n_jobs=1 (field notes); each extra thread adds 0.9"
    )
    cpu_scale: float = _p(
        1.0,
        "x",
        "assumption: a Lambda vCPU fits a tree as fast as one core here; `estimate --calibrate` fits it",
    )
    cpu_scale_cv: float = _p(0.15, "", "assumption: the uncertainty of cpu_scale (one factor per simulated run)")
    grove_cv: float = _p(0.05, "", "assumption: spread of one grove's duration between environments")
    tree_cv: float = _p(0.1, "", "assumption, used when the sample had too few chunks to measure one tree's spread")
    timeout_s: float = _p(900.0, "s", "AWS docs: Lambda's 15-minute limit per invocation")
    driver_upload_mb_s: float = _p(50.0, "MB/s", "assumption: the driver's uplink (train set, model)")
    driver_download_mb_s: float = _p(100.0, "MB/s", "assumption: the driver's downlink (groves, 8 threads)")
    driver_cores: int = _p(
        os.cpu_count() or 1, "cores", "this machine's CPUs: the driver scores the test set with n_jobs=-1"
    )
    driver_memory_mb: float = _p(
        _ram_mb(), "MB", "this machine's RAM (0: unknown): finish holds every grove at once to merge them"
    )
    report_wait_s: float = _p(
        5.0, "s", "docs/aws.md (Cost reporting): CloudWatch ingests REPORT lines a few seconds late; finish waits"
    )
    poll_s: float = _p(0.1, "s", "builds.run's poll interval: the last grove is seen half a poll late on average")
    ec2_cpu_scale: float = _p(1.0, "x", "assumption: an EC2 vCPU fits a tree as fast as one core here")
    ec2_parallel_efficiency: float = _p(
        0.75, "", "assumption: below the 0.9 measured here, as EC2 vCPUs are hyperthreads (two per core)"
    )
    ec2_startup_s: float = _p(40.0, "s", "assumption: launch to a usable instance, billed from 'running'")
    runs: int = _p(40, "runs", "simulations per projection (fewer for very many groves)")
    seed: int = _p(0, "", "the simulation's random seed: projections are reproducible")

    def describe(self) -> list[tuple[str, Any, str, str]]:
        """(name, value, unit, source) for every parameter, in order."""
        return [(f.name, getattr(self, f.name), f.metadata["unit"], f.metadata["source"]) for f in fields(self)]

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelParams:
        known = {f.name: f for f in fields(cls)}
        out: dict[str, Any] = {}
        for k, v in d.items():
            if k in known:
                out[k] = math.inf if v is None and isinstance(known[k].default, float) else v
        return cls(**out)


def local_params(sample: Sample, workers: int, base: ModelParams | None = None) -> ModelParams:
    """The same model for the local pool: ``workers`` environments started at once, the measured local
    cold start, the train set memory-mapped in place (no download), dispatch through an in-memory queue,
    groves written to this machine's disk, one thread per worker whatever the memory size, and fits
    slowed by the measured contention of that many processes fitting at once on this machine's cores."""
    base = base or ModelParams()
    return replace(
        base,
        cold_start_ms=sample.init_ms,
        cold_start_cv=0.1,
        s3_download_mb_s=math.inf,
        s3_upload_mb_s=sample.write_mb_s,
        s3_request_ms=0.5,
        dispatch_per_s=math.inf,
        scaling_burst=workers,
        scaling_per_s=math.inf,
        concurrency=workers,
        n_jobs=1,
        cpu_from_memory=False,
        cpu_scale=sample.contention,
        cpu_scale_cv=0.05,
        driver_upload_mb_s=sample.write_mb_s,
        driver_download_mb_s=math.inf,
        report_wait_s=0.0,
    )
