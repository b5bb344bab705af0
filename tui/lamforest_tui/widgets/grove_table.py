"""The live per-grove table: one row per grove, keyed by grove id, diffed cell by cell."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from lamforest_tui.view import GROVE_COLUMNS, state_style

STATE_COL = [key for key, _label, _w in GROVE_COLUMNS].index("state")


class GroveTable(DataTable[str | Text]):
    """Rows are added once; after that only changed cells are updated (``update_cell``)."""

    # Fixed columns plus one cell of padding each side, plus the vertical scrollbar.
    DEFAULT_CSS = f"""
    GroveTable {{ height: 1fr; width: {sum(w + 2 for _k, _l, w in GROVE_COLUMNS) + 2}; }}
    """

    BINDINGS = [Binding("enter", "select_cursor", "Grove detail", id="groves.detail")]

    @dataclass
    class GroveChosen(Message):
        """The user pressed enter on a grove."""

        grove: int

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self._shown: dict[int, tuple[str, ...]] = {}
        self.updates = 0  # cells updated so far (the benchmark reads it)

    def on_mount(self) -> None:
        for key, label, width in GROVE_COLUMNS:
            self.add_column(label, key=key, width=width)

    @staticmethod
    def _cell(index: int, value: str) -> str | Text:
        if index == STATE_COL:
            return Text(value, style=state_style(value))
        return Text(value, justify="right")

    def apply(self, cells: dict[int, tuple[str, ...]]) -> int:
        """Bring the table to ``cells`` (grove -> formatted row); return the number of cells touched."""
        touched = 0
        keys = [key for key, _label, _w in GROVE_COLUMNS]
        for grove, row in cells.items():
            old = self._shown.get(grove)
            if old is None:
                self.add_row(*(self._cell(i, v) for i, v in enumerate(row)), key=str(grove))
                touched += len(row)
            elif old != row:
                rk = str(grove)
                for i, (a, b) in enumerate(zip(old, row, strict=True)):
                    if a != b:
                        self.update_cell(rk, keys[i], self._cell(i, b))
                        touched += 1
            self._shown[grove] = row
        self.updates += touched
        return touched

    @property
    def current_grove(self) -> int | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return int(key) if key is not None else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.GroveChosen(int(event.row_key.value)))
