"""A ``Select`` whose keys act where they arrive, in the order they were typed.

Textual's (8.2) ``Select`` opens its list by a binding looked up after the
key has travelled up to the app, then moves the focus to the list (itself a
later message), and the list's own keys travel up again. Typed in one burst,
``enter down enter tab 5`` came apart: the tab (an app key, handled at once)
moved the focus on before the select had seen its enter, and the enter that
came back up to the app was looked up against the field focused by then, an
input, whose enter submits the form. This select keeps the focus on itself:
its list opens, moves and chooses from its own key handler, and nothing it
receives goes back up, so a burst means what it meant when typed.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import events
from textual.widgets import Select
from textual.widgets._select import SelectCurrent, SelectOverlay

OPEN_KEYS = ("enter", "space", "down", "up")
MOVES = {
    "down": "cursor_down",
    "up": "cursor_up",
    "home": "first",
    "end": "last",
    "pagedown": "page_down",
    "pageup": "page_up",
}


class SteadySelect(Select[Any]):
    @property
    def overlay(self) -> SelectOverlay:
        return self.query_one(SelectOverlay)

    def _watch_expanded(self, expanded: bool) -> None:
        # As Select's, but the list is shown without taking the focus.
        self.set_class(expanded, "-expanded")
        if not expanded:
            return
        self.query_one(SelectCurrent).has_value = True
        for index, (_prompt, value) in enumerate(self._options):
            if value == self.value:
                self.overlay.highlighted = index
                break
        self.overlay.scroll_to_highlight()

    def _choose(self) -> None:
        index = self.overlay.highlighted
        if index is not None and self._options[index][1] != self.value:
            self.value = self._options[index][1]
        self.expanded = False

    def _search(self, char: str) -> None:
        """Jump to the next option whose label starts with ``char``, after the highlighted one."""
        labels = [(p.plain if isinstance(p, Text) else str(p)).lower() for p, _ in self._options]
        start = (self.overlay.highlighted or 0) + 1
        for step in range(len(labels)):
            i = (start + step) % len(labels)
            if labels[i].startswith(char.lower()):
                self.overlay.highlighted = i
                self.overlay.scroll_to_highlight()
                return

    async def _on_key(self, event: events.Key) -> None:
        key = event.key
        handled = True
        if not self.expanded:
            if key in OPEN_KEYS:
                self.expanded = True
            else:
                handled = False
        elif key in MOVES:
            await self.overlay.run_action(MOVES[key])
        elif key in ("enter", "space"):
            self._choose()
        elif key == "escape":
            self.expanded = False
        elif event.is_printable and event.character:
            self._search(event.character)
        else:
            handled = False
        if handled:
            event.stop()
            event.prevent_default()

    def on_blur(self, event: events.Blur) -> None:
        self.expanded = False  # leaving the field closes its list; the value stays as chosen
