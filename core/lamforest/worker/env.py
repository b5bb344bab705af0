"""What an execution environment keeps between invocations: opened data sets, and its peak memory."""

from __future__ import annotations

import resource

import numpy as np

from lamforest import data as datamod
from lamforest.store.base import Store

# Data sets already opened by this execution environment, by (store, ref).
_TRAIN: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray | None]] = {}
_INPUTS: dict[tuple[str, str], np.ndarray] = {}


def load_train(store: Store, ref: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """X, y and the sample weights (None when the set has none) at ``ref``, opened once per environment."""
    key = (store.url, ref)
    if key not in _TRAIN:
        X, y = datamod.open_train(store, ref)
        if np.isnan(X).any():
            # scikit-learn's splitter for missing values needs a writable X; a memory map is read-only.
            X = np.array(X)
        _TRAIN[key] = (X, y, datamod.open_weight(store, ref))
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
