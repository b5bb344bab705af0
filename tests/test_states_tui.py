"""The TUI's list with a build whose spec.json is corrupted: listed as broken, the others kept."""

from __future__ import annotations

from pathlib import Path

from lamforest import driver, keys
from lamforest.backend import open_backend
from lamforest.spec import BuildSpec
from lamforest_tui.app import LamforestApp
from lamforest_tui.screens.builds import BuildsScreen
from tests.test_tui import SIZE, until


async def test_a_corrupted_spec_does_not_empty_the_list(home: Path) -> None:
    backend = open_backend("local", home=home)
    try:
        for name in ("good", "bad"):
            driver.create(backend, BuildSpec(name=name, data="iris", trees=2, grove=1))
        (home / keys.spec("bad")).write_text('{"spec": {"name": "bad"')  # cut short
        app = LamforestApp(backend)
        async with app.run_test(size=SIZE) as pilot:
            screen = app.screen
            assert isinstance(screen, BuildsScreen)
            await until(pilot, lambda: screen.loaded, "the first listing")
            assert sorted((r.name, r.state) for r in screen.rows) == [("bad", "broken"), ("good", "queued")]
    finally:
        backend.close()
