"""What an execution environment keeps between invocations: opened data sets, and its peak memory."""

from __future__ import annotations

import resource

import numpy as np

from lamforest import data as datamod
from lamforest.grove import needs_writable
from lamforest.store.base import Store

# Data sets already opened by this execution environment, by (store, ref).
_TRAIN: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
_INPUTS: dict[tuple[str, str], np.ndarray] = {}


def load_train(store: Store, ref: str) -> tuple[np.ndarray, np.ndarray]:
    """The train set at ``ref``, memory-mapped; copied into memory only when fitting needs a
    writable X (``grove.needs_writable``), once per environment."""
    key = (store.url, ref)
    if key not in _TRAIN:
        X, y = datamod.open_train(store, ref)
        _TRAIN[key] = (np.array(X) if needs_writable(X) else X), y
    return _TRAIN[key]


def load_input(store: Store, ref: str) -> np.ndarray:
    key = (store.url, ref)
    if key not in _INPUTS:
        _INPUTS[key] = datamod.open_input(store, ref)
    return _INPUTS[key]


def peak_memory_mb() -> int:
    """This process's own peak RSS (``VmHWM``). ``ru_maxrss`` would carry over exec from the parent."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
