"""The footer, with ``q`` (quit) and ``?`` (help) first, and never a key cut in half.

Where the keys do not fit the width, they give way in this order: keys
unavailable now (dimmed), then the palette's ``^p`` (it is in the help),
then the last keys, one by one; ``q`` and ``?`` stay, and ``?`` lists
every key of every screen.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

FIRST = ("quit", "help")


def key_width(widget: Widget) -> int:
    """Cells a key takes: its key and description, with their padding."""
    if not isinstance(widget, FooterKey):
        return 0
    return len(widget.key_display) + (len(widget.description) + 3 if widget.description else 0)


class KeysFooter(Footer):
    def compose(self) -> ComposeResult:
        widgets = list(super().compose())

        def rank(widget: object) -> int:
            if isinstance(widget, FooterKey) and widget.action in FIRST:
                return FIRST.index(widget.action)
            return len(FIRST)

        widgets.sort(key=rank)  # stable: the rest keep their order
        room = (self.size.width or self.app.size.width) - 2

        def need() -> int:
            return sum(key_width(w) for w in widgets)

        def palette(w: Widget) -> bool:
            return w.has_class("-command-palette")

        for drop in (
            lambda w: isinstance(w, FooterKey) and w.has_class("-disabled") and w.action not in FIRST,
            palette,
        ):
            if need() > room:
                widgets = [w for w in widgets if not drop(w)]
        while need() > room and len(widgets) > len(FIRST):
            widgets.pop()
        yield from widgets

    _laid_out_for = 0

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._laid_out_for:
            self._laid_out_for = event.size.width
            self.call_after_refresh(self.recompose)
