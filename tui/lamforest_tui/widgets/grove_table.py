"""The live per-grove table: one line per grove, keyed by grove id, redrawn line by line.

Textual's ``DataTable`` keys every render cache on one table-wide update
counter, so a single ``update_cell`` (a running grove's duration, twice a
second) makes it render every visible cell again through Rich: ~100 ms for
a screenful of a 1,000-grove build, on the UI thread, each refresh. This
table draws lines itself (Textual's line API): each grove's line is built
once from its cells and kept; ``apply`` rebuilds only the lines whose cells
changed and asks the screen to repaint only those lines, if they are in view.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from lamforest_tui.view import GROVE_COLUMNS, GROVE_DROP_ORDER

STATE_COLORS = {"done": "green", "running": "yellow", "failed": "red", "cancelled": "magenta", "queued": "bright_black"}
KEYS = [key for key, _label, _w in GROVE_COLUMNS]
STATE_COL = KEYS.index("state")


def _fit(text: str, width: int, right: bool) -> str:
    text = text[:width]
    return text.rjust(width) if right else text.ljust(width)


def columns_width(columns: list[int]) -> int:
    """Cells taken by these columns (one of padding each side) and the vertical scrollbar."""
    return sum(GROVE_COLUMNS[i][2] + 2 for i in columns) + 2


ALL_COLUMNS = list(range(len(GROVE_COLUMNS)))
FULL_WIDTH = columns_width(ALL_COLUMNS)
# The table with its main columns: the first three of the drop order given up (charts fit beside it from here).
MAIN_WIDTH = columns_width([i for i in ALL_COLUMNS if KEYS[i] not in GROVE_DROP_ORDER[:3]])


# What the help says of ``x`` (by the columns' labels).
GIVING_WAY = ", ".join(label for key in GROVE_DROP_ORDER for k, label, _w in GROVE_COLUMNS if k == key)


def fitting_columns(width: int) -> list[int]:
    """The columns that fit ``width``, the others given up in ``GROVE_DROP_ORDER``."""
    cols = list(ALL_COLUMNS)
    for key in GROVE_DROP_ORDER:
        if columns_width(cols) <= width:
            break
        cols.remove(KEYS.index(key))
    return cols


class GroveTable(ScrollView, can_focus=True):
    """A header line, then one line per grove; a row cursor; ``enter`` posts ``GroveChosen``."""

    # Fixed columns plus one cell of padding each side, plus the vertical scrollbar; the screen sets the width.
    DEFAULT_CSS = f"""
    GroveTable {{ height: 1fr; width: {FULL_WIDTH}; }}
    GroveTable > .grove-table--header {{ text-style: bold; color: $text-accent; }}
    GroveTable > .grove-table--cursor {{ background: $block-cursor-background; color: $block-cursor-foreground; }}
    GroveTable:blur > .grove-table--cursor {{ background: $block-cursor-blurred-background; }}
    """
    COMPONENT_CLASSES = {"grove-table--header", "grove-table--cursor"}

    BINDINGS = [
        Binding(
            "enter",
            "select_cursor",
            "Detail",
            tooltip="the selected grove's record and REPORT line",
            id="groves.detail",
        ),
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        Binding("g", "first", "First", show=False),
        Binding("G", "last", "Last", show=False),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding(
            "x",
            "all_columns",
            "Columns",
            tooltip=f"every column, left/right scroll (narrow terminals give up {GIVING_WAY}, in this order)",
            id="groves.columns",
        ),
        Binding("left", "scroll_columns(-8)", "Scroll left", show=False),
        Binding("right", "scroll_columns(8)", "Scroll right", show=False),
    ]

    @dataclass
    class GroveChosen(Message):
        """The user pressed enter on a grove."""

        grove: int

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._order: list[int] = []  # groves, top to bottom
        self._index: dict[int, int] = {}  # grove -> its line (0 = the first grove)
        self._cells: dict[int, tuple[str, ...]] = {}
        self._lines: dict[int, Strip] = {}  # grove -> its drawn line (without the cursor)
        self.cursor_row = 0
        self.updates = 0  # cells changed so far (the benchmark reads it)
        self.columns: list[int] = list(ALL_COLUMNS)  # shown, by index into GROVE_COLUMNS
        self.show_all = False  # x: every column, scrolled sideways with left/right

    @dataclass
    class ColumnsToggled(Message):
        """``x`` was pressed: the screen lays the table out again."""

    # ------------------------------------------------------------------ columns

    @property
    def hidden(self) -> list[str]:
        """Labels of the columns given up at this width."""
        return [GROVE_COLUMNS[i][1] for i in ALL_COLUMNS if i not in self.columns]

    def fit(self, width: int) -> None:
        """Show the columns that fit ``width`` (all of them, scrolled, after ``x``)."""
        cols = list(ALL_COLUMNS) if self.show_all else fitting_columns(width)
        if cols == self.columns:
            return
        self.columns = cols
        self._lines.clear()
        self.virtual_size = Size(self._width(), len(self._order) + 1)
        self.scroll_to(x=0, animate=False)
        self.refresh()
        self.refresh_bindings()

    def action_all_columns(self) -> None:
        self.show_all = not self.show_all
        self.post_message(self.ColumnsToggled())

    def action_scroll_columns(self, step: int) -> None:
        self.scroll_to(x=max(0, self.scroll_offset.x + step), animate=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "all_columns":
            return self.show_all or bool(self.hidden)  # hidden when every column fits already
        return True

    # ------------------------------------------------------------------ data

    @property
    def row_count(self) -> int:
        return len(self._order)

    def get_cell(self, row_key: str, column_key: str) -> str:
        return self._cells[int(row_key)][KEYS.index(column_key)]

    @property
    def current_grove(self) -> int | None:
        return self._order[self.cursor_row] if self._order else None

    def apply(self, cells: dict[int, tuple[str, ...]]) -> int:
        """Bring the table to ``cells`` (grove -> formatted row); return the number of cells changed."""
        touched = 0
        grew = False
        for grove, row in cells.items():
            old = self._cells.get(grove)
            if old == row:
                continue
            if old is None:
                self._index[grove] = len(self._order)
                self._order.append(grove)
                grew = True
                touched += len(row)
            else:
                touched += sum(1 for a, b in zip(old, row, strict=True) if a != b)
            self._cells[grove] = row
            self._lines.pop(grove, None)
            if not grew:
                self._repaint(self._index[grove])
        if grew:
            self.virtual_size = Size(self._width(), len(self._order) + 1)
            self.refresh()
        self.updates += touched
        return touched

    # ------------------------------------------------------------------ drawing

    def _width(self) -> int:
        return columns_width(self.columns) - 2

    def _segments(self, cells: tuple[str, ...], base: Style, colored: bool) -> list[Segment]:
        out = []
        for i in self.columns:
            _key, _label, width = GROVE_COLUMNS[i]
            text = cells[i]
            style = base
            if colored and i == STATE_COL:
                style = base + Style(color=STATE_COLORS.get(text, "white"))
            out.append(Segment(" " + _fit(text, width, right=i != STATE_COL) + " ", style))
        return out

    def _header(self) -> Strip:
        style = self.get_component_rich_style("grove-table--header")
        labels = tuple(label for _k, label, _w in GROVE_COLUMNS)
        return Strip(self._segments(labels, style, colored=False), self._width())

    def _line(self, index: int) -> Strip:
        grove = self._order[index]
        if index == self.cursor_row:
            style = self.get_component_rich_style("grove-table--cursor")
            return Strip(self._segments(self._cells[grove], style, colored=False), self._width())
        line = self._lines.get(grove)
        if line is None:
            line = self._lines[grove] = Strip(
                self._segments(self._cells[grove], self.rich_style, colored=True), self._width()
            )
        return line

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        scroll_x, scroll_y = self.scroll_offset
        if y == 0:
            strip = self._header()
        else:
            index = scroll_y + y - 1
            if not 0 <= index < len(self._order):
                return Strip.blank(width, self.rich_style)
            strip = self._line(index)
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

    def _repaint(self, index: int) -> None:
        """Repaint one grove's line if it is in view."""
        y = index - self.scroll_offset.y + 1
        if 1 <= y < self.scrollable_content_region.height:
            self.refresh(Region(0, y, self.size.width, 1))

    # ------------------------------------------------------------------ cursor

    def _move(self, row: int) -> None:
        if not self._order:
            return
        old, self.cursor_row = self.cursor_row, max(0, min(len(self._order) - 1, row))
        if old == self.cursor_row:
            return
        view = max(1, self.scrollable_content_region.height - 1)  # lines for groves (under the header)
        top = self.scroll_offset.y
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)  # ScrollView repaints all on scroll
        elif self.cursor_row >= top + view:
            self.scroll_to(y=self.cursor_row - view + 1, animate=False)
        self._repaint(old)
        self._repaint(self.cursor_row)

    def action_cursor_up(self) -> None:
        self._move(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self._move(self.cursor_row + 1)

    def action_page_up(self) -> None:
        self._move(self.cursor_row - max(1, self.scrollable_content_region.height - 2))

    def action_page_down(self) -> None:
        self._move(self.cursor_row + max(1, self.scrollable_content_region.height - 2))

    def action_first(self) -> None:
        self._move(0)

    def action_last(self) -> None:
        self._move(len(self._order) - 1)

    def action_select_cursor(self) -> None:
        grove = self.current_grove
        if grove is not None:
            self.post_message(self.GroveChosen(grove))

    def on_click(self, event: events.Click) -> None:
        index = self.scroll_offset.y + event.y - 1
        if event.y >= 1 and 0 <= index < len(self._order):
            self._move(index)
            if event.chain > 1:
                self.action_select_cursor()

    def on_focus(self) -> None:
        self._repaint(self.cursor_row)

    def on_blur(self) -> None:
        self._repaint(self.cursor_row)
