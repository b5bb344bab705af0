"""What a person meets on the surface of the TUI: each defect found by hand, driven as a person types.

Keys are posted as one burst (``burst``: every key queued before the app runs
any, as a terminal delivers a fast typist's keys in one read), against a real
local backend in a temporary store.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from textual.widgets import Input, Select

from lamforest import driver, keys
from lamforest.backend import Backend, open_backend
from lamforest.spec import BuildSpec
from lamforest.store.base import put_json
from lamforest_tui import fmt
from lamforest_tui.app import LamforestApp
from lamforest_tui.screens.build import BuildScreen
from lamforest_tui.screens.builds import BuildsScreen
from lamforest_tui.testing import FIXED_CREATED, write_driver, write_finished_build, write_grove, write_plan
from tests.test_tui_allday import burst, open_form, until


@pytest.fixture
def backend(home: Path) -> Backend:
    return open_backend("local", home=home)


async def test_a_fast_dropdown_choice_is_the_one_built_and_starts_nothing_by_itself(backend: Backend) -> None:
    app = LamforestApp(backend, workers=1)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        form.query_one("#in-name", Input).value = ""
        form.query_one("#in-trees", Input).value = "4"
        form.query_one("#in-grove", Input).value = "2"
        await pilot.pause()
        # name, dataset, task, model: open its list, one down (extra trees), choose; on to the seed, type 5.
        burst(app, [*"burst", "tab", "tab", "tab", "enter", "down", "enter", "tab", "5"])
        seed, model = form.query_one("#in-seed", Input), form.query_one("#in-model", Select)
        await until(pilot, lambda: seed.value == "5" and model.value == "et", f"{seed.value!r} {model.value!r}", 40)
        assert app.focused is seed and not model.expanded
        burst(app, ["ctrl+s"])  # only now is the build started
        await until(pilot, lambda: isinstance(app.screen, BuildScreen), "the build screen")
        await until(pilot, lambda: not app.running, "the build to end", tries=1200)
        await app.workers.wait_for_complete()
    spec = driver.load_plan(backend, "burst").spec
    assert (spec.model, spec.seed) == ("et", 5)
    assert [b.name for b in driver.list_builds(backend)] == ["burst"]


async def test_elapsed_leaves_out_the_time_a_build_sat_interrupted_and_never_runs_back(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Driven for 14 s (its last grove ended then), interrupted for ~14.6 min, resumed 10 s ago: 24 s, not 15 min.
    now = time.time()
    monkeypatch.setattr(fmt, "now", lambda: now)
    store = backend.store
    plan = write_plan(store, "resumed", trees=20, grove=5, created=now - 900)
    write_driver(store, "resumed", 1, at=now - 900, renewed=now - 886, released=True)
    for g in (0, 1):
        write_grove(store, plan, g, "done", started=now - 899 + g * 7, duration_s=6.0, log=False)
    write_driver(store, "resumed", 2, at=now - 10, renewed=now)
    write_grove(store, plan, 2, "running", started=now - 9, log=False)
    app = LamforestApp(backend)
    async with app.run_test(size=(120, 40)) as pilot:
        home = app.screen
        assert isinstance(home, BuildsScreen)
        await until(pilot, lambda: home.rows, "the list")
        assert (home.rows[0].state, home.rows[0].cells[4]) == ("running", "24.00s")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, BuildScreen) and app.screen.view is not None, "the build")
        screen = app.screen
        assert isinstance(screen, BuildScreen) and screen.view is not None
        assert screen.view.elapsed_s == pytest.approx(24.0)
        assert "elapsed 24.00s" in screen.view.header_lines()[1]
        # Its driver quits now: interrupted, and the clock stops where it was, not back at the last grove.
        write_driver(store, "resumed", 2, at=now - 10, renewed=now, released=True)
        screen.poll()
        await until(pilot, lambda: screen.view is not None and screen.view.state == "interrupted", "interrupted")
        assert screen.view.elapsed_s >= 24.0


async def test_after_a_cancel_the_build_screen_shows_the_store_counts(backend: Backend) -> None:
    driver.create(backend, BuildSpec(name="stopped", data="digits", trees=400, grove=5))
    runner = threading.Thread(target=driver.run, args=(backend, "stopped"), kwargs={"workers": 1})
    app = LamforestApp(backend)
    async with app.run_test(size=(120, 40)) as pilot:
        runner.start()  # another process's driver (the CLI): this app does not run it
        app.open_build("stopped")
        await until(pilot, lambda: isinstance(app.screen, BuildScreen) and app.screen.view is not None, "the build")
        screen = app.screen
        assert isinstance(screen, BuildScreen)
        await until(pilot, lambda: screen.view and screen.view.counts["done"] >= 1, "a grove done", tries=1200)
        burst(app, ["c", "y"])
        await until(pilot, lambda: screen.view and screen.view.state == "cancelled", "cancelled")
        await until(pilot, lambda: not runner.is_alive(), "the driver to stop", tries=1200)
        runner.join()
        store = driver.status(backend, "stopped")
        counts = {st: store.count(st) for st in ("queued", "running", "done", "failed", "cancelled")}
        await until(pilot, lambda: screen.view and screen.view.counts == counts, f"{counts} on screen")
        assert counts["running"] == 0 and screen.view.reason == "cancelled by user"


async def test_a_cancel_that_comes_after_the_last_grove_shows_done_only(backend: Backend) -> None:
    plan = write_finished_build(backend.store, "late", groves=4, created=FIXED_CREATED)
    put_json(backend.store, keys.cancel(plan.spec.name), {"reason": "cancelled by user", "at": FIXED_CREATED + 9})
    app = LamforestApp(backend)
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_build("late")
        await until(pilot, lambda: isinstance(app.screen, BuildScreen) and app.screen.view is not None, "the build")
        view = app.screen.view
        line2 = view.header_lines()[1]
        assert view.state == "done" and view.reason is None
        assert "finished before the cancel reached it" in line2 and "cancelled by user" not in line2
