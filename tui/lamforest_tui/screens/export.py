"""``e``: where to write the merged model.

The path offered is one not taken yet (``NAME.joblib``, then ``NAME-2.joblib``, ...), so a second export
works as the first did. A path that exists is said beside the field; enter again on the same path
overwrites it (the TUI's way of the CLI's ``--force``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from lamforest.driver import export_format
from lamforest.spec import SpecError
from lamforest_tui.widgets.footer import KeysFooter
from lamforest_tui.widgets.steady_input import SteadyInput


def free_path(folder: Path, stem: str, suffix: str) -> Path:
    """``folder/stem+suffix``, or the first ``stem-N+suffix`` that does not exist yet."""
    path = folder / f"{stem}{suffix}"
    n = 2
    while path.exists() or path.is_symlink():
        path = folder / f"{stem}-{n}{suffix}"
        n += 1
    return path


@dataclass(frozen=True)
class ExportRequest:
    path: Path
    force: bool  # overwrite the file there, and merge a grove set above its merge limit


class ExportScreen(ModalScreen[ExportRequest | None]):
    BINDINGS = [Binding("escape", "close", "Cancel", id="export.close")]

    def __init__(self, build: str) -> None:
        super().__init__()
        self.build = build
        self._overwrite: str | None = None  # the path the user was told exists (enter again overwrites it)

    def compose(self) -> ComposeResult:
        with Vertical(id="export-body", classes="dialog"):
            yield Static(
                f"[b]Export {self.build}[/b]: .joblib or .pkl for any scikit-learn user, .skops (the safe format)",
                classes="dialog-title",
            )
            yield SteadyInput(value=str(free_path(Path.cwd(), self.build, ".joblib")), id="export-path")
            yield Static("", id="export-error", classes="error")
            yield Static("enter: export   esc: cancel", classes="hint")
        yield KeysFooter()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        error = self.query_one("#export-error", Static)
        if not text:  # say so, rather than close as if exported
            error.update("give a path: a .joblib, .pkl or .skops file")
            return
        path = Path(text).expanduser()
        if path.is_dir():
            error.update(f"{path} is a folder; give a file name, e.g. {path / (self.build + '.joblib')}")
            return
        try:
            export_format(path)  # a name that says no format the export writes: said here, the dialog open
        except SpecError as exc:
            error.update(exc.message)
            return
        if (path.exists() or path.is_symlink()) and self._overwrite != text:
            self._overwrite = text
            error.update(f"{path} already exists: enter again overwrites it, or change the name")
            return
        self.dismiss(ExportRequest(path, force=self._overwrite == text))

    def on_input_changed(self, event: Input.Changed) -> None:
        if self._overwrite is not None and event.value.strip() != self._overwrite:
            self._overwrite = None
            self.query_one("#export-error", Static).update("")

    def action_close(self) -> None:
        self.dismiss(None)


def merge_question(error: SpecError) -> str:
    """The merge limit's refusal, said for the TUI: what it costs, and that yes writes it anyway."""
    what = error.message.split("; add --force", 1)[0]
    return f"{what}.\nWrite it anyway (y), or predict without merging (n)?"
