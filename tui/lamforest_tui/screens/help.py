"""``?``: every key of every screen, in one place.

Rich tables in one ``Static``, not a ``Markdown`` widget: Markdown mounts a
widget per block and took ~110 ms to open; this opens in a few.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from lamforest_tui.widgets.footer import KeysFooter

TITLE = "lamforest-tui keys"
SECTIONS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Builds (home)",
        (
            ("n", "new build (form)"),
            ("enter", "open the selected build"),
            ("c", "cancel the selected build (asks y/n)"),
            ("r", "resume the selected build when it is interrupted (asks y/n)"),
            ("/", "filter builds by name or state (esc clears)"),
            ("s", "hyperparameter searches: state, trials, best, cost; p promotes the best"),
            ("j / k, g / G", "down / up, first / last (also arrows, home / end)"),
            ("o / O", "sort by the next column (created, name, state, elapsed, cost) / reverse it"),
            ("x", "every column (narrow terminals give up billed, failed, elapsed, created, score); left/right scroll"),
            ("ctrl+r", "refresh now"),
            ("?", "this help"),
            ("q / ctrl+q / ctrl+c", "quit (says what happens to builds running here, asks y/n)"),
            ("ctrl+p", "command palette: every action of the screen you are on"),
        ),
    ),
    (
        "Build",
        (
            ("enter", "the selected grove's record and REPORT line"),
            ("x", "every column (narrow terminals give up seed, start, billed, trees, retry, init); left/right scroll"),
            ("v", "the charts (duration histogram, timeline) where they do not fit beside the table"),
            ("p", "predict on the held-out test set (when done)"),
            ("c", "cancel the build (asks y/n)"),
            ("r", "resume it when interrupted (asks y/n)"),
            ("e", "export the merged model (.joblib, or .skops: the safe format)"),
            ("esc", "back to the builds"),
        ),
    ),
    (
        "New build (form)",
        (
            ("tab / shift+tab", "move between fields (the form scrolls to the field)"),
            ("ctrl+s / enter", "start: every error shows beside its field; nothing starts until all pass"),
            ("esc", "close (not while it is starting the build)"),
        ),
    ),
)
NOTE = (
    "A build is interrupted when no driver holds it any more (the app or CLI that ran it quit): "
    "its groves are kept; r resumes it here. Costs on the local backend are what the same "
    "invocations would cost on Lambda (marked est.)."
)


def keymap() -> Group:
    parts: list[RenderableType] = [Text(TITLE, style="bold")]
    for title, rows in SECTIONS:
        table = Table(title=title, title_justify="left", title_style="bold", show_header=False, box=None)
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for key, action in rows:
            table.add_row(key, action)
        parts += [Text(""), table]
    parts += [Text(""), Text(NOTE, style="dim")]
    return Group(*parts)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close", id="help.close"),
        Binding("question_mark", "dismiss", "Close", show=False, id="help.close2"),
        Binding("q", "dismiss", "Close", show=False, id="help.close3"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body", classes="dialog"):
            yield Static(keymap())
        yield KeysFooter()

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
