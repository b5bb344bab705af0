"""Formatting of numbers for the screen: short, fixed width, no wall clock unless asked."""

from __future__ import annotations

import time


def now() -> float:
    """The wall clock, in one place so tests can pin it."""
    return time.time()


def secs(value: float | None) -> str:
    """A duration: ``850ms``, ``2.41s``, ``3m05s``, ``1h02m``."""
    if value is None:
        return ""
    if value < 1:
        return f"{value * 1000:.0f}ms"
    if value < 60:
        return f"{value:.2f}s"
    if value < 3600:
        m, s = divmod(int(value), 60)
        return f"{m}m{s:02d}s"
    h, m = divmod(int(value) // 60, 60)
    return f"{h}h{m:02d}m"


def ms(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f} ms"


def mb(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f} MB"


def usd(value: float | None) -> str:
    """Dollars with three significant digits at any scale: ``$1.23``, ``$0.0412``, ``$0.0000617``."""
    if value is None:
        return ""
    if value == 0:
        return "$0"
    if value >= 1:
        return f"${value:,.2f}"
    digits = 3
    scaled = value
    while scaled < 0.1 and digits < 12:
        scaled *= 10
        digits += 1
    return f"${value:.{digits}f}"


def gbs(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f} GB-s"


def score(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def stamp(epoch: float | None) -> str:
    """Local date and time to the minute, for build creation times."""
    if epoch is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch))


def stamp_ms(epoch: float) -> str:
    """Local date and time to the millisecond, for grove records: ``2026-01-01 00:00:02.041``."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch)) + f".{int(epoch * 1000) % 1000:03d}"
