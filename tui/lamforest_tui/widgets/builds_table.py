"""The builds list: a DataTable whose ``enter`` says what it does (open the build)."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable


class BuildsTable(DataTable[str | Text]):
    BINDINGS = [
        Binding("enter", "select_cursor", "Open", tooltip="open the selected build", id="builds.open"),
        # The keys of ops TUIs (k9s, htop, less): j/k a row, g/G and home/end the first and last.
        Binding("j", "cursor_down", "Down", show=False, tooltip="down (also the arrow keys)"),
        Binding("k", "cursor_up", "Up", show=False, tooltip="up"),
        Binding("g,home", "first_row", "First", show=False, tooltip="first build"),
        Binding("G,end", "last_row", "Last", show=False, tooltip="last build"),
    ]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]

    def action_first_row(self) -> None:
        self.move_cursor(row=0, animate=False)

    def action_last_row(self) -> None:
        self.move_cursor(row=max(0, self.row_count - 1), animate=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "select_cursor":
            return True if self.row_count else None
        return super().check_action(action, parameters)
