"""``p``: what to predict (a file of rows, or the held-out test set) and where to write the predictions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from lamforest.output import check_target
from lamforest.spec import SpecError
from lamforest_tui.widgets.footer import KeysFooter
from lamforest_tui.widgets.steady_input import SteadyInput


@dataclass(frozen=True)
class PredictRequest:
    """``data`` None: the held-out test set. ``out`` None: show the predictions, write nothing."""

    data: str | None
    out: str | None


class PredictAskScreen(ModalScreen[PredictRequest | None]):
    BINDINGS = [Binding("escape", "close", "Cancel", id="predict-ask.close")]

    def __init__(self, build: str) -> None:
        super().__init__()
        self.build = build

    def compose(self) -> ComposeResult:
        with Vertical(id="predict-ask-body", classes="dialog"):
            yield Static(f"[b]Predict with {self.build}[/b]", classes="dialog-title")
            yield Static("rows to predict: a .csv/.parquet/.npy file (empty: the held-out test set)", classes="hint")
            yield SteadyInput(placeholder="new_rows.csv", id="predict-data")
            yield Static("write the predictions to (.csv/.parquet/.npy; empty: only show them)", classes="hint")
            yield SteadyInput(value=str(Path.cwd() / f"{self.build}-predictions.csv"), id="predict-out")
            yield Static("", id="predict-error", classes="error")
            yield Static("enter: predict   esc: cancel", classes="hint")
        yield KeysFooter()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        data = self.query_one("#predict-data", Input).value.strip() or None
        out = self.query_one("#predict-out", Input).value.strip() or None
        if out is not None:
            try:
                check_target(out)  # an existing file or a missing folder: say so here, not after predicting
            except SpecError as exc:
                self.query_one("#predict-error", Static).update(str(exc))
                self.query_one("#predict-out", Input).add_class("invalid")
                return
        self.dismiss(PredictRequest(data=str(Path(data).expanduser()) if data else None, out=out))

    def action_close(self) -> None:
        self.dismiss(None)
