"""Lambda's price model: GB-seconds by architecture plus a price per request.

Prices are us-east-1 list prices; billed duration is per millisecond, and for
container images the INIT phase is billed too (it is part of Billed Duration
in the REPORT line).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

PRICE_PER_GB_S = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
PRICE_PER_REQUEST = 0.20 / 1_000_000
MB_PER_VCPU, MAX_VCPUS = 1769, 6  # Lambda gives CPU in proportion to memory


def vcpus(memory_mb: int) -> int:
    """Lambda's vCPUs for a memory size: 1,769 MB is one vCPU, 10,240 MB is six."""
    return max(1, min(MAX_VCPUS, round(memory_mb / MB_PER_VCPU)))


@dataclass(frozen=True)
class Price:
    gb_seconds: float
    compute_usd: float
    request_usd: float

    @property
    def usd(self) -> float:
        return self.compute_usd + self.request_usd


def billed_ms(duration_ms: float, init_ms: float | None = None) -> int:
    """Billed Duration of one invocation: run time plus INIT (billed for container images), rounded up
    to the millisecond."""
    return math.ceil(duration_ms + (init_ms or 0.0))


def gb_seconds(billed_ms: float, memory_mb: float) -> float:
    return (billed_ms / 1000.0) * (memory_mb / 1024.0)


class Billed(Protocol):
    """What a REPORT line bills (``logs.Report`` has these)."""

    @property
    def billed_ms(self) -> float: ...
    @property
    def memory_mb(self) -> float: ...


def total_usd(reports: Iterable[Billed], arch: str) -> float:
    """What a set of invocations cost in all, each at its own memory size."""
    return sum(price(r.billed_ms, r.memory_mb, arch).usd for r in reports)


def total_gb_seconds(reports: Iterable[Billed]) -> float:
    return sum(gb_seconds(r.billed_ms, r.memory_mb) for r in reports)


def price(billed_ms: float, memory_mb: float, arch: str = "x86_64", requests: int = 1) -> Price:
    """What ``requests`` invocations billed ``billed_ms`` in total at ``memory_mb`` cost."""
    if arch not in PRICE_PER_GB_S:
        raise ValueError(f"arch must be one of {', '.join(PRICE_PER_GB_S)}, got {arch!r}")
    gbs = gb_seconds(billed_ms, memory_mb)
    return Price(gbs, gbs * PRICE_PER_GB_S[arch], requests * PRICE_PER_REQUEST)
