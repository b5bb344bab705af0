"""``?``: every key of every screen, in one place."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from lamforest_tui.widgets.footer import KeysFooter

KEYMAP = """\
# lamforest-tui keys

**Builds** (home)

| key | action |
|-----|--------|
| `n` | new build (form) |
| `enter` | open the selected build |
| `c` | cancel the selected build (asks y/n) |
| `/` | filter builds by name or state (`esc` clears) |
| `s` | hyperparameter searches and their live leaderboards |
| `r` | refresh now |
| `?` | this help |
| `q` / `ctrl+q` | quit (asks if a build started here is still running) |
| `ctrl+p` | command palette |

**Build**

| key | action |
|-----|--------|
| `enter` | the selected grove's record and REPORT line |
| `p` | predict on the held-out test set (when done) |
| `c` | cancel the build (asks y/n) |
| `e` | export the merged model (joblib) |
| `esc` | back to the builds |

**New build** (form): `tab`/`shift+tab` move between fields, `ctrl+s` or the
Start button starts, `esc` closes. Errors show beside the field; nothing
starts until the form is valid.

Costs on the local backend are what the same invocations would cost on
Lambda (marked *est.*): billed duration x memory, priced per architecture.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close", id="help.close"),
        Binding("question_mark", "dismiss", "Close", show=False, id="help.close2"),
        Binding("q", "dismiss", "Close", show=False, id="help.close3"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body", classes="dialog"):
            yield Markdown(KEYMAP)
        yield KeysFooter()

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
