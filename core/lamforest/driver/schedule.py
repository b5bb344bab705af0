"""The build loop's decisions, with no I/O and no clock: what to send next, when to retry,
when the budget stops the build, when it has failed.

``run.run`` is the thin loop around it: refresh the watcher, ask, act.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from lamforest import fmt

IN_FLIGHT_DONE = ("done", "failed", "cancelled")
# Failures no retry can mend: the data or the event is wrong (a shard gone or changed, a parameter
# scikit-learn refuses, an event the plan does not hold). The first ends the build: nothing more is sent.
NOT_RETRIED = ("SpecError", "DataIntegrityError", "EventNotPlanned")


def permanent(error: str | None) -> bool:
    """Whether a failed grove's error (``Type: message``) is one no retry can mend."""
    return bool(error) and str(error).split(":", 1)[0].strip() in NOT_RETRIED


class Row(Protocol):
    """What the policy reads of a grove (``watch.GroveRow`` is one)."""

    grove: int
    state: str
    attempt: int
    error: str | None


# Below this much work (train rows x log2 rows x trees x features: a tree's fitting grows as n log n)
# a local build fits its groves on threads of the driver's own process instead of starting workers:
# ~3 s of one core (digits, 1,347 rows x 64 features: ~1,100 trees), about what starting one worker
# per core costs in CPU (each imports scikit-learn, ~1 s). 75,000 x 10 rows with 130 trees, ~45 s of
# fitting, is ~1.6 x 10^9: workers.
IN_PROCESS_WORK = 1_000_000_000


def small_work(rows: int, trees: int, features: int) -> bool:
    """Whether a build's fitting is smaller than starting its workers (``IN_PROCESS_WORK``)."""
    return rows * math.log2(max(2, rows)) * trees * max(1, features) <= IN_PROCESS_WORK


def window_for(sync: bool, max_cost: float | None, workers: int) -> int | None:
    """How many groves may be in flight: one at a time in sync mode on one thread; one wave of
    workers (or threads) under a budget, so that the projected cost can stop the build; else all."""
    if sync and workers == 1:
        return 1
    if max_cost is not None:
        return max(1, workers or 10)
    return None


def over_budget(projected: float | None, spent: float, trees_done: int, max_cost: float | None) -> str | None:
    """The reason to cancel when the projected cost passes ``max_cost``, else None."""
    if max_cost is None or projected is None or projected <= max_cost:
        return None
    # The build's budget, set by --max-cost or an estimator's max_cost: named as the spec names it.
    return (
        f"budget: projected cost {fmt.usd(projected)} would pass max_cost ${max_cost:g} "
        f"({fmt.usd(spent)} spent on {trees_done} trees)"
    )


@dataclass
class Scheduler:
    """Groves waiting to be sent (``backlog``), the attempt each was last sent with, and failures."""

    retries: int
    window: int | None = None
    backlog: deque[int] = field(default_factory=deque)
    dispatched: dict[int, int] = field(default_factory=dict)  # grove -> attempt sent
    failures: list[dict[str, Any]] = field(default_factory=list)
    fatal: bool = False  # a failure no retry mends was seen: nothing more is sent
    _seen: set[tuple[int, int]] = field(default_factory=set)

    @classmethod
    def start(cls, rows: Sequence[Row], *, retries: int, window: int | None, cancelled: bool) -> Scheduler:
        """Every grove not done is sent (resuming a build keeps what is done), unless it was cancelled."""
        pending = [] if cancelled else [r.grove for r in rows if r.state in ("queued", "failed", "cancelled")]
        return cls(retries=retries, window=window, backlog=deque(pending))

    def in_flight(self, rows: Sequence[Row]) -> int:
        """Groves sent whose latest attempt has not yet ended."""
        by_grove = {r.grove: r for r in rows}
        return sum(
            1
            for g, a in self.dispatched.items()
            if not (by_grove[g].state in IN_FLIGHT_DONE and by_grove[g].attempt >= a)
        )

    def to_send(self, rows: Sequence[Row]) -> list[tuple[int, int]]:
        """(grove, attempt) pairs to dispatch now, taken from the backlog within the window."""
        if not self.backlog:
            return []
        room = len(self.backlog) if self.window is None else max(0, self.window - self.in_flight(rows))
        by_grove = {r.grove: r for r in rows}
        out = []
        for _ in range(min(room, len(self.backlog))):
            g = self.backlog.popleft()
            attempt = max(by_grove[g].attempt, self.dispatched.get(g, 0)) + 1
            self.dispatched[g] = attempt
            out.append((g, attempt))
        return out

    def clear(self) -> None:
        """Cancelled: nothing more is sent."""
        self.backlog.clear()

    def observe(self, rows: Sequence[Row]) -> bool:
        """Record new failures and queue their retries; True when the build has failed: some grove
        is out of retries and nothing is left running, queued or waiting to be sent."""
        for row in rows:
            if row.state != "failed" or (row.grove, row.attempt) in self._seen:
                continue
            if row.attempt < self.dispatched.get(row.grove, 0):
                continue  # an older attempt's record; the retry is on its way
            self._seen.add((row.grove, row.attempt))
            self.failures.append({"grove": row.grove, "attempt": row.attempt, "error": row.error})
            if permanent(row.error):
                self.fatal = True
                self.backlog.clear()
            elif row.attempt <= self.retries and not self.fatal:
                self.backlog.append(row.grove)
        if self.fatal:  # ended once what runs has stopped; groves never started stay unsent
            return not any(r.state == "running" for r in rows)
        # Every grove out of retries, not just those first seen now: the last one may have failed
        # while others were still running.
        exhausted = any(
            r.state == "failed" and r.attempt > self.retries and r.attempt >= self.dispatched.get(r.grove, 0)
            for r in rows
        )
        return exhausted and not self.backlog and not any(r.state in ("running", "queued") for r in rows)
