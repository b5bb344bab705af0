"""The build's platform lines (START/END/REPORT), appended as they arrive."""

from __future__ import annotations

from textual.widgets import Log

LOG_MAX_LINES = 5000


class LogPane(Log):
    DEFAULT_CSS = """
    LogPane { height: 8; border: round $secondary; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_lines=LOG_MAX_LINES, highlight=False, auto_scroll=True, **kwargs)  # type: ignore[arg-type]
        self.border_title = "log (START / END / REPORT)"
