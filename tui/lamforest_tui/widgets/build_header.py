"""The build screen's header: progress bars (groves and trees) and the running totals."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar, Static

from lamforest_tui.view import BuildView


class BuildHeader(Vertical):
    DEFAULT_CSS = """
    BuildHeader { height: auto; padding: 0 1; border: round $primary; }
    BuildHeader .bars { height: 1; }
    BuildHeader .bars Label { width: auto; padding: 0 1 0 2; }
    BuildHeader .bars Label:first-child { padding: 0 1 0 0; }
    BuildHeader ProgressBar { width: 1fr; }
    BuildHeader ProgressBar Bar { width: 1fr; }
    BuildHeader ProgressBar PercentageStatus { width: 6; min-width: 6; }
    """

    def compose(self) -> ComposeResult:
        yield Static("", id="header-line1")
        yield Static("", id="header-line2")
        with Horizontal(classes="bars"):
            yield Label("groves")
            yield ProgressBar(id="groves-bar", show_eta=False)
            yield Label("trees")
            yield ProgressBar(id="trees-bar", show_eta=False)

    def show(self, view: BuildView) -> None:
        line1, line2 = view.header_lines()
        self.query_one("#header-line1", Static).update(line1)
        self.query_one("#header-line2", Static).update(line2)
        ended = view.counts.get("done", 0)
        self.query_one("#groves-bar", ProgressBar).update(total=view.groves_total, progress=ended)
        self.query_one("#trees-bar", ProgressBar).update(total=view.trees_total, progress=view.trees_done)
