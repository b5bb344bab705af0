"""``s``: hyperparameter searches and their leaderboards, live.

The top table lists the searches in the store; the bottom one is the
highlighted search's leaderboard (best first), refreshed from a thread worker
twice a second. Rows are keyed by trial and updated cell by cell.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static
from textual.worker import get_current_worker

from lamforest.backend import Backend
from lamforest.driver import search
from lamforest_tui.widgets.footer import KeysFooter

COLUMNS = ("rank", "trial", "params", "score", "duration s", "state")


def _usd(v: float | None) -> str:
    return "-" if v is None else f"${v:.2e}"


class SearchScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "Back", id="search.back"),
        Binding("r", "refresh", "Refresh", id="search.refresh"),
    ]

    @dataclass
    class Loaded(Message):
        names: list[str]
        board: search.Leaderboard | None

    def __init__(self, backend: Backend, name: str | None = None) -> None:
        super().__init__()
        self.backend = backend
        self.selected = name
        self.board: search.Leaderboard | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield Static("[b]Searches[/b]", classes="section-title")
            yield DataTable(id="searches", cursor_type="row")
            yield Static("", id="board-title")
            yield DataTable(id="board", cursor_type="row")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#searches", DataTable).add_columns("search")
        board = self.query_one("#board", DataTable)
        for col in COLUMNS:
            board.add_column(col, key=col)
        self.action_refresh()
        self.set_interval(0.5, self.action_refresh)

    def action_refresh(self) -> None:
        self.load(self.selected)

    @work(thread=True, exclusive=True, exit_on_error=False, group="search-load")
    def load(self, name: str | None) -> None:
        names = search.list_searches(self.backend)
        if get_current_worker().is_cancelled:
            return
        name = name if name in names else (names[-1] if names else None)
        board = search.leaderboard(self.backend, name) if name else None
        self.post_message(self.Loaded(names, board))

    def on_search_screen_loaded(self, message: Loaded) -> None:
        table = self.query_one("#searches", DataTable)
        for name in message.names:
            if name not in table.rows:
                table.add_row(name, key=name)
        self.board = message.board
        if message.board is None:
            self.query_one("#board-title", Static).update("no search yet: `lamforest search NAME --grid ...`")
            return
        lb = message.board
        self.selected = lb.name
        best = lb.best
        self.query_one("#board-title", Static).update(
            f"[b]{lb.name}[/b] · {lb.done}/{len(lb.trials)} trials · {lb.metric or 'score'}"
            + (f" · best {best.score:.4f} {best.params}" if best else "")
            + (" · finished" if lb.finished else " · running")
        )
        board = self.query_one("#board", DataTable)
        with self.app.batch_update():
            for rank, t in enumerate(lb.ranked(), start=1):
                key = str(t.trial)
                cells = (
                    str(rank) if t.score is not None else "-",
                    key,
                    ", ".join(f"{k}={v}" for k, v in t.params.items()),
                    f"{t.score:.4f}" if t.score is not None else "-",
                    f"{t.duration_s:.2f}" if t.duration_s is not None else "-",
                    t.state,
                )
                if key not in board.rows:
                    board.add_row(*cells, key=key)
                else:
                    for col, value in zip(COLUMNS, cells, strict=True):
                        if str(board.get_cell(key, col)) != value:
                            board.update_cell(key, col, value)
            order = {str(t.trial): i for i, t in enumerate(lb.ranked())}
            board.sort("trial", key=lambda trial: order.get(str(trial), 0))

    @on(DataTable.RowHighlighted, "#searches")
    def _pick(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value and event.row_key.value != self.selected:
            self.selected = event.row_key.value
            self.query_one("#board", DataTable).clear()
            self.action_refresh()

    def action_back(self) -> None:
        self.app.pop_screen()
