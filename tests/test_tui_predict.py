"""lamforest-tui: predict new rows of a grove set to a file, and see where they went."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
from rich.console import Console
from textual.widgets import Input

from lamforest import data, driver
from lamforest.backend import open_backend
from lamforest.driver.finish import MergePolicy
from lamforest.spec import BuildSpec
from lamforest_tui.app import LamforestApp
from lamforest_tui.screens.build import BuildScreen
from lamforest_tui.screens.predict_ask import PredictAskScreen
from lamforest_tui.screens.prediction import PredictionScreen, preview_table
from tests.test_tui import SIZE, until


async def test_predict_unlabelled_rows_of_a_grove_set_to_a_file(home: Path, tmp_path: Path) -> None:
    backend = open_backend("local", home=home)
    driver.create(backend, BuildSpec(name="gs", data="iris", trees=6, grove=3, seed=2))
    st = driver.run(backend, "gs", sync=True, merge=MergePolicy("never"))
    assert st.state == "done" and st.model is None
    rows = tmp_path / "new.npy"
    X = data.load("iris").X[::10]
    np.save(rows, X)
    out = tmp_path / "pred.csv"
    app = LamforestApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        screen = BuildScreen(backend, "gs")
        app.push_screen(screen)
        await until(pilot, lambda: screen.view is not None and screen.view.state == "done", "the build is done")
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, PredictAskScreen), "what to predict")
        ask = app.screen
        ask.query_one("#predict-data", Input).value = str(rows)
        ask.query_one("#predict-out", Input).value = str(out)
        ask.query_one("#predict-out", Input).focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PredictionScreen), "the prediction")
        shown = app.screen
        assert isinstance(shown, PredictionScreen)
        assert shown.pred.out == str(out) and shown.pred.metric is None
        assert str(out) in str(shown.query_one("#prediction-out").render())
        shown.query_one("#prediction-preview")  # the preview is on screen; its text:
        console = Console(width=150, record=True, file=io.StringIO())
        console.print(preview_table(shown.pred))
        preview = console.export_text()
        assert "probability of each class" in preview and "first 10 of 15 rows" in preview
        assert f"{shown.pred.proba[0, 0]:.4f}" in preview
        await pilot.press("escape")

        # an existing file is refused in the dialog, before anything is predicted
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, PredictAskScreen), "asked again")
        ask = app.screen
        ask.query_one("#predict-data", Input).value = str(rows)
        ask.query_one("#predict-out", Input).value = str(out)
        ask.query_one("#predict-out", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, PredictAskScreen)
        assert "already exists" in str(ask.query_one("#predict-error").render())
    written = pacsv.read_csv(out)
    assert written.num_rows == 15 and written.column_names == ["prediction", "proba_0", "proba_1", "proba_2"]
    assert np.array_equal(written.column("prediction").to_numpy(), driver.predict(backend, "gs", str(rows)).predictions)
    backend.close()
