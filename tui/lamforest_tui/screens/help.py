"""``?``: every key of every screen, in one place, read from their ``BINDINGS``.

Each screen's, table's and the app's ``BINDINGS`` are the one source: the
help lists every binding, keys of one action on one row, with the binding's
``tooltip`` (the longer text, also shown on hover in the footer) or else its
description. A screen missing from ``SECTIONS`` or ``DIALOGS`` fails a test.

Rich tables in one ``Static``, not a ``Markdown`` widget: Markdown mounts a
widget per block and took ~110 ms to open; this opens in a few.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.keys import format_key
from textual.screen import ModalScreen
from textual.widgets import Static

from lamforest_tui.screens.build import BuildScreen
from lamforest_tui.screens.builds import BuildsScreen
from lamforest_tui.screens.confirm import ConfirmScreen
from lamforest_tui.screens.export import ExportScreen
from lamforest_tui.screens.grove import GroveScreen
from lamforest_tui.screens.new_build import NewBuildScreen
from lamforest_tui.screens.predict_ask import PredictAskScreen
from lamforest_tui.screens.prediction import PredictionScreen
from lamforest_tui.screens.search import SearchScreen
from lamforest_tui.widgets.builds_table import BuildsTable
from lamforest_tui.widgets.footer import KeysFooter
from lamforest_tui.widgets.grove_table import GroveTable

TITLE = "lamforest-tui keys"
# A screen and the widgets that take its keys, in the order shown.
SECTIONS: tuple[tuple[str, tuple[type[DOMNode], ...]], ...] = (
    ("Builds (home)", (BuildsScreen, BuildsTable)),
    ("Build", (BuildScreen, GroveTable)),
    ("Searches (s)", (SearchScreen,)),
    ("New build (form)", (NewBuildScreen,)),
)
# Dialogs have a key or two: one line each. The help's own keys are added by ``HelpScreen`` below.
DIALOGS: tuple[tuple[str, type[DOMNode]], ...] = (
    ("question", ConfirmScreen),
    ("export", ExportScreen),
    ("predict", PredictAskScreen),
    ("grove record", GroveScreen),
    ("prediction", PredictionScreen),
)
EVERYWHERE = "Everywhere"
PALETTE_HELP = "command palette: every action of the screen you are on"
NOTE = (
    "A build is interrupted when no driver holds it any more (the app or CLI that ran it quit): "
    "its groves are kept; r resumes it here. Costs on the local backend are what the same "
    "invocations would cost on Lambda (marked est.)."
)
KEY_NAMES = {"escape": "esc", "enter": "enter"}  # as people say them (Textual draws ⏎ for enter)


@dataclass(frozen=True)
class Row:
    """One line of the help: the keys of one action, and what it does."""

    keys: tuple[str, ...]
    text: str

    @property
    def shown_keys(self) -> str:
        return " / ".join(self.keys)


def key_names(binding: Binding) -> list[str]:
    """How the help writes a binding's keys (``g,home`` is two keys)."""
    return [KEY_NAMES.get(key, format_key(key)) for key in (k.strip() for k in binding.key.split(","))]


def help_text(binding: Binding) -> str:
    text = binding.tooltip or binding.description
    return text[:1].lower() + text[1:]


def bindings_of(node: type[DOMNode]) -> list[Binding]:
    """The class's ``BINDINGS`` (as Textual reads them: tuples become bindings)."""
    return list(Binding.make_bindings(node.BINDINGS))


def rows(bindings: Iterable[Binding]) -> list[Row]:
    """One row per action, its keys in the order bound; the text from the first binding that has a tooltip."""
    keys: dict[str, list[str]] = {}
    first: dict[str, Binding] = {}
    for binding in bindings:
        names = keys.setdefault(binding.action, [])
        names += [k for k in key_names(binding) if k not in names]
        if binding.action not in first or (binding.tooltip and not first[binding.action].tooltip):
            first[binding.action] = binding
    return [Row(tuple(names), help_text(first[action])) for action, names in keys.items()]


def describe(node: type[DOMNode], action: str) -> str:
    """What ``action`` does and its keys, from ``node``'s bindings (the command palette's help line)."""
    row = next((r for r in rows(b for b in bindings_of(node) if b.action == action)), None)
    if row is None:
        return ""
    return f"{row.text[:1].upper()}{row.text[1:]} ({row.shown_keys})"


def app_bindings(app: type[App[Any]]) -> list[Binding]:
    """The app's own keys, and the command palette's (Textual binds it from a class variable)."""
    out = bindings_of(app)
    if app.ENABLE_COMMAND_PALETTE:
        out.append(Binding(app.COMMAND_PALETTE_BINDING, "command_palette", "Palette", tooltip=PALETTE_HELP))
    return out


def sections(app: type[App[Any]]) -> list[tuple[str, list[Row]]]:
    """Every section of the help, in order: the screens, the dialogs, then the app's keys."""
    out = [(title, rows(b for node in nodes for b in bindings_of(node))) for title, nodes in SECTIONS]
    every_dialog: list[tuple[str, type[DOMNode]]] = [*DIALOGS, ("help", HelpScreen)]
    dialogs = [Row(row.keys, f"{name}: {row.text}") for name, node in every_dialog for row in rows(bindings_of(node))]
    out += [("Dialogs", dialogs), (EVERYWHERE, rows(app_bindings(app)))]
    return out


def keymap(app: type[App[Any]]) -> Group:
    parts: list[RenderableType] = [Text(TITLE, style="bold")]
    for title, section in sections(app):
        table = Table(title=title, title_justify="left", title_style="bold", show_header=False, box=None)
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for row in section:
            table.add_row(row.shown_keys, row.text)
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
            yield Static(keymap(type(self.app)))
        yield KeysFooter()

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
