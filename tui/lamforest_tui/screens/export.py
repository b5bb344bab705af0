"""``e``: where to write the merged model."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from lamforest_tui.widgets.footer import KeysFooter


class ExportScreen(ModalScreen[Path | None]):
    BINDINGS = [Binding("escape", "close", "Cancel", id="export.close")]

    def __init__(self, build: str) -> None:
        super().__init__()
        self.build = build

    def compose(self) -> ComposeResult:
        with Vertical(id="export-body", classes="dialog"):
            yield Static(
                f"[b]Export {self.build}[/b]: a joblib file any scikit-learn user can load, or .skops (safe)",
                classes="dialog-title",
            )
            yield Input(value=str(Path.cwd() / f"{self.build}.joblib"), id="export-path")
            yield Static("enter: export   esc: cancel", classes="hint")
        yield KeysFooter()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        self.dismiss(Path(text).expanduser() if text else None)

    def action_close(self) -> None:
        self.dismiss(None)
