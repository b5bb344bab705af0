"""This process's peak memory, and a way to measure it for one phase (finish, predict)."""

from __future__ import annotations

import resource


def peak_mb() -> int:
    """Peak resident memory of this process (``VmHWM``) in MB, since it started or since ``reset_peak``."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def reset_peak() -> bool:
    """Start the peak over from the current resident size (Linux: ``clear_refs`` 5).

    Returns False where that is not possible; the peak then covers the
    process's whole life, which is an upper bound of the phase's.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def one_arena() -> bool:
    """Have glibc's malloc keep one arena for every thread of this process (``M_ARENA_MAX`` 1).

    A finish streams groves of tens of MB through a read-ahead thread; with an arena per thread
    the freed arrays stayed spread over both, and the peak grew with the number of groves: 267 MB
    at 10 groves and 295 MB at 100 (fully grown trees of 5.7 MB), against 247 and 258 MB in one.
    Measured no slower there. Only for a command's own process (``cli.console``): a Python session
    keeps its allocator as it is. False where there is no glibc.
    """
    import ctypes

    try:
        libc = ctypes.CDLL(None)  # the process's own symbols: the C library it runs on
        return bool(libc.mallopt(-8, 1))  # M_ARENA_MAX, from malloc.h
    except (OSError, AttributeError):
        return False
