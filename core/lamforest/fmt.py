"""How numbers read, for the CLI and the TUI alike: durations, memory, money, scores, times.

Short and of bounded width (a table's column can be sized once), no
scientific notation, and the same figure written the same way on every
screen. The wall clock is read through ``now`` so tests can pin it.
"""

from __future__ import annotations

import time

WIDTH = {"secs": 7, "mb": 9, "usd": 11}  # the widest each writes, for fixed table columns


def now() -> float:
    """The wall clock, in one place so tests can pin it."""
    return time.time()


def secs(value: float | None) -> str:
    """A duration, given in seconds: ``40ms``, ``2.41s``, ``3m05s``, ``1h02m`` (at most 7 characters)."""
    if value is None:
        return ""
    value = max(0.0, value)
    if value < 0.9995:
        return f"{value * 1000:.0f}ms"
    if value < 59.995:
        return f"{value:.2f}s"
    if value < 3600:
        m, s = divmod(int(value), 60)
        return f"{m}m{s:02d}s"
    h, m = divmod(int(value) // 60, 60)
    return f"{h}h{m:02d}m" if h < 1000 else f"{h // 24}d"


def ms(value: float | None) -> str:
    """A duration given in milliseconds (REPORT lines count in ms), written as ``secs`` writes it."""
    return "" if value is None else secs(value / 1000)


def mb(value: float | None) -> str:
    """Memory in MB: ``99 MB``, ``10,240 MB``."""
    return "" if value is None else f"{value:,.0f} MB"


def usd(value: float | None) -> str:
    """Dollars with three significant digits at any scale, never in scientific notation: ``$1.23``,
    ``$0.0412``, ``$0.0000617``; below a millionth of a dollar, ``<$0.000001``."""
    if value is None:
        return ""
    if value == 0:
        return "$0"
    if value < 0:
        return "-" + usd(-value)
    if value >= 1:
        return f"${value:,.2f}"
    if value < 0.000001:
        return "<$0.000001"
    digits = 3
    scaled = value
    while scaled < 0.1:
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
