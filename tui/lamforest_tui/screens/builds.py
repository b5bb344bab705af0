"""Home: every build in the store, refreshed every 1.5 s from a thread worker.

The store is the truth, so builds started by the CLI in another process (or
before a restart) show up here like any other. One ``BuildsView`` is kept
for the screen's life: a refresh costs one LIST of the names, one LIST per
build still running, and nothing for a finished build once it was read.
Only rows whose cells changed are touched.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Static
from textual.worker import Worker, WorkerState

from lamforest import driver, fmt
from lamforest.backend import Backend
from lamforest.driver import BuildStatus
from lamforest_tui.host import NewBuild, OpenBuild, ResumeBuild, host
from lamforest_tui.screens.confirm import ConfirmScreen
from lamforest_tui.view import ACTIVE, INTERRUPTED, elapsed, state_style
from lamforest_tui.widgets.builds_table import BuildsTable
from lamforest_tui.widgets.footer import KeysFooter
from lamforest_tui.widgets.steady_input import SteadyInput

LIST_S = 1.5
BUILD_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("name", "name", 12),  # the minimum: the name takes what the other columns leave
    ("state", "state", 11),
    ("trees", "trees", 11),
    ("failed", "failed", 6),
    ("elapsed", "elapsed", 8),
    ("billed", "billed", 12),
    ("cost", "cost", 16),
    ("score", "score", 16),
    ("created", "created", 16),
)
# Dropped first when the terminal is narrow, in this order (x shows them all again, scrolled with left/right).
DROP_ORDER = ("billed", "failed", "elapsed", "created", "score")
NAME_MAX = 48


def giving_way() -> str:
    """Which columns narrow terminals give up, and below which width (what ``column_layout`` does)."""
    cols, steps = list(BUILD_COLUMNS), []
    for key in DROP_ORDER:
        steps.append(f"{key} below {columns_width(cols)}")
        cols = [c for c in cols if c[0] != key]
    return f"{steps[0]} columns, then " + ", ".join(steps[1:])


# s is the searches: sort keys are o (next column) and O (reverse), as a cycle through these.
SORTS = ("created", "name", "state", "elapsed", "cost")


def columns_width(cols: list[tuple[str, str, int]]) -> int:
    """Cells these columns take: 2 of padding each, plus the scrollbar."""
    return sum(w + 2 for _k, _l, w in cols) + 2


def column_layout(width: int, every: bool = False) -> list[tuple[str, str, int]]:
    """The columns that fit ``width`` cells, the name widened to the rest; ``every``: all of them, however wide."""
    cols = list(BUILD_COLUMNS)
    used = columns_width
    for key in DROP_ORDER:
        if every or used(cols) <= width:
            break
        cols = [c for c in cols if c[0] != key]
    spare = max(0, width - used(cols))
    return [(k, label, min(NAME_MAX, w + spare) if k == "name" else w) for k, label, w in cols]


@dataclass(frozen=True)
class BuildRow:
    name: str
    state: str
    cells: tuple[str, ...]
    created: float = 0.0
    elapsed_s: float = 0.0
    cost_usd: float = 0.0

    def sort_key(self, key: str) -> tuple[object, ...]:
        return {
            "created": (self.created,),
            "name": (self.name.lower(),),
            "state": (self.state, -self.created),
            "elapsed": (self.elapsed_s,),
            "cost": (self.cost_usd,),
        }[key]

    def matches(self, text: str) -> bool:
        text = text.lower()
        return not text or text in self.name.lower() or text in self.state


def build_row(st: BuildStatus) -> BuildRow:
    """One row's cells (every column; the table shows those that fit)."""
    est = "est. " if st.cost_estimate else ""
    metric = st.summary.get("metric") if st.summary else None
    score = f"{metric} {fmt.score(st.test_score)}" if st.test_score is not None else ""
    return BuildRow(
        st.name,
        st.state,
        (
            st.name,
            st.state,
            f"{st.trees_done}/{st.spec.trees}",
            str(st.count("failed")) if st.count("failed") else "",
            fmt.secs(secs) if (secs := elapsed(st)) else "",  # from creation; stops when it ends
            fmt.gbs(st.gb_seconds),
            f"{est}{fmt.usd(st.cost_usd)}",
            score,
            fmt.stamp(st.plan.created),
        ),
        created=st.plan.created,
        elapsed_s=secs,
        cost_usd=st.cost_usd,
    )


class BuildsScreen(Screen[None]):
    BINDINGS = [
        Binding("n", "new_build", "New", tooltip="open the new-build form", id="driver.new"),
        Binding("c", "cancel_build", "Cancel", tooltip="cancel the selected build (asks y/n)", id="driver.cancel"),
        Binding(
            "r",
            "resume_build",
            "Resume",
            tooltip="resume the selected build when it is interrupted (asks y/n)",
            id="driver.resume",
        ),
        # Priority: the filter box takes the focus before the next keys are handed on (typed fast,
        # "/abc" must filter by "abc", not send "c" to the table as cancel).
        Binding(
            "slash", "filter", "Filter", tooltip="filter builds by name or state", priority=True, id="driver.filter"
        ),
        Binding(
            "s",
            "searches",
            "Searches",
            tooltip="hyperparameter searches: state, trials, best, cost; p promotes the best",
            id="driver.searches",
        ),
        Binding("ctrl+r", "refresh", "Refresh", show=False, tooltip="refresh now", id="driver.refresh"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="driver.clear_filter"),
        Binding("o", "sort", "Sort", tooltip=f"sort by the next column ({', '.join(SORTS)})", id="driver.sort"),
        Binding("O", "sort_reverse", "Reverse sort", show=False, id="driver.sort_reverse"),
        Binding(
            "x",
            "all_columns",
            "Columns",
            tooltip=f"every column, left/right scroll (the list gives up {giving_way()})",
            id="driver.columns",
        ),
    ]

    @dataclass
    class Listed(Message):
        rows: list[BuildRow]

    def __init__(self, backend: Backend) -> None:
        super().__init__()
        self.backend = backend
        self.rows: list[BuildRow] = []
        self.loaded = False  # at least one listing arrived
        self._shown: list[BuildRow] = []
        self._filter = ""
        self._listing = False
        self._columns: list[tuple[str, str, int]] = []
        self._shown_for: tuple[str, int] | None = None  # (filter, builds) the table was last drawn for
        self.sort_by, self.sort_desc = "created", True  # newest first
        self.every_column = False  # x: every column, scrolled sideways
        self.select_next: str | None = None  # the build to put the cursor on once it is listed
        self.view = driver.BuildsView(backend)  # kept across refreshes: that is what makes them cheap

    def compose(self) -> ComposeResult:
        yield Header()
        yield SteadyInput(placeholder="filter by name or state; esc clears", id="filter")
        yield Static("", id="empty")
        yield BuildsTable(id="builds")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sub_title = self.backend.describe
        table = self.query_one("#builds", DataTable)
        self.lay_out(self.size.width or 120)
        self.query_one("#filter", Input).display = False
        table.focus()
        self.poll()
        self.set_interval(LIST_S, self.poll)

    def on_screen_resume(self) -> None:
        # Back from a build (or the form that started one): the cursor goes to that build, so enter
        # opens the build just seen, not whichever row the cursor was left on.
        opened = host(self).last_opened
        if opened:
            self.select_next = opened
            self.show_rows(force=True)
        if self.loaded:
            self.poll()

    def on_resize(self, event: events.Resize) -> None:
        self.lay_out(event.size.width)

    def lay_out(self, width: int) -> None:
        """Columns for this width; re-add the rows only when the set of columns changed."""
        cols = column_layout(width, self.every_column)
        if cols == self._columns:
            return
        self._columns = cols
        table = self.query_one("#builds", DataTable)
        table.clear(columns=True)
        for key, label, w in cols:
            mark = (" ▼" if self.sort_desc else " ▲") if key == self.sort_by else ""
            table.add_column(label + mark, key=key, width=w)
        self._shown = []
        self._shown_for = None
        self.show_rows()

    # ------------------------------------------------------------------ refresh

    def poll(self) -> None:
        if not host(self).in_view(self) and self.loaded:
            return  # covered by another screen (a build, help): no reading what nobody sees; read when back
        if not self._listing:
            self._listing = True
            self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="list")
    def load(self) -> None:
        try:
            self.post_message(self.Listed([build_row(st) for st in self.view.refresh()]))
        finally:
            self._listing = False

    def on_builds_screen_listed(self, message: BuildsScreen.Listed) -> None:
        self.rows = message.rows
        self.loaded = True
        self.show_rows()

    @staticmethod
    def _cell(key: str, value: str) -> str | Text:
        if key == "state":
            return Text(value, style=state_style(value))
        if key in ("name", "created", "score"):
            return value
        return Text(value, justify="right")

    def show_rows(self, force: bool = False) -> None:
        table = self.query_one("#builds", DataTable)
        rows = [r for r in self.rows if r.matches(self._filter)]
        rows.sort(key=lambda r: r.sort_key(self.sort_by), reverse=self.sort_desc)
        keys = [key for key, _l, _w in BUILD_COLUMNS]
        shown = {key for key, _l, _w in self._columns}
        if rows == self._shown and self._shown_for == (self._filter, len(self.rows)) and not force:
            return  # nothing changed: no widget touched, nothing re-rendered
        self._shown_for = (self._filter, len(self.rows))
        with self.app.batch_update():
            if [r.name for r in rows] == [r.name for r in self._shown]:
                for new, old in zip(rows, self._shown, strict=True):
                    if new.cells == old.cells:
                        continue  # the usual case: nothing to touch
                    for key, a, b in zip(keys, old.cells, new.cells, strict=True):
                        if a != b and key in shown:
                            table.update_cell(new.name, key, self._cell(key, b))
            else:  # a build appeared, went, or the filter changed: re-add, keep the cursor on its build
                current = self.current_name
                table.clear()
                for r in rows:
                    cells = dict(zip(keys, r.cells, strict=True))
                    table.add_row(*(self._cell(k, cells[k]) for k, _l, _w in self._columns), key=r.name)
                names = [r.name for r in rows]
                if current in names:
                    table.move_cursor(row=names.index(current), animate=False)
            names = [r.name for r in rows]
            if self.select_next in names:
                table.move_cursor(row=names.index(self.select_next), animate=False)
                self.select_next = None
            self._shown = rows
            empty = self.query_one("#empty", Static)
            if not self.rows:
                empty.update("No builds yet. Press [b]n[/b] to start one, or run `lamforest build NAME`.")
            elif not rows:
                empty.update(f"No build matches {self._filter!r}. [b]esc[/b] clears the filter.")
            else:
                empty.update("")
            empty.display = not rows
        self.refresh_bindings()

    # ------------------------------------------------------------------ actions

    @property
    def current_name(self) -> str | None:
        table = self.query_one("#builds", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    @property
    def current(self) -> BuildRow | None:
        name = self.current_name
        return next((r for r in self._shown if r.name == name), None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_build":
            row = self.current
            return True if row and row.state in ACTIVE else None
        if action == "resume_build":
            row = self.current
            return bool(row and row.state == INTERRUPTED)  # False hides it: rare, and room is short
        if action == "clear_filter":
            return bool(self._filter) or self.query_one("#filter", Input).display
        if action == "all_columns":
            return self.every_column or len(column_layout(self.size.width)) < len(BUILD_COLUMNS)
        return True

    def action_new_build(self) -> None:
        self.post_message(NewBuild())

    def action_searches(self) -> None:
        from lamforest_tui.screens.search import SearchScreen

        self.app.push_screen(SearchScreen(self.backend))

    def action_open_build(self) -> None:
        row = self.current
        if row:
            self.post_message(OpenBuild(row.name))

    @on(DataTable.RowSelected, "#builds")
    def row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_build()

    def action_cancel_build(self) -> None:
        row = self.current
        if not row:
            return
        name = row.name

        def answered(yes: bool | None) -> None:
            if yes:
                self.cancel_build(name)

        self.app.push_screen(
            ConfirmScreen(f"Cancel build [b]{name}[/b]? Running groves stop at their next chunk."), answered
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="cancel")
    def cancel_build(self, name: str) -> str:
        driver.cancel(self.backend, name)
        return name

    def action_resume_build(self) -> None:
        row = self.current
        if row and row.state == INTERRUPTED:
            self.view.forget(row.name)
            self.post_message(ResumeBuild(row.name))

    def action_sort(self) -> None:
        self.sort_by = SORTS[(SORTS.index(self.sort_by) + 1) % len(SORTS)]
        self.sort_desc = self.sort_by in ("created", "elapsed", "cost")  # the most recent, longest, dearest first
        self._resort()

    def action_sort_reverse(self) -> None:
        self.sort_desc = not self.sort_desc
        self._resort()

    def _resort(self) -> None:
        self._columns = []  # the sorted column's label carries the arrow
        self.lay_out(self.size.width)

    def action_all_columns(self) -> None:
        self.every_column = not self.every_column
        self.lay_out(self.size.width)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        self.set_focus(box)  # now: widget.focus() defers, and the keys typed next would go to the table

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.display = False
        self._filter = ""
        self.set_focus(self.query_one("#builds", DataTable))
        self.show_rows()

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self._filter = event.value.strip()
        self.show_rows()

    @on(Input.Submitted, "#filter")
    def filter_done(self, event: Input.Submitted) -> None:
        event.stop()
        self.set_focus(self.query_one("#builds", DataTable))

    def action_refresh(self) -> None:
        self.poll()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state == WorkerState.SUCCESS and worker.group == "cancel":
            self.notify(f"cancel requested for {worker.result}", title="Cancel")
            self.poll()
        elif event.state == WorkerState.ERROR:
            self.notify(f"{type(worker.error).__name__}: {worker.error}", title=worker.group, severity="error")
