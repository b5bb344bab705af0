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

from lamforest import driver, fmt, keys
from lamforest.backend import Backend, open_backend
from lamforest.spec import BuildSpec
from lamforest.store.base import put_json
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
        assert "elapsed 24.00s" in "\n".join(screen.view.header_lines())
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
        line2 = view.header_lines()[-1]
        assert view.state == "done" and view.reason is None
        assert "finished before the cancel reached it" in line2 and "cancelled by user" not in line2


async def test_every_figure_is_whole_at_80x24_and_hidden_columns_and_charts_are_one_key_away(backend: Backend) -> None:
    from lamforest.cli.render import fmt_usd
    from lamforest_tui.widgets.grove_table import GroveTable

    write_finished_build(backend.store, "small", groves=4, created=FIXED_CREATED)
    app = LamforestApp(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_build("small")
        await until(pilot, lambda: isinstance(app.screen, BuildScreen) and app.screen.view is not None, "the build")
        screen = app.screen
        assert isinstance(screen, BuildScreen) and screen.view is not None
        table = screen.query_one(GroveTable)
        assert table.hidden == ["seed", "start", "billed"]  # given up first, in the stated order
        assert table.get_cell("0", "init") == "2.06s"  # was "2,056 m" cut from "2,056 ms"
        assert not screen.query_one("#charts").display
        burst(app, ["x"])
        await until(pilot, lambda: table.hidden == [], "every column, scrolled")
        burst(app, ["x", "v"])
        await until(pilot, lambda: screen.query_one("#charts").display and not table.display, "the charts")
        # The header keeps its height whatever the state, and every line fits 80 columns.
        assert len(screen.view.header_lines(78)) == 5
    async with LamforestApp(backend).run_test(size=(120, 40)) as pilot:
        pilot.app.open_build("small")
        await until(pilot, lambda: isinstance(pilot.app.screen, BuildScreen) and pilot.app.screen.view, "the build")
        assert pilot.app.screen.query_one("#charts").display  # beside the table from 120 columns
    # One format for money, CLI and TUI alike: no scientific notation.
    assert fmt_usd(0.0000617) == fmt.usd(0.0000617) == "$0.0000617"
    assert fmt.ms(15_044) == fmt.secs(15.044) == "15.04s"


async def test_a_second_export_and_predict_to_the_default_path_work_and_overwriting_asks(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lamforest_tui.screens.export import ExportScreen
    from lamforest_tui.screens.predict_ask import PredictAskScreen
    from lamforest_tui.screens.prediction import PredictionScreen

    monkeypatch.chdir(tmp_path)
    driver.create(backend, BuildSpec(name="twice", data="iris", trees=2, grove=1))
    assert driver.run(backend, "twice", workers=1).state == "done"
    app = LamforestApp(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_build("twice")
        await until(pilot, lambda: isinstance(app.screen, BuildScreen) and app.screen.view is not None, "the build")
        screen = app.screen
        for n in (1, 2):
            burst(app, ["e"])
            await until(pilot, lambda: isinstance(app.screen, ExportScreen), "the export dialog")
            burst(app, ["enter"])
            await until(pilot, lambda: app.screen is screen, "back")
            await app.workers.wait_for_complete()
            assert (tmp_path / "twice.joblib").exists() and (n == 1 or (tmp_path / "twice-2.joblib").exists())

        async def export_says(path: Path, said: str) -> None:
            """Export to ``path``: the dialog says ``said`` and stays open."""
            burst(app, ["e"])
            await until(pilot, lambda: isinstance(app.screen, ExportScreen), "the export dialog")
            app.screen.query_one("#export-path", Input).value = str(path)
            burst(app, ["enter"])
            await until(pilot, lambda: said in str(app.screen.query_one("#export-error").render()), said)

        # A name that says no format the export writes.
        await export_says(tmp_path / "twice.onnx", "not a model format")
        burst(app, ["escape"])
        await until(pilot, lambda: app.screen is screen, "back")
        assert not (tmp_path / "twice.onnx").exists()
        # The path of a file that exists: said, and enter again overwrites it.
        (tmp_path / "twice.joblib").write_bytes(b"old")
        await export_says(tmp_path / "twice.joblib", "already exists")
        burst(app, ["enter"])
        await until(pilot, lambda: app.screen is screen, "back")
        await app.workers.wait_for_complete()
        assert (tmp_path / "twice.joblib").read_bytes() != b"old"
        for _ in (1, 2):
            burst(app, ["p"])
            await until(pilot, lambda: isinstance(app.screen, PredictAskScreen), "the predict dialog")
            app.screen.query_one("#predict-out", Input).focus()
            burst(app, ["enter"])
            await until(pilot, lambda: isinstance(app.screen, PredictionScreen), "the prediction")
            burst(app, ["escape"])
            await until(pilot, lambda: app.screen is screen, "back")
    assert (tmp_path / "twice-predictions.csv").exists() and (tmp_path / "twice-predictions-2.csv").exists()


async def test_changing_only_the_seed_keeps_the_estimate_and_the_hint_names_every_field(backend: Backend) -> None:
    from lamforest.driver.estimate import cache_dir
    from lamforest.driver.sample import measure_sample

    app = LamforestApp(backend)
    async with app.run_test(size=(120, 40)) as pilot:
        form = await open_form(pilot)
        form.query_one("#in-dataset", Select).value = "iris"
        form.query_one("#in-seed", Input).value = "5"
        form.query_one("#in-max_depth", Input).value = "3"
        await until(pilot, lambda: "--seed 5" in form.estimated, "the hint, with the seed")
        assert "no measured sample" in form.estimated and "--param max_depth=3" in form.estimated
        assert "--data iris" in form.estimated
        form.query_one("#in-seed", Input).value = "0"
        await pilot.pause()
        measure_sample(form.spec().validated(), cache_dir(), budget_s=0.5, max_trees=4)
        form.query_one("#in-trees", Input).value = "120"
        await until(pilot, lambda: form.estimated.startswith("estimate on Lambda"), "an estimate")
        burst(app, ["tab"])  # leave the trees field for another; then only the seed changes
        form.query_one("#in-seed", Input).value = "7"
        await until(pilot, lambda: "seed 0" in form.estimated, "the seed-0 sample standing in")
        assert form.estimated.startswith("estimate on Lambda") and "12 groves" in form.estimated


async def test_the_builds_list_has_the_keys_of_ops_tuis_and_keeps_the_cursor_on_the_build_seen(
    backend: Backend,
) -> None:
    from lamforest_tui.screens.confirm import ConfirmScreen

    for i, name in enumerate(("alpha", "bravo", "charlie")):
        write_finished_build(backend.store, name, groves=2, created=FIXED_CREATED + i)
    app = LamforestApp(backend)
    async with app.run_test(size=(120, 40)) as pilot:
        home = app.screen
        assert isinstance(home, BuildsScreen)
        await until(pilot, lambda: len(home.rows) == 3, "the list")
        assert home.current_name == "charlie"  # newest first
        burst(app, ["G"])
        await until(pilot, lambda: home.current_name == "alpha", "G: the last")
        burst(app, ["k", "k", "j"])
        await until(pilot, lambda: home.current_name == "bravo", "k k j")
        burst(app, ["g"])
        await until(pilot, lambda: home.current_name == "charlie", "g: the first")
        burst(app, ["o"])  # sort by name, a to z
        await until(pilot, lambda: [r.name for r in home._shown] == ["alpha", "bravo", "charlie"], "by name")
        assert "created" in [k for k, _l, _w in home._columns]  # creation time at 120 columns
        burst(app, ["G", "enter"])
        await until(pilot, lambda: isinstance(app.screen, BuildScreen), "the last row opened")
        assert app.screen.build_name == "charlie"
        burst(app, ["escape"])
        await until(pilot, lambda: app.screen is home, "back")
        # Open alpha (as the form does with a build it starts); while away a build appears above it.
        app.open_build("alpha")
        await until(pilot, lambda: isinstance(app.screen, BuildScreen), "alpha")
        write_finished_build(backend.store, "aardvark", groves=2, created=FIXED_CREATED + 9)
        burst(app, ["escape"])
        await until(pilot, lambda: app.screen is home and len(home.rows) == 4, "back, four builds")
        assert home.current_name == "alpha"
        # A question on top does not freeze the list under it.
        write_plan(backend.store, "queued-one", trees=10, grove=5, created=FIXED_CREATED + 20)
        app.push_screen(ConfirmScreen("?"))
        await until(pilot, lambda: len(home.rows) == 5, "the list reads on under the question")
        burst(app, ["escape", "ctrl+c"])  # nothing runs here: ctrl+c quits at once
        await until(pilot, lambda: not app.is_running, "quit")


async def test_the_early_projection_does_not_spread_cold_starts_over_every_grove(backend: Backend) -> None:
    now = time.time()
    plan = write_plan(backend.store, "early", trees=100, grove=5, created=now - 10)
    write_driver(backend.store, "early", 1, at=now - 10, renewed=now)
    for g in (0, 1):  # two workers' first groves: 2 s of cold start each, 50 ms of fitting
        write_grove(backend.store, plan, g, "done", started=now - 8, duration_s=0.05, init_ms=2056.0)
    write_grove(backend.store, plan, 2, "done", started=now - 5, duration_s=0.05)
    app = LamforestApp(backend)
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_build("early")
        await until(pilot, lambda: isinstance(app.screen, BuildScreen) and app.screen.view is not None, "the build")
        view = app.screen.view
        st = driver.status(backend, "early")
        warm = next(r.cost_usd for r in st.rows if r.grove == 2)
        truth = st.cost_usd + warm * 17  # the 17 groves left, each warm
        assert st.projected_cost_usd > 5 * truth  # what it said before: the cold starts spread over 100 trees
        assert view.projected_usd == pytest.approx(truth, rel=0.3)
