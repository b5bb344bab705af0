"""Home: every build in the store, refreshed every 1.5 s from a thread worker.

The store is the truth, so builds started by the CLI in another process (or
before a restart) show up here like any other.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static
from textual.worker import Worker, WorkerState

from lamforest import driver
from lamforest.backend import Backend
from lamforest.driver import BuildStatus
from lamforest_tui import fmt
from lamforest_tui.screens.confirm import ConfirmScreen
from lamforest_tui.view import ACTIVE, state_style
from lamforest_tui.widgets.builds_table import BuildsTable

LIST_S = 1.5
BUILD_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("name", "name", 30),
    ("state", "state", 10),
    ("trees", "trees", 11),
    ("failed", "failed", 6),
    ("elapsed", "elapsed", 8),
    ("billed", "billed", 12),
    ("cost", "cost", 16),
    ("score", "score", 16),
    ("created", "created", 16),
)


@dataclass(frozen=True)
class BuildRow:
    name: str
    state: str
    cells: tuple[str, ...]

    def matches(self, text: str) -> bool:
        text = text.lower()
        return not text or text in self.name.lower() or text in self.state


def build_row(st: BuildStatus) -> BuildRow:
    est = "est. " if st.cost_estimate else ""
    metric = (st.summary or {}).get("metric")
    score = f"{metric} {fmt.score(st.test_score)}" if st.test_score is not None else ""
    return BuildRow(
        st.name,
        st.state,
        (
            st.name,
            st.state,
            f"{st.trees_done}/{st.spec.trees}",
            str(st.count("failed")) if st.count("failed") else "",
            fmt.secs(st.elapsed_s) if st.elapsed_s else "",
            fmt.gbs(st.gb_seconds),
            f"{est}{fmt.usd(st.cost_usd)}",
            score,
            fmt.stamp(st.plan.created),
        ),
    )


class BuildsScreen(Screen[None]):
    BINDINGS = [
        Binding("n", "new_build", "New build", id="driver.new"),
        Binding("c", "cancel_build", "Cancel build", id="driver.cancel"),
        Binding("slash", "filter", "Filter", id="driver.filter"),
        Binding("r", "refresh", "Refresh", id="driver.refresh"),
        Binding("s", "searches", "Searches", show=False, id="driver.searches"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="driver.clear_filter"),
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

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="filter by name or state; esc clears", id="filter")
        yield Static("", id="empty")
        yield BuildsTable(id="builds")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.backend.describe
        table = self.query_one("#builds", DataTable)
        for key, label, width in BUILD_COLUMNS:
            table.add_column(label, key=key, width=width)
        self.query_one("#filter", Input).display = False
        table.focus()
        self.poll()
        self.set_interval(LIST_S, self.poll)

    # ------------------------------------------------------------------ refresh

    def poll(self) -> None:
        if not self._listing:
            self._listing = True
            self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="list")
    def load(self) -> None:
        try:
            self.post_message(self.Listed([build_row(st) for st in driver.list_builds(self.backend)]))
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

    def show_rows(self) -> None:
        table = self.query_one("#builds", DataTable)
        rows = [r for r in self.rows if r.matches(self._filter)]
        keys = [key for key, _l, _w in BUILD_COLUMNS]
        with self.app.batch_update():
            if [r.name for r in rows] == [r.name for r in self._shown]:
                for new, old in zip(rows, self._shown, strict=True):
                    for key, a, b in zip(keys, old.cells, new.cells, strict=True):
                        if a != b:
                            table.update_cell(new.name, key, self._cell(key, b))
            else:  # a build appeared, went, or the filter changed: re-add, keep the cursor on its build
                current = self.current_name
                table.clear()
                for r in rows:
                    table.add_row(*(self._cell(k, v) for k, v in zip(keys, r.cells, strict=True)), key=r.name)
                names = [r.name for r in rows]
                if current in names:
                    table.move_cursor(row=names.index(current), animate=False)
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
        if action == "clear_filter":
            return bool(self._filter) or self.query_one("#filter", Input).display
        return True

    def action_new_build(self) -> None:
        self.app.action_new_build()  # type: ignore[attr-defined]

    def action_searches(self) -> None:
        from lamforest_tui.screens.search import SearchScreen

        self.app.push_screen(SearchScreen(self.backend))

    def action_open_build(self) -> None:
        row = self.current
        if row:
            self.app.open_build(row.name)  # type: ignore[attr-defined]

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

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.display = False
        self._filter = ""
        self.query_one("#builds", DataTable).focus()
        self.show_rows()

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self._filter = event.value.strip()
        self.show_rows()

    @on(Input.Submitted, "#filter")
    def filter_done(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#builds", DataTable).focus()

    def action_refresh(self) -> None:
        self.poll()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state == WorkerState.SUCCESS and worker.group == "cancel":
            self.notify(f"cancel requested for {worker.result}", title="Cancel")
            self.poll()
        elif event.state == WorkerState.ERROR:
            self.notify(f"{type(worker.error).__name__}: {worker.error}", title=worker.group, severity="error")
