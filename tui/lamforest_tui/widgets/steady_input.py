"""An ``Input`` that applies every key in the order it was typed.

Textual (8.2) inserts a printable key in the focused input at once, but an
editing key bound on the input (backspace, delete, arrows, home/end, enter)
first travels up the DOM to the app, which then looks the binding up: a
round trip through every ancestor's message queue. Typed quickly (a burst
read in one go from the terminal), printable keys that follow overtake it:
``x y backspace z`` becomes ``xy`` (z inserted, then the late backspace
deletes it), ``ab10`` after backspaces becomes ``b10``. The deeper the
input (a form's grid in a modal), the longer the trip and the more is lost.
This input runs its own bindings where the key arrives, so nothing overtakes.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class SteadyInput(Input):
    async def _on_key(self, event: events.Key) -> None:
        bound = self._bindings.key_to_bindings.get(event.key)
        if bound and not event.is_printable:
            event.stop()
            event.prevent_default()
            self._restart_blink()
            await self.run_action(bound[0].action)
            return
        await super()._on_key(event)
