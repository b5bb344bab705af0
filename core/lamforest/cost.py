"""Lambda's price model: GB-seconds by architecture plus a price per request.

Prices are us-east-1 list prices; billed duration is per millisecond, and for
container images the INIT phase is billed too (it is part of Billed Duration
in the REPORT line).
"""

from __future__ import annotations

from dataclasses import dataclass

PRICE_PER_GB_S = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
PRICE_PER_REQUEST = 0.20 / 1_000_000


@dataclass(frozen=True)
class Price:
    gb_seconds: float
    compute_usd: float
    request_usd: float

    @property
    def usd(self) -> float:
        return self.compute_usd + self.request_usd


def gb_seconds(billed_ms: float, memory_mb: float) -> float:
    return (billed_ms / 1000.0) * (memory_mb / 1024.0)


def price(billed_ms: float, memory_mb: float, arch: str = "x86_64", requests: int = 1) -> Price:
    """What ``requests`` invocations billed ``billed_ms`` in total at ``memory_mb`` cost."""
    if arch not in PRICE_PER_GB_S:
        raise ValueError(f"arch must be one of {', '.join(PRICE_PER_GB_S)}, got {arch!r}")
    gbs = gb_seconds(billed_ms, memory_mb)
    return Price(gbs, gbs * PRICE_PER_GB_S[arch], requests * PRICE_PER_REQUEST)
