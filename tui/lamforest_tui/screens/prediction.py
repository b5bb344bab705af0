"""``p``: the merged forest on the held-out test set: accuracy and confusion matrix, or R² and errors."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from lamforest.driver import Prediction
from lamforest_tui.widgets.footer import KeysFooter


def confusion_table(pred: Prediction) -> Table:
    table = Table(title="confusion matrix (rows: true, columns: predicted)", show_lines=False, box=None)
    labels = [str(x) for x in pred.labels or []]
    table.add_column("", style="bold")
    for label in labels:
        table.add_column(label, justify="right")
    assert pred.confusion is not None
    for label, counts in zip(labels, pred.confusion.tolist(), strict=True):
        diag = labels.index(label)
        table.add_row(
            label, *(f"[green]{n}[/]" if j == diag else (str(n) if n else "[dim]0[/]") for j, n in enumerate(counts))
        )
    return table


def errors_table(pred: Prediction) -> Table:
    table = Table(title="errors", box=None)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in (pred.errors or {}).items():
        table.add_row(key, f"{value:.4g}")
    return table


class PredictionScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "close", "Close", id="prediction.close")]

    def __init__(self, build: str, pred: Prediction) -> None:
        super().__init__()
        self.build = build
        self.pred = pred

    def compose(self) -> ComposeResult:
        p = self.pred
        with VerticalScroll(id="prediction-body", classes="dialog"):
            yield Static(f"[b]{self.build}[/b] · predict on the {p.source} ({p.rows} rows)", classes="dialog-title")
            score = f"{p.score:.4f}" if p.score is not None else "-"
            yield Static(f"{p.metric or 'score'}: [b]{score}[/b]", id="prediction-score")
            if p.confusion is not None:
                yield Static(confusion_table(p), id="prediction-detail")
            elif p.errors:
                yield Static(errors_table(p), id="prediction-detail")
        yield KeysFooter()

    def action_close(self) -> None:
        self.dismiss(None)
