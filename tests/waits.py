"""Every way a test waits, in one place.

A test waits for a condition, never for a time: the bounds below only stop a hung
test, and they are generous because the machine may be busy. A test that must show
something did *not* happen waits for the app to have handled everything it was
sent (``settle``) and then looks, rather than sleeping and hoping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from textual.pilot import Pilot

T = TypeVar("T")

HANG_GUARD_S = 120.0  # a bound that only catches hangs, never a pace
POLL_S = 0.02
PILOT_POLL_S = 0.05


def wait_for(cond: Callable[[], T], what: str, seconds: float = HANG_GUARD_S, every: float = POLL_S) -> T:
    """Poll ``cond`` until it returns something truthy, and return that; fail naming ``what``."""
    end = time.monotonic() + seconds
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


async def until(pilot: Pilot, cond: Callable[[], object], what: str, tries: int = 1200) -> None:
    """Poll app state, letting the app run in between, at most ``tries`` times."""
    for _ in range(tries):
        if cond():
            return
        await pilot.pause(PILOT_POLL_S)
    raise AssertionError(f"gave up waiting for: {what}")


async def settle(pilot: Pilot, rounds: int = 200) -> None:
    """Return once the app and every widget of every screen have handled all their messages.

    Each ``pilot.pause()`` drains the queues as they were when it was called; the
    messages that handling posts (a key forwarded to the focused widget, bubbled to
    the screen, an action pushing a screen) are drained by the next round. So this
    waits on messages, not on time, and after it a missing effect means the keys
    were handled and did nothing.
    """
    for _ in range(rounds):
        await pilot.pause()
        app = pilot.app
        nodes = [app, *(node for screen in app.screen_stack for node in screen.walk_children(with_self=True))]
        if all(node.message_queue_size == 0 for node in nodes):
            return
    raise AssertionError("the app never finished handling its messages")
