"""A discrete event simulation of grove invocations on Lambda (or the local pool).

First come, first served, as Lambda's asynchronous queue serves SNS deliveries: an invocation runs
on an idle warm environment when there is one, else on a new one when the function's scaling
bucket allows (AWS: 1,000 new environments per 10 s per function, refilled continuously), never
more than the concurrency limit at once. A new environment pays its cold start first.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

from lamforest.spec import SpecError


@dataclass(frozen=True)
class SimResult:
    starts: list[float]
    ends: list[float]
    cold: list[bool]
    peak_concurrency: int

    @property
    def makespan(self) -> float:
        return max(self.ends, default=0.0)


def simulate(
    warm_s: Sequence[float],
    cold_s: Sequence[float],
    dispatch_s: Sequence[float],
    concurrency: int,
    burst: float,
    refill_per_s: float,
) -> SimResult:
    """Run invocations first come, first served, as Lambda's async queue does.

    Invocation i arrives at ``dispatch_s[i]``; it runs on an idle warm environment when there is one,
    else on a new one if the scaling bucket holds a token (``burst`` at most, refilled at
    ``refill_per_s``), paying ``cold_s[i]`` more; never more than ``concurrency`` at once.
    """
    if concurrency < 1:
        raise SpecError("concurrency", f"must be at least 1, got {concurrency}")
    running: list[float] = []
    idle = 0
    tokens, t_tokens = float(burst), 0.0
    starts, ends, cold = [], [], []
    peak = 0
    t_prev = 0.0
    for i, warm in enumerate(warm_s):
        t = max(dispatch_s[i], t_prev)
        while True:
            while running and running[0] <= t:
                heapq.heappop(running)
                idle += 1
            if len(running) < concurrency:
                if idle:
                    idle -= 1
                    is_cold = False
                    break
                if not math.isinf(refill_per_s):
                    tokens = min(float(burst), tokens + (t - t_tokens) * refill_per_s)
                t_tokens = t
                if tokens >= 1.0 - 1e-9:
                    tokens -= 1.0
                    is_cold = True
                    break
                t_next = t + (1.0 - tokens) / refill_per_s if refill_per_s > 0 else math.inf
                if running:
                    t_next = min(t_next, running[0])
                if math.isinf(t_next):
                    raise SpecError("scaling_per_s", "no environment can ever start: no tokens and no refill")
                t = t_next
            else:
                t = running[0]
        duration = warm + (cold_s[i] if is_cold else 0.0)
        heapq.heappush(running, t + duration)
        peak = max(peak, len(running))
        starts.append(t)
        ends.append(t + duration)
        cold.append(is_cold)
        t_prev = t
    return SimResult(starts, ends, cold, peak)
