"""The builds list: a DataTable whose ``enter`` says what it does (open the build)."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable


class BuildsTable(DataTable[str | Text]):
    BINDINGS = [Binding("enter", "select_cursor", "Open", id="builds.open")]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "select_cursor":
            return True if self.row_count else None
        return super().check_action(action, parameters)
