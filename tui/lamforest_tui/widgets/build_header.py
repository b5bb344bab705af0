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
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.view: BuildView | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="header-text")
        with Horizontal(classes="bars"):
            yield Label("groves", id="groves-label")
            yield ProgressBar(id="groves-bar", show_eta=False, show_percentage=False)
            yield Label("trees", id="trees-label")
            yield ProgressBar(id="trees-bar", show_eta=False, show_percentage=False)

    def on_resize(self) -> None:
        if self.view is not None:
            self.show(self.view)  # the lines depend on the width

    def show(self, view: BuildView) -> None:
        self.view = view
        width = self.content_region.width or self.app.size.width
        self.query_one("#header-text", Static).update("\n".join(view.header_lines(width)))
        ended = view.counts.get("done", 0)
        # The percentage goes in our own label: ProgressBar's cut "100%" to "100" in a narrow header.
        for key, done, total in (("groves", ended, view.groves_total), ("trees", view.trees_done, view.trees_total)):
            pct = f"{100 * done // total}%" if total else "-"
            self.query_one(f"#{key}-label", Label).update(f"{key} {pct:>4}")
            self.query_one(f"#{key}-bar", ProgressBar).update(total=total, progress=done)
