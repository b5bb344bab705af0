"""How grove events reach workers: local processes, the driver itself (sync), or AWS."""

from __future__ import annotations

from typing import Protocol

from lamforest.spec import GroveTask


class DispatchError(RuntimeError):
    """No event of a submit could be sent; the message names the groves and why."""


class Compute(Protocol):
    """Fire-and-forget dispatch. Results are never returned here: they land in the store."""

    name: str
    workers: int

    def submit(self, tasks: list[GroveTask]) -> None:
        """Send one event per task; raise only when none could be sent."""
        ...

    def drain(self) -> int:
        """Drop events not yet started, where the backend can (cancel); return how many."""
        ...

    def close(self) -> None: ...
