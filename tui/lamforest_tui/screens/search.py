"""``s``: hyperparameter searches (state, trials, best, cost) and the highlighted one's leaderboard.

Refreshed from a thread worker every ``REFRESH_S``. What a name is (a build
or a search) is asked once; a finished search (it has ``leaderboard.json``)
is read once and then costs nothing; an unfinished one is read each refresh.
An unfinished search is not called running: nothing in the store says a
driver still works on it (a CLI call may have died), so the list says how
many trials have results and how to resume. ``p`` promotes the best trial
into a build that this app runs.
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
from textual.worker import Worker, WorkerState, get_current_worker

from lamforest import fmt, keys
from lamforest.backend import Backend
from lamforest.driver import search
from lamforest_tui.host import StartBuild
from lamforest_tui.screens.confirm import ConfirmScreen
from lamforest_tui.widgets.footer import KeysFooter

REFRESH_S = 2.0
COLUMNS = ("rank", "trial", "params", "score", "duration s", "state")
LIST_COLUMNS = (("search", 28), ("state", 11), ("trials", 9), ("best", 26), ("cost", 14))


@dataclass(frozen=True)
class SearchRow:
    name: str
    state: str  # "done" | "unfinished"
    cells: tuple[str, ...]


def search_row(lb: search.Leaderboard) -> SearchRow:
    best = lb.best
    state = "done" if lb.finished else "unfinished"
    est = "est. " if lb.cost_estimate else ""
    return SearchRow(
        lb.name,
        state,
        (
            lb.name,
            state,
            f"{lb.done}/{len(lb.trials)}",
            f"{lb.metric or 'score'} {best.score:.4f}" if best and best.score is not None else "",
            f"{est}{fmt.usd(lb.cost_usd)}" if lb.finished else "",
        ),
    )


class SearchScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "Back", tooltip="back to the builds", id="search.back"),
        Binding(
            "p",
            "promote",
            "Promote best",
            tooltip="build the best trial's params and run it here (asks y/n)",
            id="search.promote",
        ),
        Binding("ctrl+r", "refresh", "Refresh", show=False, tooltip="refresh now", id="search.refresh"),
    ]

    @dataclass
    class Loaded(Message):
        rows: list[SearchRow]
        board: search.Leaderboard | None

    def __init__(self, backend: Backend, name: str | None = None) -> None:
        super().__init__()
        self.backend = backend
        self.selected = name
        self.board: search.Leaderboard | None = None
        self.rows: list[SearchRow] = []
        self._is_search: dict[str, bool] = {}  # name -> is it a search (asked once)
        self._finished: dict[str, search.Leaderboard] = {}  # read once, never again

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield Static("[b]Searches[/b]", classes="section-title")
            yield DataTable(id="searches", cursor_type="row")
            yield Static("", id="board-title")
            yield DataTable(id="board", cursor_type="row")
        yield KeysFooter()

    def on_mount(self) -> None:
        table = self.query_one("#searches", DataTable)
        for key, width in LIST_COLUMNS:
            table.add_column(key, key=key, width=width)
        board = self.query_one("#board", DataTable)
        for col in COLUMNS:
            board.add_column(col, key=col)
        self.action_refresh()
        self.set_interval(REFRESH_S, self.action_refresh)

    def action_refresh(self) -> None:
        if self.app.screen is self:
            self.load(self.selected)

    # ------------------------------------------------------------------ reading (worker thread)

    def _names(self) -> list[str]:
        out = []
        for name in self.backend.store.children(keys.BUILDS):
            if name not in self._is_search:
                is_search = search.exists(self.backend, name)
                if not is_search and not self.backend.store.exists(keys.spec(name)):
                    continue  # neither yet (being created): ask again next time
                self._is_search[name] = is_search
            if self._is_search[name]:
                out.append(name)
        return out

    def _board(self, name: str, with_costs: bool = False) -> search.Leaderboard:
        if name in self._finished:
            return self._finished[name]
        lb = search.leaderboard(self.backend, name, with_costs=with_costs)
        if lb.finished:
            lb = search.leaderboard(self.backend, name, with_costs=True)  # costs: read once
            self._finished[name] = lb
        return lb

    @work(thread=True, exclusive=True, exit_on_error=False, group="search-load")
    def load(self, name: str | None) -> None:
        boards = [self._board(n) for n in self._names()]
        if get_current_worker().is_cancelled:
            return
        names = [b.name for b in boards]
        name = name if name in names else (names[-1] if names else None)
        board = next((b for b in boards if b.name == name), None)
        self.post_message(self.Loaded([search_row(b) for b in boards], board))

    # ------------------------------------------------------------------ showing

    def on_search_screen_loaded(self, message: Loaded) -> None:
        table = self.query_one("#searches", DataTable)
        keys_ = [k for k, _w in LIST_COLUMNS]
        with self.app.batch_update():
            old = {r.name: r for r in self.rows}
            for row in message.rows:
                if row.name not in table.rows:
                    table.add_row(*row.cells, key=row.name)
                elif old.get(row.name) != row:
                    for key, a, b in zip(keys_, old[row.name].cells, row.cells, strict=True):
                        if a != b:
                            table.update_cell(row.name, key, b)
        self.rows = message.rows
        self.board = message.board
        self.refresh_bindings()
        if message.board is None:
            self.query_one("#board-title", Static).update("no search yet: `lamforest search NAME --grid ...`")
            return
        lb = message.board
        self.selected = lb.name
        best = lb.best
        if lb.finished:
            state = "finished"
        else:
            state = (
                f"unfinished: {lb.done + sum(t.state == 'failed' for t in lb.trials)}/{len(lb.trials)} trials have "
                f"a result (running, or its driver stopped: `lamforest search {lb.name}` resumes it)"
            )
        self.query_one("#board-title", Static).update(
            f"[b]{lb.name}[/b] · {lb.done}/{len(lb.trials)} trials · {lb.metric or 'score'}"
            + (f" · best {best.score:.4f} {best.params}" if best else "")
            + f" · {state}"
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

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "promote":
            return True if self.board is not None and self.board.best is not None else None
        return True

    def action_promote(self) -> None:
        lb = self.board
        if lb is None or lb.best is None:
            return
        name, target = lb.name, f"{lb.name}-best"

        def answered(yes: bool | None) -> None:
            if yes:
                self.promote(name, target)

        self.app.push_screen(
            ConfirmScreen(
                f"Build [b]{target}[/b] with the best trial's params {lb.best.params} "
                f"({lb.spec.base.trees} trees, the search's data, seed and split) and run it here?",
                title="Promote the best trial?",
            ),
            answered,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="promote")
    def promote(self, name: str, target: str) -> str:
        return search.create_promoted(self.backend, name, target).name

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "promote" and event.state == WorkerState.SUCCESS:
            built = str(worker.result)
            self.post_message(StartBuild(built))
        elif event.state == WorkerState.ERROR:
            self.notify(f"{type(worker.error).__name__}: {worker.error}", title=worker.group, severity="error")

    def action_back(self) -> None:
        self.app.pop_screen()
