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
