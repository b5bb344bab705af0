"""One build, live: header with progress and cost, the grove table, charts, the log.

A ``Watcher`` per screen, refreshed in a thread worker on a 4 Hz timer; the
worker freezes the status into a ``BuildView`` and posts it; the UI thread
only diffs it into the widgets.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, WorkerState, get_current_worker

from lamforest import driver
from lamforest.backend import Backend
from lamforest.driver import Prediction
from lamforest.spec import SpecError
from lamforest_tui.host import ResumeBuild, host
from lamforest_tui.screens.confirm import ConfirmScreen
from lamforest_tui.screens.export import ExportRequest, ExportScreen, merge_question
from lamforest_tui.screens.grove import GroveScreen
from lamforest_tui.screens.predict_ask import PredictAskScreen, PredictRequest
from lamforest_tui.screens.prediction import PredictionScreen
from lamforest_tui.view import FINAL, INTERRUPTED, BuildView, CellCache, LogTap, build_view, report_request_id
from lamforest_tui.widgets.build_header import BuildHeader
from lamforest_tui.widgets.charts import DurationHistogram, GroveTimeline
from lamforest_tui.widgets.footer import KeysFooter
from lamforest_tui.widgets.grove_table import FULL_WIDTH, MAIN_WIDTH, GroveTable
from lamforest_tui.widgets.log_pane import LogPane

REFRESH_S = 0.5  # the store is read twice a second while the build is active; never once it ended
CHARTS_MIN_WIDTH = 36  # columns the charts need beside the grove table to be readable

SETTLE_EVERY = 4  # a cancelled build not ended yet is read every 4th refresh (2 s)
CHART_MIN_S = 3.0  # charts redraw at most this often while a build runs (plotext draws everything each time)


class BuildScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "Back", tooltip="back to the builds", id="build.back"),
        Binding(
            "p",
            "predict",
            "Predict",
            tooltip="predict on the held-out test set or a file of rows (when done)",
            id="build.predict",
        ),
        Binding("c", "cancel_build", "Cancel", tooltip="cancel the build (asks y/n)", id="build.cancel"),
        Binding(
            "e",
            "export",
            "Export",
            tooltip="export the merged model (.joblib, or .skops: the safe format)",
            id="build.export",
        ),
        Binding("r", "resume_build", "Resume", tooltip="resume it when interrupted (asks y/n)", id="build.resume"),
        Binding(
            "v",
            "charts",
            "Charts",
            tooltip="the charts (duration histogram, timeline) where they do not fit beside the table",
            id="build.charts",
        ),
        Binding("ctrl+r", "refresh", "Refresh", show=False, tooltip="refresh now", id="build.refresh"),
    ]

    @dataclass
    class Refreshed(Message):
        view: BuildView

    @dataclass
    class Predicted(Message):
        prediction: Prediction

    def __init__(self, backend: Backend, name: str) -> None:
        super().__init__()
        self.backend = backend
        self.build_name = name
        self.view: BuildView | None = None
        self.watcher: driver.Watcher | None = None
        self.tap: LogTap | None = None
        self.reports: dict[str, str] = {}  # request id -> REPORT line
        self._refreshing = False
        self._chart_key: tuple[int, ...] | None = None
        self._chart_at = 0.0
        self._last_error = ""
        self._settling = 0
        self._export_request: ExportRequest | None = None  # the last export asked (a merge question repeats it)
        self.charts_only = False  # v, where the charts do not fit beside the table: they take its place
        self.charts_beside = True
        self._cells: CellCache = {}  # formatted rows, kept between refreshes (worker thread only)

    def compose(self) -> ComposeResult:
        yield BuildHeader(id="build-header")
        with Horizontal(id="build-body"):
            yield GroveTable(id="groves")
            with Vertical(id="charts"):
                yield DurationHistogram(id="histogram")
                yield GroveTimeline(id="timeline")
        yield LogPane(id="log")
        yield KeysFooter()

    def on_screen_resume(self) -> None:
        if self.view is not None:
            self.poll()

    def on_resize(self, event: events.Resize) -> None:
        self.lay_out()

    def lay_out(self) -> None:
        """The grove table and the header first. The charts sit beside the table where it keeps its main
        columns (from ~115 columns); narrower, ``v`` shows them in the table's place. The table gives up
        columns in a stated order where it is narrower than them (``x`` shows them all, scrolled); the
        log is shorter below 32 lines."""
        width, height = self.size.width, self.size.height
        table = self.query_one(GroveTable)
        need = FULL_WIDTH if table.show_all else MAIN_WIDTH
        self.charts_beside = width - need >= CHARTS_MIN_WIDTH
        if self.charts_beside:
            table_width = FULL_WIDTH if table.show_all else min(FULL_WIDTH, width - CHARTS_MIN_WIDTH)
        else:
            table_width = min(FULL_WIDTH, width)
        table.styles.width = table_width
        table.fit(table_width)
        only = self.charts_only and not self.charts_beside
        table.display = not only
        self.query_one("#charts").display = self.charts_beside or only
        self.query_one(LogPane).styles.height = 8 if height >= 32 else 4
        self.refresh_bindings()

    def on_grove_table_columns_toggled(self, message: GroveTable.ColumnsToggled) -> None:
        self.lay_out()

    def action_charts(self) -> None:
        self.charts_only = not self.charts_only
        self.lay_out()
        if self.charts_only:
            self._chart_key = None  # drawn now, whatever the last draw
            if self.view is not None:
                self.apply_view(self.view)
        else:
            self.query_one(GroveTable).focus()

    def on_mount(self) -> None:
        self.sub_title = self.build_name
        self.query_one(GroveTable).focus()
        self.poll()
        self.set_interval(REFRESH_S, self.poll)

    # ------------------------------------------------------------------ refresh

    def poll(self) -> None:
        if not host(self).in_view(self) and self.view is not None:
            return  # covered by another screen (a build, help): no reading what nobody sees; read when back
        if self.view is not None and self.view.state in FINAL and self.build_name not in host(self).running:
            if self.view.ended:
                return  # its driver wrote the summary: nothing can change it, so no request per tick
            # Cancelled, and its driver (if any) not done yet: groves still stop and record it. Read on,
            # more slowly, so the counts shown become the store's instead of freezing where the cancel was seen.
            self._settling = (self._settling + 1) % SETTLE_EVERY
            if self._settling:
                return
        if not self._refreshing:
            self._refreshing = True
            self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="build-refresh")
    def load(self) -> None:
        try:
            if self.watcher is None:
                # Logs through the backend's one shared reader (one read per interval for every watcher).
                watcher = driver.Watcher(self.backend, self.build_name, logs=self.backend.shared_log_source())
                self.tap = LogTap(watcher.logs)
                watcher.logs = self.tap
                self.watcher = watcher
            assert self.tap is not None
            status = self.watcher.refresh()
            if not get_current_worker().is_cancelled:
                self.post_message(self.Refreshed(build_view(status, self.tap.take(), self._cells)))
        finally:
            self._refreshing = False

    def on_build_screen_refreshed(self, message: BuildScreen.Refreshed) -> None:
        self.apply_view(message.view)

    def apply_view(self, view: BuildView) -> None:
        """Bring every widget to ``view``: only changed cells, new log lines, charts when due."""
        old = self.view
        self.view = view
        with self.app.batch_update():
            self.query_one(BuildHeader).show(view)
            self.query_one(GroveTable).apply(view.cells)
            if view.new_lines:
                self.query_one(LogPane).write_lines(view.new_lines)
                for line in view.new_lines:
                    rid = report_request_id(line)
                    if rid:
                        self.reports[rid] = line
            now = time.monotonic()
            due = not view.active or now - self._chart_at >= CHART_MIN_S
            if view.chart_key != self._chart_key and due:
                self._chart_key, self._chart_at = view.chart_key, now
                self.query_one(DurationHistogram).show(view.durations)
                self.query_one(GroveTimeline).show(view.spans)
        if old is None or old.state != view.state:
            self.refresh_bindings()

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        state = self.view.state if self.view else None
        if action in ("predict", "export"):
            return True if state == "done" else None
        if action == "cancel_build":
            return True if state in ("queued", "running", INTERRUPTED) else None
        if action == "resume_build":
            return state == INTERRUPTED  # False hides it: rare, and room is short
        if action == "charts":
            return not self.charts_beside  # beside the table already: nothing to show
        return True

    def action_resume_build(self) -> None:
        if self.view and self.view.state == INTERRUPTED:
            self.post_message(ResumeBuild(self.build_name))

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_refresh(self) -> None:
        self.poll()

    def action_predict(self) -> None:
        def chosen(request: PredictRequest | None) -> None:
            if request is not None:
                what = request.data or "its held-out test set"
                self.notify(f"predicting {self.build_name} on {what}…", timeout=2)
                self.predict(request)

        self.app.push_screen(PredictAskScreen(self.build_name), chosen)

    @work(thread=True, exclusive=True, exit_on_error=False, group="predict")
    def predict(self, request: PredictRequest) -> None:
        pred = driver.predict(self.backend, self.build_name, request.data, out=request.out, force=request.force)
        self.post_message(self.Predicted(pred))

    def on_build_screen_predicted(self, message: BuildScreen.Predicted) -> None:
        self.app.push_screen(PredictionScreen(self.build_name, message.prediction))

    def action_cancel_build(self) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.cancel_build()

        self.app.push_screen(
            ConfirmScreen(f"Cancel build [b]{self.build_name}[/b]? Running groves stop at their next chunk."),
            answered,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="cancel")
    def cancel_build(self) -> None:
        driver.cancel(self.backend, self.build_name)

    def action_export(self) -> None:
        def chosen(request: ExportRequest | None) -> None:
            if request is not None:
                self.export(request)

        self.app.push_screen(ExportScreen(self.build_name), chosen)

    @work(thread=True, exclusive=True, exit_on_error=False, group="export")
    def export(self, request: ExportRequest) -> Path:
        self._export_request = request
        return driver.export(self.backend, self.build_name, request.path, force=request.force)

    def ask_merge(self, error: SpecError, request: ExportRequest) -> None:
        """A grove set above its merge limit: ask, and on yes merge and write it anyway."""

        def answered(yes: bool | None) -> None:
            if yes:
                self.export(ExportRequest(request.path, force=True))

        self.app.push_screen(ConfirmScreen(merge_question(error), title="Merge above the limit?"), answered)

    def on_grove_table_grove_chosen(self, message: GroveTable.GroveChosen) -> None:
        self.show_grove(message.grove)

    def show_grove(self, grove: int) -> None:
        record = self.view.records.get(grove, {}) if self.view else {}
        line = self.reports.get(str(record.get("request_id", "")))
        self.app.push_screen(GroveScreen(self.build_name, grove, record, line))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state == WorkerState.SUCCESS and worker.group == "export":
            self.notify(f"exported {self.build_name} to {worker.result}", title="Export")
        elif event.state == WorkerState.SUCCESS and worker.group == "cancel":
            self.notify(f"cancel requested for {self.build_name}", title="Cancel")
        elif event.state == WorkerState.ERROR:
            error = worker.error
            if worker.group == "export" and isinstance(error, SpecError) and error.field == "force":
                if self._export_request is not None:
                    self.ask_merge(error, self._export_request)
                return
            if worker.group == "build-refresh":
                if str(worker.error) == self._last_error:
                    return  # the same failure every 250 ms: say it once
                self._last_error = str(worker.error)
            self.notify(f"{type(worker.error).__name__}: {worker.error}", title=worker.group, severity="error")
