"""``e``: where to write the merged model."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from lamforest_tui.widgets.footer import KeysFooter
from lamforest_tui.widgets.steady_input import SteadyInput


class ExportScreen(ModalScreen[Path | None]):
    BINDINGS = [Binding("escape", "close", "Cancel", id="export.close")]

    def __init__(self, build: str) -> None:
        super().__init__()
        self.build = build

    def compose(self) -> ComposeResult:
        with Vertical(id="export-body", classes="dialog"):
            yield Static(
                f"[b]Export {self.build}[/b]: .joblib for any scikit-learn user, or .skops (the safe format)",
                classes="dialog-title",
            )
            yield SteadyInput(value=str(Path.cwd() / f"{self.build}.joblib"), id="export-path")
            yield Static("", id="export-error", classes="error")
            yield Static("enter: export   esc: cancel", classes="hint")
        yield KeysFooter()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:  # say so, rather than close as if exported
            self.query_one("#export-error", Static).update("give a path: a .joblib or .skops file")
            return
        self.dismiss(Path(text).expanduser())

    def action_close(self) -> None:
        self.dismiss(None)
