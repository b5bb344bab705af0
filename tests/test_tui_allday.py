"""The TUI as an all-day tool: no lost keystroke, one-step submit, states that do not lie.

Driven through Textual's pilot against a real local backend in a temporary
store. Keys typed faster than the app handles them are posted as one burst
(as a terminal delivers a fast typist's keys in one read), with no pause in
between; that is what used to lose characters.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static

from lamforest import driver
from lamforest.backend import Backend, open_backend
from lamforest.driver import watch
from lamforest.spec import BuildSpec
from lamforest_tui.app import LamforestApp
from lamforest_tui.screens.build import BuildScreen
from lamforest_tui.screens.builds import BuildsScreen, column_layout
from lamforest_tui.screens.confirm import ConfirmScreen
from lamforest_tui.screens.new_build import NewBuildScreen, fields
from lamforest_tui.testing import FIXED_CREATED, write_finished_build
from tests.waits import settle, until

SIZE = (160, 48)
KEY_CHARS = {"backspace": "\x7f", "left": None, "end": None, "minus": "-", "tab": "\t", "shift+tab": None}


@pytest.fixture
def backend(home: Path) -> Backend:
    return open_backend("local", home=home)


def burst(app: LamforestApp, keys: list[str]) -> None:
    """Post every key at once, in order, without letting the app run in between."""
    for key in keys:
        app.post_message(events.Key(key, KEY_CHARS.get(key, key if len(key) == 1 else None)))


async def open_form(pilot: Pilot) -> NewBuildScreen:
    await until(pilot, lambda: isinstance(pilot.app.screen, BuildsScreen) and pilot.app.screen.loaded, "the list")
    await pilot.press("n")
    await until(pilot, lambda: isinstance(pilot.app.screen, NewBuildScreen), "the form")
    form = pilot.app.screen
    assert isinstance(form, NewBuildScreen)
    return form


async def test_fast_typing_into_every_form_field_loses_nothing(backend: Backend) -> None:
    app = LamforestApp(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        form.query_one("#in-dataset", Select).value = "file"  # shows the source and target fields too
        await pilot.pause()
        inputs = [f.key for f in fields() if f.kind == "input"]
        assert len(inputs) == 11
        for key in inputs:
            box = form.query_one(f"#in-{key}", Input)
            box.focus()
            await pilot.pause()
            # Clear whatever is there, type, fix a typo, move back, insert: all in one burst.
            burst(app, ["end", *["backspace"] * 30, "a", "b", "backspace", "c", "left", "minus", "end", "9"])
            await pilot.pause()
            await until(pilot, lambda box=box: box.value == "a-c9", f"{key}: {box.value!r} should be 'a-c9'", 40)
            assert box.region.height > 0 and form.query_one("#new-build").scrollable_content_region.contains(
                box.region.x, box.region.y
            ), f"{key} is focused but out of view"


async def test_tab_then_typing_fast_types_into_the_next_field(backend: Backend) -> None:
    app = LamforestApp(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        seed, trees = form.query_one("#in-seed", Input), form.query_one("#in-trees", Input)
        seed.focus()
        await pilot.pause()
        burst(app, ["end", "7", "tab", "end", "5", "shift+tab", "end", "1"])
        await until(pilot, lambda: (seed.value, trees.value) == ("071", "1005"), f"{seed.value!r} {trees.value!r}", 40)


async def test_every_error_shows_at_once_beside_its_field(backend: Backend, home: Path) -> None:
    app = LamforestApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        for key, value in {"trees": "many", "memory": "5", "seed": "-1"}.items():
            form.query_one(f"#in-{key}", Input).value = value
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        errors = {key: str(form.query_one(f"#err-{key}", Static).render()) for key in ("trees", "memory", "seed")}
        assert all(errors.values()), errors
        assert app.focused is form.query_one("#in-seed")  # the first field in the form's order
        assert not (home / "builds").exists()  # nothing written


async def test_submit_is_one_step_that_esc_and_the_palette_cannot_split(backend: Backend, home: Path) -> None:
    # Hold the submit at its first stage (starting workers), as a cold start does, until released.
    gate = threading.Event()
    make_compute = backend.make_compute
    backend.make_compute = lambda *args: (gate.wait(30), make_compute(*args))[1]
    app = LamforestApp(backend, workers=1)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        for key, value in {"name": "atomic", "trees": "4", "grove": "2"}.items():
            form.query_one(f"#in-{key}", Input).value = value
        form.query_one("#in-dataset", Select).value = "iris"
        await pilot.pause()
        await pilot.press("ctrl+s")
        assert form.submitting and form.stages == ["starting workers…"]  # said at once, before any I/O
        said = str(form.query_one("#err-general", Static).render())
        assert "starting workers" in said
        burst(app, ["escape", "ctrl+p", "escape", "ctrl+s", "ctrl+s"])  # an impatient user, during the stall
        await settle(pilot)  # every key handled: what they did not do, they will not do
        assert app.screen is form  # not closed, nothing opened over it
        gate.set()
        await until(pilot, lambda: isinstance(app.screen, BuildScreen), "the build screen")
        assert [type(s).__name__ for s in app.screen_stack] == ["Screen", "BuildsScreen", "BuildScreen"]
        await until(pilot, lambda: not app.running, "the build to end", tries=1200)
        await app.workers.wait_for_complete()
        assert driver.status(backend, "atomic").state == "done"  # started, not left queued
        assert sorted(p.name for p in (home / "builds").iterdir()) == ["atomic"]


class Lease:
    """Stands in for the driver lease (another change): says a build's driver is gone."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
        self.gone = True
        state = watch.Watcher._build_state

        def with_lease(watcher: watch.Watcher) -> str:
            st = state(watcher)
            if watcher.name == name and self.gone and st in ("queued", "running"):
                return "interrupted"
            return st

        monkeypatch.setattr(watch.Watcher, "_build_state", with_lease)


async def test_an_interrupted_build_shows_so_stops_its_clock_and_resumes_after_asking(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver.create(backend, BuildSpec(name="halted", data="iris", trees=6, grove=3))
    lease = Lease(monkeypatch, "halted")
    app = LamforestApp(backend, workers=1)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, BuildsScreen)
        await until(pilot, lambda: screen.loaded and screen.rows, "the list")
        first = screen.rows[0]
        assert (first.name, first.state) == ("halted", "interrupted")
        screen.poll()
        await app.workers.wait_for_complete()
        assert screen.rows[0].cells == first.cells  # no clock counting for a build nobody drives
        assert screen.check_action("resume_build", ()) is True
        assert screen.check_action("cancel_build", ()) is None  # not active: nothing to cancel here

        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("n")
        await until(pilot, lambda: app.screen is screen, "back")
        assert not app.running

        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        lease.gone = False  # the app's driver holds it now
        await pilot.press("y")
        await until(pilot, lambda: screen.rows and screen.rows[0].state == "done", "resumed to the end", tries=1200)


async def test_quit_says_what_happens_and_asks_once(backend: Backend) -> None:
    app = LamforestApp(backend, workers=1)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        for key, value in {"name": "long", "trees": "4000", "grove": "5"}.items():
            form.query_one(f"#in-{key}", Input).value = value
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.running == ["long"], "the driver running")
        burst(app, ["q", "q", "q"])
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the quit question")
        await settle(pilot)  # all three handled
        assert sum(isinstance(s, ConfirmScreen) for s in app.screen_stack) == 1
        assert "STOPS" in app.quit_question(["long"])  # local workers end with the app
        await pilot.press("y")
    assert driver.status(backend, "long").summary is None  # stopped, not cancelled: resumable


async def test_palette_offers_the_screens_own_actions(backend: Backend) -> None:
    write_finished_build(backend.store, "done-one", groves=2, created=FIXED_CREATED)
    app = LamforestApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await until(pilot, lambda: isinstance(screen, BuildsScreen) and screen.loaded and screen.rows, "the list")
        titles = [c.title for c in app.get_system_commands(screen)]
        assert {"Searches", "Filter builds", "New build"} <= set(titles)
        assert "Cancel build" not in titles and "Resume build" not in titles  # a done build
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, BuildScreen) and app.screen.view is not None, "opened")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Predict", "Export"} <= set(titles)


def test_builds_columns_shrink_by_priority_and_the_name_takes_the_room() -> None:
    wide = column_layout(160)
    assert [k for k, _l, _w in wide][-1] == "created" and wide[0][2] > 30
    narrow = column_layout(80)
    keys = [k for k, _l, _w in narrow]
    assert keys[:3] == ["name", "state", "trees"] and "created" not in keys and "billed" not in keys
    assert sum(w + 2 for _k, _l, w in narrow) + 2 <= 80


async def test_searches_list_state_trials_best_cost_and_promote(backend: Backend) -> None:
    from lamforest.driver import search
    from lamforest.spec import parse_grid
    from lamforest_tui.screens.search import SearchScreen

    search.create(
        backend,
        search.SearchSpec.of(name="sx", data="iris", grid=parse_grid(["max_depth=2,None"]), trees=4, grove=2),
    )
    app = LamforestApp(backend, workers=1)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, SearchScreen), "the search screen")
        screen = app.screen
        assert isinstance(screen, SearchScreen)
        await until(pilot, lambda: screen.rows, "the list")
        # Created but never run (as after a crashed CLI call): unfinished, never "running".
        assert screen.rows[0].cells[:3] == ("sx", "unfinished", "0/2")
        assert screen.check_action("promote", ()) is None
        runner = threading.Thread(target=search.run, args=(backend, "sx"), kwargs={"workers": 1, "timeout_s": 120})
        runner.start()
        runner.join(timeout=120)
        screen.action_refresh()
        await until(pilot, lambda: screen.rows and screen.rows[0].state == "done", "finished")
        _name, state, trials, best, cost = screen.rows[0].cells
        assert (state, trials) == ("done", "2/2") and best.startswith("accuracy") and cost.startswith("est. $")
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, BuildScreen), "the promoted build, opened")
        assert app.screen.build_name == "sx-best"
        await until(pilot, lambda: not app.running, "the promoted build to end", tries=1200)
    assert driver.status(backend, "sx-best").state == "done"
    assert search.load(backend, "sx")["promoted"] == ["sx-best"]


def test_grove_record_times_are_dates_not_epoch_floats(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from lamforest_tui.screens.grove import readable

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        shown = readable({"state": "done", "started": FIXED_CREATED + 2.0415, "ended": FIXED_CREATED + 3.5})
    finally:
        monkeypatch.undo()
        time.tzset()
    assert shown["started"] == "2026-01-01 00:00:02.041" and shown["ended"] == "2026-01-01 00:00:03.500"
    assert shown["started_epoch"] == FIXED_CREATED + 2.0415 and shown["state"] == "done"


async def test_slash_then_typing_fast_filters(backend: Backend) -> None:
    write_finished_build(backend.store, "alpha", groves=2, created=FIXED_CREATED)
    write_finished_build(backend.store, "beta", groves=2, created=FIXED_CREATED + 1)
    app = LamforestApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await until(pilot, lambda: isinstance(screen, BuildsScreen) and len(screen.rows) == 2, "the list")
        burst(app, ["slash", "b", "e", "t"])
        await until(pilot, lambda: screen.query_one("#filter", Input).value == "bet", "the filter typed", 40)
        assert [r.name for r in screen._shown] == ["beta"] and not app.screen_stack[-1].is_modal


async def test_build_screen_says_what_it_waits_for_and_offers_resume_when_interrupted(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lamforest_tui.testing import write_plan

    write_plan(backend.store, "waiting", trees=20, grove=5, created=FIXED_CREATED)
    write_plan(backend.store, "halted", trees=20, grove=5, created=FIXED_CREATED + 1)
    Lease(monkeypatch, "halted")
    app = LamforestApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        for name, says, resumable in (
            ("waiting", "workers are starting", None),
            ("halted", "no driver is running it", True),
        ):
            app.open_build(name)
            await until(pilot, lambda: isinstance(app.screen, BuildScreen) and app.screen.view is not None, name)
            screen = app.screen
            assert says in screen.view.header_lines()[-1]
            assert screen.check_action("resume_build", ()) is (resumable or False)
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, BuildsScreen), "back")
