"""``enter`` on a grove: its store record and its REPORT line."""

from __future__ import annotations

import json
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from lamforest import fmt
from lamforest_tui.widgets.footer import KeysFooter

TIME_FIELDS = ("started", "ended")


def readable(record: dict[str, Any]) -> dict[str, Any]:
    """The record with its epoch times as local date-times (to the millisecond), the raw value kept
    beside them for whoever compares with logs."""
    out = dict(record)
    for key in TIME_FIELDS:
        value = out.get(key)
        if isinstance(value, int | float):
            out[key] = fmt.stamp_ms(float(value))
            out[f"{key}_epoch"] = value
    return out


class GroveScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="grove.close"),
        Binding("enter", "close", "Close", show=False, id="grove.close2"),
    ]

    def __init__(self, build: str, grove: int, record: dict[str, Any], report_line: str | None) -> None:
        super().__init__()
        self.build = build
        self.grove = grove
        self.record = record
        self.report_line = report_line

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="grove-body", classes="dialog"):
            yield Static(f"[b]{self.build} · grove {self.grove}[/b]", classes="dialog-title")
            yield Static("[b]record[/b] (builds/…/state/)", classes="section")
            text = (
                json.dumps(readable(self.record), indent=1, sort_keys=True) if self.record else "no record yet: queued"
            )
            yield Static(text, id="grove-record", markup=False)
            yield Static("[b]REPORT[/b]", classes="section")
            report = (self.report_line or "no REPORT line yet").replace("\t", "\n  ")
            yield Static(report, id="grove-report", markup=False)
        yield KeysFooter()

    def action_close(self) -> None:
        self.dismiss(None)
