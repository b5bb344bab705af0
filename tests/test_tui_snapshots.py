"""Snapshots of the three screens at 160x48, from builds written with fixed values.

Determinism: the builds come from ``lamforest_tui.testing`` (fixed times,
durations and request ids, written through the real store and log format);
the clock used for default names is pinned, times are shown in UTC, the
store path in the title is replaced, and the input cursor does not blink.
Regenerate with ``pytest tests/test_tui_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from lamforest.backend import Backend, open_backend
from lamforest_tui import fmt
from lamforest_tui.app import LamforestApp
from lamforest_tui.screens.build import BuildScreen
from lamforest_tui.screens.builds import BuildsScreen
from lamforest_tui.screens.new_build import NewBuildScreen
from lamforest_tui.testing import FIXED_CREATED, write_finished_build, write_plan

SIZE = (160, 48)


@pytest.fixture(autouse=True)
def no_estimate_samples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty sample cache: the form's estimate line is then the same hint whatever ran before."""
    monkeypatch.setenv("LAMFOREST_ESTIMATE_CACHE", str(tmp_path / "no-samples"))


@pytest.fixture
def backend(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(fmt, "now", lambda: FIXED_CREATED + 3600)
    backend = open_backend("local", home=home)
    backend.describe = "local (~/.local/share/lamforest)"
    write_finished_build(backend.store, "digits-demo", groves=12, created=FIXED_CREATED)
    write_finished_build(backend.store, "wine-small", groves=4, created=FIXED_CREATED - 86_400)
    write_plan(backend.store, "queued-next", trees=100, grove=10, created=FIXED_CREATED + 60)
    yield backend
    time.tzset()


async def until(pilot: Pilot, cond: Callable[[], object], tries: int = 400) -> None:
    for _ in range(tries):
        if cond():
            break
        await pilot.pause(0.05)
    for box in pilot.app.screen.query(Input):
        box.cursor_blink = False
    await pilot.pause()


def builds_listed(pilot: Pilot) -> bool:
    screen = pilot.app.screen
    return isinstance(screen, BuildsScreen) and screen.loaded and len(screen.rows) == 3


def test_builds_screen(backend: Backend, snap_compare) -> None:
    async def ready(pilot: Pilot) -> None:
        await until(pilot, lambda: builds_listed(pilot))

    assert snap_compare(LamforestApp(backend), terminal_size=SIZE, run_before=ready)


def test_new_build_form(backend: Backend, snap_compare) -> None:
    async def ready(pilot: Pilot) -> None:
        await until(pilot, lambda: builds_listed(pilot))
        await pilot.press("n")
        await until(pilot, lambda: isinstance(pilot.app.screen, NewBuildScreen) and bool(pilot.app.screen.estimated))

    assert snap_compare(LamforestApp(backend), terminal_size=SIZE, run_before=ready)


def test_build_screen_finished(backend: Backend, snap_compare) -> None:
    async def ready(pilot: Pilot) -> None:
        await until(pilot, lambda: builds_listed(pilot))
        await pilot.press("down")  # digits-demo: the list is newest first, queued-next on top
        await pilot.press("enter")

        def shown() -> bool:
            screen = pilot.app.screen
            return isinstance(screen, BuildScreen) and screen.view is not None and bool(screen.reports)

        await until(pilot, shown)

    assert snap_compare(LamforestApp(backend), terminal_size=SIZE, run_before=ready)


SMALL = (80, 24)


def test_builds_screen_80x24(backend: Backend, snap_compare) -> None:
    """Columns shrink by priority (created, billed, failed go first); the footer keeps q and ?."""

    async def ready(pilot: Pilot) -> None:
        await until(pilot, lambda: builds_listed(pilot))

    assert snap_compare(LamforestApp(backend), terminal_size=SMALL, run_before=ready)


def test_new_build_form_80x24_scrolled_to_the_last_field(backend: Backend, snap_compare) -> None:
    async def ready(pilot: Pilot) -> None:
        await until(pilot, lambda: builds_listed(pilot))
        await pilot.press("n")
        await until(pilot, lambda: isinstance(pilot.app.screen, NewBuildScreen) and bool(pilot.app.screen.estimated))
        pilot.app.screen.query_one("#in-min_samples_leaf").focus()
        await until(pilot, lambda: pilot.app.screen.query_one("#new-build").scroll_y > 0)

    assert snap_compare(LamforestApp(backend), terminal_size=SMALL, run_before=ready)


def test_build_screen_80x24(backend: Backend, snap_compare) -> None:
    """The header and the grove table first; no charts where they do not fit; a shorter log."""

    async def ready(pilot: Pilot) -> None:
        await until(pilot, lambda: builds_listed(pilot))
        await pilot.press("down")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, BuildScreen) and pilot.app.screen.view is not None)

    assert snap_compare(LamforestApp(backend), terminal_size=SMALL, run_before=ready)
