"""lamforest-tui driven through Textual's pilot, against a real local backend (tmp store).

No sleeps as synchronisation: workers are awaited with
``app.workers.wait_for_complete()``, and app state is polled a bounded
number of times with ``pilot.pause``.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from lamforest import driver
from lamforest.backend import Backend, open_backend
from lamforest.spec import BuildSpec
from lamforest_tui.app import LamforestApp
from lamforest_tui.screens.build import BuildScreen
from lamforest_tui.screens.builds import BuildsScreen
from lamforest_tui.screens.confirm import ConfirmScreen
from lamforest_tui.screens.grove import GroveScreen
from lamforest_tui.screens.new_build import NewBuildScreen
from lamforest_tui.screens.predict_ask import PredictAskScreen
from lamforest_tui.screens.prediction import PredictionScreen
from lamforest_tui.widgets.grove_table import GroveTable
from tests.waits import until

SIZE = (160, 48)


@pytest.fixture
def backend(home: Path) -> Backend:
    return open_backend("local", home=home)


def store_builds(home: Path) -> list[str]:
    root = home / "builds"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


async def fill_form(pilot: Pilot, **values: str) -> NewBuildScreen:
    await pilot.press("n")
    await until(pilot, lambda: isinstance(pilot.app.screen, NewBuildScreen), "the form")
    form = pilot.app.screen
    assert isinstance(form, NewBuildScreen)
    for key, value in values.items():
        form.query_one(f"#in-{key}", Input).value = value
    await pilot.pause()
    return form


def state_cells(screen: BuildScreen) -> list[str]:
    table = screen.query_one(GroveTable)
    return [str(table.get_cell(str(g), "state")) for g in range(table.row_count)]


async def test_start_digits_build_from_form_watch_and_predict(backend: Backend, home: Path) -> None:
    app = LamforestApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        await fill_form(pilot, name="digits-ui", trees="20", grove="5")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, BuildScreen), "the build screen")
        screen = app.screen
        assert isinstance(screen, BuildScreen)
        assert "digits-ui" in app.runs
        await app.workers.wait_for_complete()  # the driver ran the build to the end
        assert app.runs["digits-ui"].result.state == "done"
        await until(pilot, lambda: screen.view is not None and screen.view.state == "done", "the screen sees done")
        assert state_cells(screen) == ["done"] * 4
        assert screen.view is not None and screen.view.counts["done"] == 4
        assert screen.view.cost_usd > 0 and screen.view.estimate
        assert screen.reports, "REPORT lines reached the log pane"

        await pilot.press("enter")  # grove 0: its record and REPORT line
        await until(pilot, lambda: isinstance(app.screen, GroveScreen), "the grove detail")
        detail = app.screen
        assert isinstance(detail, GroveScreen)
        assert detail.record["state"] == "done" and detail.report_line and "Billed Duration" in detail.report_line
        await pilot.press("escape")

        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, PredictAskScreen), "what to predict")
        app.screen.query_one("#predict-out", Input).value = ""  # the held-out set, shown only
        app.screen.query_one("#predict-data", Input).focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PredictionScreen), "the prediction")
        pred = app.screen
        assert isinstance(pred, PredictionScreen)
        assert pred.pred.metric == "accuracy" and pred.pred.score is not None and pred.pred.score > 0.8
        assert pred.pred.out is None
        assert "accuracy" in str(pred.query_one("#prediction-score").render())
        await pilot.press("escape", "escape")
        await until(pilot, lambda: isinstance(app.screen, BuildsScreen), "back home")
        home_screen = app.screen
        assert isinstance(home_screen, BuildsScreen)
        await until(pilot, lambda: [r.state for r in home_screen.rows] == ["done"], "the list shows it done")
    assert driver.status(backend, "digits-ui").state == "done"


async def test_invalid_form_shows_error_beside_field_and_starts_nothing(backend: Backend, home: Path) -> None:
    app = LamforestApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        form = await fill_form(pilot, name="bad", trees="abc")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "whole number" in str(form.query_one("#err-trees").render())
        assert form.query_one("#in-trees").has_class("invalid")
        assert app.screen is form

        form.query_one("#in-trees", Input).value = "10"
        form.query_one("#in-grove", Input).value = "50"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "larger than trees" in str(form.query_one("#err-grove").render())
        assert str(form.query_one("#err-trees").render()) == ""

        # The data is checked by driver.create in a worker: a missing file.
        form.query_one("#in-grove", Input).value = "5"
        form.query_one("#in-dataset").value = "file"
        await pilot.pause()
        form.query_one("#in-data", Input).value = str(home / "nope.csv")
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "no such file" in str(form.query_one("#err-data").render())
        assert app.screen is form
        assert app.runs == {}
        await pilot.press("escape")
    assert store_builds(home) == []
    assert not (home / "data").exists() or not any((home / "data").iterdir())


async def test_cancel_asks_first_then_cancels(backend: Backend, home: Path) -> None:
    driver.create(backend, BuildSpec(name="queued-one", data="iris", trees=10, grove=5))
    app = LamforestApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, BuildsScreen)
        await until(pilot, lambda: screen.current is not None, "the build in the list")
        assert screen.current is not None and screen.current.state == "queued"

        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("n")
        await until(pilot, lambda: app.screen is screen, "the confirmation closed")
        await app.workers.wait_for_complete()
        assert not (home / "builds" / "queued-one" / "CANCEL").exists()

        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("y")
        await until(pilot, lambda: (home / "builds" / "queued-one" / "CANCEL").exists(), "the cancel marker")
        await until(pilot, lambda: screen.current is not None and screen.current.state == "cancelled", "cancelled")
        assert screen.check_action("cancel_build", ()) is None  # dimmed now


async def test_cancel_a_running_build_from_its_screen(backend: Backend, home: Path) -> None:
    app = LamforestApp(backend, workers=1)  # one core left for the UI and the test
    async with app.run_test(size=SIZE) as pilot:
        await fill_form(pilot, name="big", trees="2000", grove="5")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, BuildScreen), "the build screen")
        screen = app.screen
        assert isinstance(screen, BuildScreen)
        await until(pilot, lambda: screen.view is not None and screen.view.state == "running", "running", tries=1200)
        assert screen.check_action("predict", ()) is None  # dimmed until done
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("y")
        await app.workers.wait_for_complete()
        final = app.runs["big"].result
        assert final.state == "cancelled"
        assert final.count("done") < 400
        await until(pilot, lambda: screen.view is not None and screen.view.state == "cancelled", "screen cancelled")


async def test_quit_with_a_running_build_asks_and_leaves_it_resumable(backend: Backend, home: Path) -> None:
    app = LamforestApp(backend, workers=1)  # one core left for the UI and the test
    async with app.run_test(size=SIZE) as pilot:
        await fill_form(pilot, name="left", trees="2000", grove="5")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.running == ["left"], "the driver running")
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the quit question")
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, BuildScreen), "back to the build")
        assert app.is_running
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the quit question")
        await pilot.press("y")
    st = driver.status(backend, "left")
    # Not cancelled, and said honestly the moment the app's driver let go: `finish` resumes it.
    assert st.summary is None and st.state == "interrupted", st.to_json()
    assert not (home / "builds" / "left" / "CANCEL").exists()


async def test_build_started_elsewhere_appears_in_the_list(backend: Backend, home: Path) -> None:
    app = LamforestApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, BuildsScreen)
        await until(pilot, lambda: screen.loaded, "the first listing")
        assert screen.rows == []

        # Another process (the CLI) with its own backend object on the same store.
        def cli() -> None:
            other = open_backend("local", home=home)
            driver.create(other, BuildSpec(name="from-cli", data="wine", trees=10, grove=5))
            driver.run(other, "from-cli", sync=True)

        thread = threading.Thread(target=cli)
        thread.start()
        await until(pilot, lambda: not thread.is_alive(), "the CLI build", tries=1200)
        thread.join()
        await until(pilot, lambda: [(r.name, r.state) for r in screen.rows] == [("from-cli", "done")], "listed")
        row = screen.rows[0]
        assert row.cells[2] == "10/10" and row.cells[7].startswith("accuracy")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, BuildScreen), "opened")
        opened = app.screen
        assert isinstance(opened, BuildScreen)
        await until(pilot, lambda: opened.view is not None, "its view")
        assert state_cells(opened) == ["done", "done"]
        assert opened.check_action("predict", ()) is True


async def test_the_form_builds_on_a_folder_of_parquet_shards(backend: Backend, home: Path, tmp_path: Path) -> None:
    from tests.test_shards import write_shards

    data = write_shards(tmp_path / "shards", n=3, rows=400)
    app = LamforestApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        form = await fill_form(pilot, name="shards-ui", trees="4", grove="2", target="label")
        form.query_one("#in-dataset").value = "file"
        await pilot.pause()
        form.query_one("#in-data", Input).value = str(data)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, BuildScreen), "the build screen")
        await app.workers.wait_for_complete()
        assert app.runs["shards-ui"].result.state == "done"
    plan = driver.load_plan(backend, "shards-ui")
    assert plan.sharded is not None and plan.sharded["shards"] == 3 and plan.n_train + plan.n_test == 1200


async def test_export_to_skops_from_the_tui_writes_a_real_skops_file(
    backend: Backend, home: Path, tmp_path: Path
) -> None:
    from lamforest import safe

    driver.create(backend, BuildSpec(name="ex", data="iris", trees=4, grove=2))
    assert driver.run(backend, "ex", workers=1).state == "done"
    target = tmp_path / "ex.skops"
    app = LamforestApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BuildsScreen) and app.screen.rows, "the list")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, BuildScreen), "the build screen")
        await pilot.press("e")
        await until(pilot, lambda: app.screen.query("#export-path"), "the export dialog")
        app.screen.query_one("#export-path", Input).value = str(target)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, BuildScreen), "back on the build")
        await app.workers.wait_for_complete()
    assert target.read_bytes()[:2] == b"PK"  # a skops file is a zip, not a pickle
    model = safe.load(target)
    assert len(model.estimators_) == 4 and list(model.classes_) == [0, 1, 2]


async def test_a_burst_of_keys_in_the_export_dialog_loses_nothing(backend: Backend, home: Path, tmp_path: Path) -> None:
    from lamforest_tui.screens.export import ExportScreen

    driver.create(backend, BuildSpec(name="kb", data="iris", trees=2, grove=1))
    assert driver.run(backend, "kb", workers=1).state == "done"
    app = LamforestApp(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BuildsScreen) and app.screen.rows, "the list")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, BuildScreen), "the build screen")
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ExportScreen), "the export dialog")
        field = app.screen.query_one("#export-path", Input)
        field.value = str(tmp_path / "kb.joblib")
        # One burst, no pauses: End, six backspaces ("joblib"), then "skops"; then an edit mid-word.
        await pilot.press("end", *["backspace"] * 6, *"skopx", "backspace", "s")
        assert field.value == str(tmp_path / "kb.skops")
        field.value = ""
        await pilot.press("enter")  # an empty path says so and stays open
        assert isinstance(app.screen, ExportScreen)
        assert "give a path" in str(app.screen.query_one("#export-error").render())
        await pilot.press(*str(tmp_path / "kb.skops"), "enter")
        await until(pilot, lambda: isinstance(app.screen, BuildScreen), "back on the build")
        await app.workers.wait_for_complete()
    assert (tmp_path / "kb.skops").read_bytes()[:2] == b"PK"


async def test_a_burst_of_keys_in_the_predict_dialog_loses_nothing(backend: Backend) -> None:
    """Typed as a fast typist types (no pauses), with corrections: every key lands, in order."""
    driver.create(backend, BuildSpec(name="pb", data="iris", trees=2, grove=1))
    assert driver.run(backend, "pb", workers=1).state == "done"
    app = LamforestApp(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BuildsScreen) and app.screen.rows, "the list")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, BuildScreen), "the build screen")
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, PredictAskScreen), "the predict dialog")
        field = app.screen.query_one("#predict-data", Input)
        field.focus()
        await pilot.press(*"abcx", "backspace", "d", "space", *"efgx", "backspace", "backspace", *"gh")
        assert field.value == "abcd efgh"
        await pilot.press("escape")
