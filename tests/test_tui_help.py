"""The ``?`` help is the bindings: every key of every screen shows, under its screen, and no other key does.

The help is read as the running app shows it (the help screen's text,
rendered), and checked against each class's ``BINDINGS``; every screen and
key-taking widget of the package must be in the help's sections.
"""

from __future__ import annotations

import importlib
import inspect
import io
import pkgutil
import re
from pathlib import Path
from types import ModuleType

from rich.console import Console
from textual.binding import Binding
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widgets import Static

import lamforest_tui.screens
import lamforest_tui.widgets
from lamforest.backend import open_backend
from lamforest_tui.app import LamforestApp
from lamforest_tui.screens import help as help_screen
from lamforest_tui.screens.builds import BUILD_COLUMNS, BuildsScreen, column_layout, giving_way
from lamforest_tui.screens.help import HelpScreen

ROW = re.compile(r"^ (\S.*?)  +(\S.*)$")  # " keys  text"; a wrapped text's next line starts with spaces


def package_classes(package: ModuleType) -> list[type[DOMNode]]:
    """The DOM classes defined in a package's modules that declare their own ``BINDINGS``."""
    out = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for _name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and issubclass(cls, DOMNode) and "BINDINGS" in cls.__dict__:
                out.append(cls)
    return out


def expected() -> dict[str, list[tuple[type[DOMNode], Binding]]]:
    """Each help section's title and the bindings it must show, from the classes' ``BINDINGS``."""
    out: dict[str, list[tuple[type[DOMNode], Binding]]] = {}
    for title, nodes in help_screen.SECTIONS:
        out[title] = [(node, b) for node in nodes for b in Binding.make_bindings(node.BINDINGS)]
    dialogs = [*help_screen.DIALOGS, ("help", HelpScreen)]
    out["Dialogs"] = [(node, b) for _name, node in dialogs for b in Binding.make_bindings(node.BINDINGS)]
    app = [(LamforestApp, b) for b in Binding.make_bindings(LamforestApp.BINDINGS)]
    palette = Binding(LamforestApp.COMMAND_PALETTE_BINDING, "command_palette", tooltip=help_screen.PALETTE_HELP)
    out[help_screen.EVERYWHERE] = [*app, (LamforestApp, palette)]
    return out


def shown_rows(text: str) -> dict[str, list[tuple[tuple[str, ...], str]]]:
    """The help as shown: section title -> its rows (keys, the row's first line of text)."""
    titles = set(expected())
    sections: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    current: str | None = None
    for line in text.splitlines():
        if line.strip() in titles and not line.startswith(" "):
            current = line.strip()
            sections[current] = []
        elif current and (m := ROW.match(line.rstrip())):
            sections[current].append((tuple(m.group(1).split(" / ")), m.group(2)))
        elif not line.strip():
            current = None if current and sections[current] else current
    return sections


async def help_text(home: Path) -> str:
    """Open the help in the app, and return its text as rendered at the help's width."""
    app = LamforestApp(open_backend("local", home=home))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("question_mark")
        for _ in range(100):
            if isinstance(app.screen, HelpScreen) and app.screen.query(Static):
                break
            await pilot.pause(0.05)
        assert isinstance(app.screen, HelpScreen)
        static = app.screen.query_one(Static)
        console = Console(width=static.content_region.width, record=True, file=io.StringIO())
        console.print(static.content)
        text = console.export_text()
        await pilot.press("escape")
    return text


def test_every_screen_and_key_taking_widget_is_in_the_help() -> None:
    listed = {node for _t, nodes in help_screen.SECTIONS for node in nodes}
    listed |= {node for _n, node in help_screen.DIALOGS} | {HelpScreen}
    screens = package_classes(lamforest_tui.screens)
    widgets = package_classes(lamforest_tui.widgets)
    assert any(issubclass(s, Screen) for s in screens) and widgets  # the walk found them
    missing = [cls.__name__ for cls in [*screens, *widgets] if cls not in listed]
    assert not missing, f"classes with BINDINGS the help does not list: {missing}"


async def test_help_shows_every_binding_under_its_screen_and_nothing_else(home: Path) -> None:
    shown = shown_rows(await help_text(home))
    want = expected()
    assert set(shown) == set(want)
    for title, bindings in want.items():
        rows = shown[title]
        keys_shown = {key for keys, _text in rows for key in keys}
        keys_bound = {key for _node, b in bindings for key in help_screen.key_names(b)}
        assert keys_shown == keys_bound, title  # every bound key, and no key that nothing binds
        for node, binding in bindings:
            names = help_screen.key_names(binding)
            texts = [text for keys, text in rows if set(names) <= set(keys)]
            assert texts, f"{title}: {node.__name__}'s {binding.key} not on one row"
            # The row says what one of that action's bindings says (its first line, where it wraps).
            said = [
                dialog_name(title, node) + help_screen.help_text(b)
                for n, b in bindings
                if n is node and b.action == binding.action
            ]
            assert any(s.startswith(t) for s in said for t in texts), (title, binding.key, texts)


def dialog_name(title: str, node: type[DOMNode]) -> str:
    """A dialog's keys are said with its name first (``question: yes``)."""
    if title != "Dialogs":
        return ""
    return {cls: f"{name}: " for name, cls in [*help_screen.DIALOGS, ("help", HelpScreen)]}[node]


async def test_the_palette_says_what_each_action_does_and_its_keys_from_the_bindings(home: Path) -> None:
    app = LamforestApp(open_backend("local", home=home))
    async with app.run_test(size=(160, 50)) as pilot:
        for _ in range(100):
            if isinstance(app.screen, BuildsScreen) and app.screen.loaded:
                break
            await pilot.pause(0.05)
        helps = {command.title: command.help for command in app.get_system_commands(app.screen)}
    assert helps["Searches"] == "Hyperparameter searches: state, trials, best, cost; p promotes the best (s)"
    assert helps["Filter builds"] == "Filter builds by name or state (/)"
    assert helps["New build"] == "Open the new-build form (n)"
    assert helps["Help"] == "This help: every key of every screen (?)"


def test_the_columns_the_builds_list_gives_up_are_where_the_help_says() -> None:
    """The help names each column and the width below which the list drops it (at 80, score still shows)."""
    stated = re.findall(r"(\w+) below (\d+)", giving_way())
    assert [key for key, _w in stated] == ["billed", "failed", "elapsed", "created", "score"]
    every = {key for key, _l, _w in BUILD_COLUMNS}
    for key, width in stated:
        assert key in {k for k, _l, _w in column_layout(int(width))}
        assert key not in {k for k, _l, _w in column_layout(int(width) - 1)}
    assert {k for k, _l, _w in column_layout(80)} == every - {"billed", "failed", "elapsed", "created"}
