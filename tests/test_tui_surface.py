"""What a person meets on the surface of the TUI: each defect found by hand, driven as a person types.

Keys are posted as one burst (``burst``: every key queued before the app runs
any, as a terminal delivers a fast typist's keys in one read), against a real
local backend in a temporary store.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Select

from lamforest import driver
from lamforest.backend import Backend, open_backend
from lamforest_tui.app import LamforestApp
from lamforest_tui.screens.build import BuildScreen
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
