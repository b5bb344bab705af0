"""TUI: the budget field of the new-build form, and the live search leaderboard (``s``)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from lamforest import driver
from lamforest.backend import Backend, open_backend
from lamforest.driver import search
from lamforest.spec import parse_grid
from lamforest_tui.app import LamforestApp
from lamforest_tui.screens.build import BuildScreen
from lamforest_tui.screens.new_build import NewBuildScreen
from lamforest_tui.screens.search import SearchScreen
from tests.test_tui import SIZE, fill_form, store_builds, until


@pytest.fixture
def backend(home: Path) -> Backend:
    return open_backend("local", home=home)


async def test_max_cost_field_starts_a_budgeted_build_that_is_cancelled(backend: Backend, home: Path) -> None:
    app = LamforestApp(backend, workers=1)
    async with app.run_test(size=SIZE) as pilot:
        await fill_form(pilot, name="budget-ui", trees="30", grove="2", max_cost="0.000000001")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, BuildScreen), "the build screen")
        await app.workers.wait_for_complete()
        st = app.runs["budget-ui"].result
        assert st.state == "cancelled" and st.cancel_reason.startswith("budget:")
    assert driver.load_plan(open_backend("local", home=home), "budget-ui").spec.max_cost == 1e-9


async def test_bad_max_cost_is_shown_beside_the_field_and_nothing_is_written(backend: Backend, home: Path) -> None:
    app = LamforestApp(backend, workers=1)
    async with app.run_test(size=SIZE) as pilot:
        form = await fill_form(pilot, name="bad-budget", max_cost="lots")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, NewBuildScreen)
        assert "USD" in str(form.query_one("#err-max_cost", Static).render())
        await pilot.press("escape")
    assert store_builds(home) == []


async def test_s_shows_a_search_leaderboard_live(backend: Backend) -> None:
    search.create(
        backend,
        search.SearchSpec.of(name="ui-s", data="iris", grid=parse_grid(["max_depth=2,None"]), trees=4, grove=2),
    )
    app = LamforestApp(backend, workers=1)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, SearchScreen), "the search screen")
        screen = app.screen
        assert isinstance(screen, SearchScreen)
        await until(pilot, lambda: screen.board is not None, "the leaderboard")
        assert screen.board.done == 0  # nothing run yet: two queued trials
        runner = threading.Thread(target=search.run, args=(backend, "ui-s"), kwargs={"workers": 1, "timeout_s": 120})
        runner.start()
        await until(pilot, lambda: screen.board is not None and screen.board.done == 2, "both trials done")
        runner.join(timeout=120)
        table = screen.query_one("#board", DataTable)
        await until(
            pilot,
            lambda: str(table.get_cell("0", "state")) == "done" and str(table.get_cell("1", "state")) == "done",
            "the table shows done",
        )
        assert table.row_count == 2
        assert "ui-s" in str(screen.query_one("#board-title", Static).render())
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, SearchScreen), "back to the builds")
