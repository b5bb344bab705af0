"""How a screen reaches the app that drives builds.

A screen asks the app to act by posting one of these messages (they bubble
from the screen to the app, which handles them in ``on_...`` methods); what a
screen must read back (is it in view, which builds run here) goes through
the small ``Host`` protocol. Screens then know nothing of the app's class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from textual.dom import DOMNode
from textual.message import Message
from textual.screen import Screen


@dataclass
class OpenBuild(Message):
    """Show this build's screen."""

    name: str


@dataclass
class StartBuild(Message):
    """Drive this build (just created) here, and show it."""

    name: str


@dataclass
class ResumeBuild(Message):
    """Ask, then drive this interrupted build to its end here."""

    name: str


class NewBuild(Message):
    """Open the new-build form."""


@runtime_checkable
class Host(Protocol):
    """What screens read from the app."""

    @property
    def running(self) -> list[str]:
        """The builds this app drives now."""
        ...

    @property
    def last_opened(self) -> str | None:
        """The build whose screen was opened last (the list puts its cursor there)."""
        ...

    def in_view(self, screen: Screen[Any]) -> bool:
        """``screen`` is on top, or seen under the dialogs on top of it."""
        ...


def host(node: DOMNode) -> Host:
    """The app ``node`` runs in, as a ``Host``."""
    app = node.app
    if not isinstance(app, Host):
        raise TypeError(f"{type(app).__name__} does not drive builds: it has no running, last_opened, in_view")
    return app
