"""The driver's seams: a backend is a store, a way to dispatch events (Compute), and a log source.

Everything the driver needs to know of a backend is a typed attribute or a
method here; nothing outside the backend's own construction asks which
backend it is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from lamforest.events import FitEvent, PredictEvent, SearchEvent, ShardEvent
from lamforest.logs import LogHub, LogSource
from lamforest.spec import BuildSpec
from lamforest.store.base import Store

Event = FitEvent | PredictEvent | SearchEvent | ShardEvent
_HUB_LOCK = threading.Lock()


class ConfigError(RuntimeError):
    """The backend cannot be used as configured; the message says what to do."""


class DispatchError(RuntimeError):
    """No event of a submit could be sent; the message names the groves and why."""


class Compute(Protocol):
    """Fire-and-forget dispatch. Results are never returned here: they land in the store."""

    name: str
    workers: int
    broken: str | None  # why the compute can run nothing more (a local pool whose workers die at start)
    # Whether a build stopped by ``broken`` can be finished later (False: a limit no retry passes).
    resumable: bool

    def submit(self, events: list[Event]) -> None:
        """Send one event per item; raise only when none could be sent."""
        ...

    def drain(self) -> int:
        """Drop events not yet started, where the backend can (cancel); return how many."""
        ...

    def close(self) -> None: ...

    def abandon(self) -> None:
        """The driver is interrupted: close without waiting for groves already running."""
        ...

    def wait(self, timeout: float) -> None:
        """Return after ``timeout`` seconds, or sooner once a call has ended since the last wait (a
        compute that hears its calls end: the driver looks at once instead of at its next poll)."""
        ...


class MemoryTuner(Protocol):
    """Sets the deployed function's memory (tune-memory on AWS) and puts it back."""

    def set(self, memory_mb: int) -> None: ...

    def restore(self) -> None: ...


@dataclass
class Backend:
    """A (store, compute, log source) triple and what the driver must know of it.

    Open it with ``open_backend`` and close it (or use it in a ``with``): a
    local backend keeps its worker pool warm across builds until then.
    """

    name: str
    store: Store
    # (spec, workers, sync) -> a Compute for this build
    make_compute: Callable[[BuildSpec, int | None, bool], Compute]
    log_source: Callable[[], LogSource]  # a new reader with its own read position
    estimate: bool  # True when costs are what Lambda would charge, not a bill
    describe: str = ""
    report_wait_s: float = 3.0  # how long REPORT lines may trail the records they describe
    function_memory_mb: int | None = None  # the deployed function's memory size (AWS)
    architecture: str | None = None  # the deployed function's architecture (AWS)
    concurrency: int | None = None  # the deployed function's reserved concurrency (AWS; None: the account's)
    # The local pool: how many worker processes a build gets for a --workers value; None when the
    # groves run elsewhere (the estimate then models Lambda alone).
    pool_workers: Callable[[int | None], int] | None = None
    # Stale "running" records: a dead local worker, or older than the function timeout.
    is_stale: Callable[[Mapping[str, Any]], bool] = lambda record: False
    n_jobs: Callable[[BuildSpec], int] = lambda spec: 1
    memory_tuner: Callable[[], MemoryTuner] | None = None  # None: memory cannot be set (tune simulates)
    # Do invocations already sent finish when the driver process exits? (Lambda: yes; local workers: no.)
    runs_without_driver: bool = False
    _hub: LogHub | None = field(default=None, repr=False)
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def price_arch(self, requested: str | None = None) -> str:
        """The architecture to price with: the deployed function's when there is one (on AWS it is
        fixed by Terraform, a spec's is only a request), else the requested one, else x86_64."""
        return str(self.architecture or requested or "x86_64")

    def shared_log_source(self) -> LogSource:
        """A reader of this backend's logs with its own position, over ONE reader shared by every
        caller (see ``LogHub``): watchers of many builds cost one log read per interval, forward only."""
        with _HUB_LOCK:  # watchers refresh in threads
            if self._hub is None:
                self._hub = LogHub(self.log_source())
            return self._hub.cursor()

    def on_close(self, closer: Callable[[], None]) -> None:
        self._closers.append(closer)

    def close(self) -> None:
        while self._closers:
            self._closers.pop()()

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
