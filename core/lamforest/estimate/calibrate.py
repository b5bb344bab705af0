"""Fit the model's parameters to past builds: each finished build's summary records its estimate.

Least squares on billed seconds, the part of a build a bill measures exactly:
``actual_billed = cpu_scale x work + cold_starts x cold_start + other``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from lamforest.estimate.params import ModelParams
from lamforest.spec import SpecError


@dataclass(frozen=True)
class Observation:
    """A finished build: what was projected and what happened (from its summary's ``estimate`` record)."""

    name: str
    projected_wall_s: float
    actual_wall_s: float
    projected_usd: float
    actual_usd: float
    work_s: float  # projected billed seconds that scale with cpu_scale, at cpu_scale 1
    other_s: float  # projected billed seconds that do not
    cold_starts: int  # projected
    actual_billed_s: float
    init_ms: float | None = None  # median Init Duration of the build's REPORT lines, when there were any

    @classmethod
    def from_summary(cls, name: str, summary: Mapping[str, Any]) -> Observation | None:
        est = summary.get("estimate")
        if not isinstance(est, dict) or summary.get("state") != "done":
            return None
        try:
            return cls(
                name=name,
                projected_wall_s=float(est["wall_s"]),
                actual_wall_s=float(summary["wall_s"]),
                projected_usd=float(est["cost_usd"]),
                actual_usd=float(summary["cost_usd"]),
                work_s=float(est["work_s"]),
                other_s=float(est["other_s"]),
                cold_starts=int(est["cold_starts"]),
                actual_billed_s=float(summary["billed_ms"]) / 1000.0,
                init_ms=float(summary["init_ms"]) if summary.get("init_ms") is not None else None,
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class Calibration:
    params: ModelParams
    builds: int
    error_before: float  # mean |relative error| of billed seconds with the old parameters
    error_after: float
    note: str


def calibrate(observations: Sequence[Observation], params: ModelParams | None = None) -> Calibration:
    """Fit ``cpu_scale`` and ``cold_start_ms`` to past builds by least squares on billed seconds.

    actual_billed = cpu_scale x work + cold_starts x cold_start + other. The cold start is the median
    Init Duration measured in REPORT lines when any build has them; otherwise both are fitted when two
    or more builds tell them apart, else only cpu_scale is.
    """
    params = params or ModelParams()
    obs = [o for o in observations if o.work_s > 0 and o.actual_billed_s > 0]
    if not obs:
        raise SpecError("calibrate", "no finished build with an estimate and a bill to calibrate against")
    work = np.array([o.work_s for o in obs])
    cold = np.array([float(o.cold_starts) for o in obs])
    target = np.array([o.actual_billed_s - o.other_s for o in obs])
    inits = [o.init_ms for o in obs if o.init_ms is not None]
    if inits:
        cold_s = float(np.median(inits)) / 1000.0
        scale = float(work @ (target - cold * cold_s) / (work @ work))
        note = f"cold start from {len(inits)} builds' measured Init Durations; cpu_scale by least squares"
    else:
        A = np.column_stack([work, cold])
        if len(obs) >= 2 and np.linalg.matrix_rank(A) == 2:
            (scale, cold_s), *_ = np.linalg.lstsq(A, target, rcond=None)
            note = "cpu_scale and cold start by least squares"
        else:
            cold_s = params.cold_start_ms / 1000.0
            scale = float(work @ (target - cold * cold_s) / (work @ work))
            note = "cpu_scale by least squares; cold start kept (one build cannot tell them apart)"
    scale = max(0.05, float(scale))
    cold_s = max(0.0, float(cold_s))

    def err(s: float, c: float) -> float:
        pred = s * work + cold * c + np.array([o.other_s for o in obs])
        actual = np.array([o.actual_billed_s for o in obs])
        return float(np.mean(np.abs(pred - actual) / actual))

    before = err(params.cpu_scale, params.cold_start_ms / 1000.0)
    new = replace(params, cpu_scale=scale, cold_start_ms=cold_s * 1000.0)
    return Calibration(new, len(obs), before, err(scale, cold_s), note)
