"""Snapshots of every screen at 80x24, 120x40 and 160x50, from builds written with fixed values.

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

import numpy as np
import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from lamforest import fmt
from lamforest.backend import Backend, open_backend
from lamforest.driver import Prediction
from lamforest_tui.app import LamforestApp
from lamforest_tui.screens.build import BuildScreen
from lamforest_tui.screens.builds import BuildsScreen
from lamforest_tui.screens.confirm import ConfirmScreen
from lamforest_tui.screens.export import ExportScreen
from lamforest_tui.screens.grove import GroveScreen
from lamforest_tui.screens.help import HelpScreen
from lamforest_tui.screens.new_build import NewBuildScreen
from lamforest_tui.screens.predict_ask import PredictAskScreen
from lamforest_tui.screens.prediction import PredictionScreen
from lamforest_tui.screens.search import SearchScreen
from lamforest_tui.testing import FIXED_CREATED, write_finished_build, write_plan
from lamforest_tui.widgets.grove_table import GroveTable
from tests import waits

SIZES = [(80, 24), (120, 40), (160, 50)]


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


async def until(pilot: Pilot, cond: Callable[[], object]) -> None:
    """Wait for the state the snapshot shows (failing if it never comes), then still the cursors."""
    await waits.until(pilot, cond, "the state this snapshot shows")
    for box in pilot.app.screen.query(Input):
        box.cursor_blink = False
    await pilot.pause()


def builds_listed(pilot: Pilot) -> bool:
    screen = pilot.app.screen
    return isinstance(screen, BuildsScreen) and screen.loaded and len(screen.rows) == 3


def open_digits(pilot: Pilot) -> Callable[[], bool]:
    def shown() -> bool:
        screen = pilot.app.screen
        return isinstance(screen, BuildScreen) and screen.view is not None and bool(screen.reports)

    return shown


async def on_build(pilot: Pilot) -> None:
    await until(pilot, lambda: builds_listed(pilot))
    await pilot.press("down")  # digits-demo: the list is newest first, queued-next on top
    await pilot.press("enter")
    await until(pilot, open_digits(pilot))


def a_prediction() -> Prediction:
    proba = np.tile(np.linspace(0.0, 1.0, 10) / 4.5, (450, 1))
    return Prediction(
        predictions=np.arange(450) % 10,
        metric="accuracy",
        score=0.9644,
        confusion=np.diag([45] * 10),
        labels=list(range(10)),
        rows=450,
        proba=proba,
    )


async def s_builds(pilot: Pilot) -> None:
    await until(pilot, lambda: builds_listed(pilot))


async def s_new_build(pilot: Pilot) -> None:
    await until(pilot, lambda: builds_listed(pilot))
    await pilot.press("n")
    await until(pilot, lambda: isinstance(pilot.app.screen, NewBuildScreen) and bool(pilot.app.screen.estimated))


async def s_new_build_scrolled(pilot: Pilot) -> None:
    await s_new_build(pilot)
    pilot.app.screen.query_one("#in-min_samples_leaf").focus()
    await until(
        pilot,
        lambda: (
            pilot.app.screen.query_one("#new-build").max_scroll_y == 0
            or pilot.app.screen.query_one("#new-build").scroll_y > 0
        ),
    )


async def s_build(pilot: Pilot) -> None:
    await on_build(pilot)


async def s_build_all_columns(pilot: Pilot) -> None:
    await on_build(pilot)
    await pilot.press("x")
    await until(pilot, lambda: not pilot.app.screen.query_one(GroveTable).hidden)


async def s_build_queued(pilot: Pilot) -> None:
    await until(pilot, lambda: builds_listed(pilot))
    await pilot.press("enter")  # queued-next
    await until(pilot, lambda: isinstance(pilot.app.screen, BuildScreen) and pilot.app.screen.view is not None)


async def s_grove(pilot: Pilot) -> None:
    await on_build(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, BuildScreen) and screen.view is not None
    # The record names the process that wrote it (host, pid, boot id): fixed here, the rest as stored.
    record = {**screen.view.records[0], "host": "host", "pid": 4242, "boot_id": "boot", "pid_start": 1}
    line = screen.reports.get(record["request_id"])
    pilot.app.push_screen(GroveScreen("digits-demo", 0, record, line))
    await until(pilot, lambda: isinstance(pilot.app.screen, GroveScreen))


async def s_help(pilot: Pilot) -> None:
    await until(pilot, lambda: builds_listed(pilot))
    await pilot.press("question_mark")
    await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))


async def s_export(pilot: Pilot) -> None:
    await on_build(pilot)
    await pilot.press("e")
    await until(pilot, lambda: isinstance(pilot.app.screen, ExportScreen))


async def s_predict_ask(pilot: Pilot) -> None:
    await on_build(pilot)
    await pilot.press("p")
    await until(pilot, lambda: isinstance(pilot.app.screen, PredictAskScreen))


async def s_prediction(pilot: Pilot) -> None:
    await on_build(pilot)
    pilot.app.push_screen(PredictionScreen("digits-demo", a_prediction()))
    await until(pilot, lambda: isinstance(pilot.app.screen, PredictionScreen))


async def s_confirm(pilot: Pilot) -> None:
    await on_build(pilot)
    pilot.app.push_screen(ConfirmScreen("Cancel build [b]digits-demo[/b]? Running groves stop at their next chunk."))
    await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))


async def s_searches(pilot: Pilot) -> None:
    await until(pilot, lambda: builds_listed(pilot))
    await pilot.press("s")
    await until(pilot, lambda: isinstance(pilot.app.screen, SearchScreen))
    await pilot.app.workers.wait_for_complete()
    await until(pilot, lambda: True)


SCREENS = {
    "builds": s_builds,
    "new_build": s_new_build,
    "new_build_scrolled": s_new_build_scrolled,
    "build": s_build,
    "build_all_columns": s_build_all_columns,
    "build_queued": s_build_queued,
    "grove": s_grove,
    "help": s_help,
    "export": s_export,
    "predict_ask": s_predict_ask,
    "prediction": s_prediction,
    "confirm": s_confirm,
    "searches": s_searches,
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen(screen: str, size: tuple[int, int], backend: Backend, snap_compare, monkeypatch) -> None:
    monkeypatch.chdir("/")  # the default export and predict paths name the working folder
    assert snap_compare(LamforestApp(backend), terminal_size=size, run_before=SCREENS[screen])
