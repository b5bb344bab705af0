"""The warnings a grove's fit raises, kept for its record, on one thread or several.

A worker process fits one grove at a time: each fit records its warnings with its own
``warnings.catch_warnings(record=True)``. A driver that fits small groves on several
threads of its own process cannot do that: before Python 3.14 ``catch_warnings`` swaps
process-wide state, so two threads entering and leaving it in turn leave the wrong
filters behind. There, ``threads()`` sets the filters once, on the calling thread, for
as long as the threads run, and routes each warning to the list of the grove whose
thread raised it; a warning from any other thread is shown as before.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# scikit-learn's warning about "balanced" class weights and warm_start: a grove's chunks grow one
# forest on the whole train set, so it does not apply (the user set no warm_start).
BALANCED = 'class_weight presets "balanced"'

_local = threading.local()
_state = {"routing": False}


@contextmanager
def threads() -> Iterator[None]:
    """While it is open, ``recorded`` and ``quiet_chunks`` on any thread use the filters it set."""
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", message=BALANCED, category=UserWarning)
        shown = warnings.showwarning

        def route(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
            sink = getattr(_local, "sink", None)
            if sink is None:
                shown(message, category, filename, lineno, file, line)
            else:
                sink.append(warnings.WarningMessage(message, category, filename, lineno, file, line))

        warnings.showwarning = route
        _state["routing"] = True
        try:
            yield
        finally:
            _state["routing"] = False


@contextmanager
def recorded() -> Iterator[list[warnings.WarningMessage]]:
    """The warnings raised inside, every one (not once per place), in a list kept for the record."""
    if _state["routing"]:
        caught: list[warnings.WarningMessage] = []
        _local.sink = caught
        try:
            yield caught
        finally:
            _local.sink = None
        return
    with warnings.catch_warnings(record=True) as caught_here:
        warnings.simplefilter("always")
        yield caught_here


@contextmanager
def quiet_chunks() -> Iterator[None]:
    """Around one chunk's fit: scikit-learn's warm_start warning about "balanced" presets is not raised."""
    if _state["routing"]:
        yield  # ``threads`` already ignores it
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=BALANCED, category=UserWarning)
        yield
