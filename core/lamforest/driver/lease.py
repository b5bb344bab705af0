"""The driver's lease: how a watcher tells a build someone is driving from one whose driver died.

While ``run`` drives a build, a background thread rewrites ``builds/<b>/lease.json``
every ``renew_s`` seconds (one PUT, whatever the build's size). A watcher already
LISTs the build's prefix; the lease's version tag changes at each renewal, so it
GETs the lease only then. A build without a summary whose lease has not moved for
``timeout_s`` is ``interrupted``: its driver died or stopped watching, and
``lamforest finish NAME`` resumes it. A build no driver ever ran (created, not yet
started) has no lease and stays ``queued``.
"""

from __future__ import annotations

import os
import platform
import threading
import time
from typing import Any

from lamforest import keys
from lamforest.store.base import Store, put_json

RENEW_S = 5.0
TIMEOUT_S = 60.0  # twelve missed renewals: a slow store or a paused laptop is not a dead driver


def timeout_for(doc: dict[str, Any]) -> float:
    """How long a lease may go unrenewed: at least ``TIMEOUT_S`` and six of its own periods."""
    try:
        every = float(doc.get("renew_s", RENEW_S))
    except (TypeError, ValueError):
        every = RENEW_S
    return max(TIMEOUT_S, 6 * every)


class Lease:
    """Renew a build's lease from a daemon thread until ``release``; use it in a ``with``."""

    def __init__(self, store: Store, name: str, renew_s: float | None = None) -> None:
        self.store = store
        self.name = name
        self.renew_s = RENEW_S if renew_s is None else renew_s
        self.error: str | None = None  # the last renewal's failure, if any
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lamforest-lease-{name}", daemon=True)

    def renew(self) -> None:
        doc = {"renewed": time.time(), "renew_s": self.renew_s, "host": platform.node(), "pid": os.getpid()}
        try:
            put_json(self.store, keys.lease(self.name), doc)
            self.error = None
        except Exception as exc:  # a store hiccup must not stop the build; the next renewal retries
            self.error = f"{type(exc).__name__}: {exc}"

    def _loop(self) -> None:
        while not self._stop.wait(self.renew_s):
            self.renew()

    def __enter__(self) -> Lease:
        self.renew()  # before the first refresh, so a resumed build is not seen as interrupted
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        """Stop renewing. The lease stays: a build that ended has a summary, which wins over
        it; one left unfinished (the driver stopped watching) turns ``interrupted``."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.renew_s + 5)
