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
from lamforest_tui.screens.export import free_path
from lamforest_tui.widgets.footer import KeysFooter
from lamforest_tui.widgets.steady_input import SteadyInput


@dataclass(frozen=True)
class PredictRequest:
    """``data`` None: the held-out test set. ``out`` None: show the predictions, write nothing."""

    data: str | None
    out: str | None
    force: bool = False  # overwrite the file at ``out`` (the user said so)


class PredictAskScreen(ModalScreen[PredictRequest | None]):
    BINDINGS = [Binding("escape", "close", "Cancel", id="predict-ask.close")]

    def __init__(self, build: str) -> None:
        super().__init__()
        self.build = build
        self._overwrite: str | None = None  # the path the user was told exists (enter again overwrites it)

    def compose(self) -> ComposeResult:
        with Vertical(id="predict-ask-body", classes="dialog"):
            yield Static(f"[b]Predict with {self.build}[/b]", classes="dialog-title")
            yield Static("rows to predict: a .csv/.parquet/.npy file (empty: the held-out test set)", classes="hint")
            yield SteadyInput(placeholder="new_rows.csv", id="predict-data")
            yield Static("write the predictions to (.csv/.parquet/.npy; empty: only show them)", classes="hint")
            yield SteadyInput(value=str(free_path(Path.cwd(), f"{self.build}-predictions", ".csv")), id="predict-out")
            yield Static("", id="predict-error", classes="error")
            yield Static("enter: predict   esc: cancel", classes="hint")
        yield KeysFooter()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        data = self.query_one("#predict-data", Input).value.strip() or None
        out = self.query_one("#predict-out", Input).value.strip() or None
        force = out is not None and out == self._overwrite
        if out is not None:
            try:
                check_target(out, force)  # an existing file or a missing folder: say so here, not after predicting
            except SpecError as exc:
                box = self.query_one("#predict-out", Input)
                if "already exists" in exc.message:
                    self._overwrite = out
                    message = f"{out} already exists: enter again overwrites it, or change the name"
                else:
                    message = str(exc)
                    box.add_class("invalid")
                self.query_one("#predict-error", Static).update(message)
                return
        self.dismiss(PredictRequest(data=str(Path(data).expanduser()) if data else None, out=out, force=force))

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "predict-out" and self._overwrite is not None and event.value.strip() != self._overwrite:
            self._overwrite = None
            self.query_one("#predict-error", Static).update("")

    def action_close(self) -> None:
        self.dismiss(None)
