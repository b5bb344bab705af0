"""What an execution environment keeps between invocations: opened data sets, and its peak memory."""

from __future__ import annotations

import threading

import numpy as np

from lamforest import data as datamod
from lamforest import keys
from lamforest.grove import needs_writable
from lamforest.store.base import Store

# Data sets already opened by this execution environment, by (store, ref).
_TRAIN: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray | None]] = {}
_INPUTS: dict[tuple[str, str], np.ndarray] = {}
_OPENING = threading.Lock()


def forget() -> None:
    """Drop every data set this process holds open: a caller's process that fitted groves itself (the
    in-process path) keeps none of them once its fit is over, as a worker environment would."""
    _TRAIN.clear()
    _INPUTS.clear()


def _forget_download(store: Store, ref: str) -> None:
    """Drop a bad downloaded copy, so that the next invocation fetches it again."""
    if store.local_path(keys.data_file(ref, keys.DATA_X)) is None:
        for name in (keys.DATA_X, keys.DATA_Y, keys.DATA_WEIGHT, *keys.DATA_SPARSE_X):
            (datamod.cache_dir() / ref / name).unlink(missing_ok=True)


def load_train(store: Store, ref: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """X, y and the sample weights (None when the set has none) at ``ref``, checked once per environment
    against its content address.

    Copied into memory only when fitting needs a writable X (``grove.needs_writable``).
    Raises ``DataIntegrityError`` (the grove fails with its message) for a
    copy that is altered or truncated; nothing is fitted on it.
    """
    key = (store.url, ref)
    entry = _TRAIN.get(key)  # one lookup: another thread's in-process fit may ``forget`` meanwhile
    if entry is not None:
        return entry
    with _OPENING:  # a driver's grove threads open a train set once between them
        return _TRAIN.get(key) or _open_train(store, ref, key)


def _open_train(store: Store, ref: str, key: tuple[str, str]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Open, check and keep one train set (``load_train``'s miss)."""
    try:
        X, y = datamod.open_train(store, ref)
        w = datamod.open_weight(store, ref)
        datamod.check_train(ref, X, y, w)
    except datamod.DataIntegrityError:
        _forget_download(store, ref)
        raise
    except (OSError, ValueError, EOFError) as exc:  # a truncated .npy does not open
        _forget_download(store, ref)
        why = " ".join(str(exc).split())
        raise datamod.DataIntegrityError(f"train set {ref} cannot be read ({why}); it is not used") from None
    entry = _TRAIN[key] = (np.array(X) if needs_writable(X) else X), y, w
    return entry


def load_input(store: Store, ref: str) -> np.ndarray:
    """Rows to predict at ``ref``, checked once per environment against their content address."""
    key = (store.url, ref)
    X = _INPUTS.get(key)
    if X is None:
        try:
            X = datamod.open_input(store, ref)
            datamod.check_input(ref, X)
        except datamod.DataIntegrityError:
            _forget_download(store, ref)
            raise
        except (OSError, ValueError, EOFError) as exc:
            _forget_download(store, ref)
            why = " ".join(str(exc).split())
            raise datamod.DataIntegrityError(f"input rows {ref} cannot be read ({why}); they are not used") from None
        _INPUTS[key] = X
    return X
