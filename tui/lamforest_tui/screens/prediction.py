"""The result of ``p``: where the predictions went and their first rows; for labelled rows (the held-out
test set, or a file with the target) accuracy and confusion matrix, or R² and errors."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
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


PREVIEW_ROWS = 10


def preview_table(pred: Prediction, rows: int = PREVIEW_ROWS, width: int = 94) -> Group:
    """The first rows as written: the prediction, then the probability of each class under the class's own
    label (whole: never cut to ``proba…``). Classes past ``width`` are left out, and the title says how
    many and where they are (every one is in the written file)."""
    shown = min(rows, pred.rows)
    labels = [str(x) for x in pred.labels or []] if pred.proba is not None else []
    room = width - 6 - 12  # the row and prediction columns
    fit = labels[: max(1, room // 8)] if labels else []
    more = len(labels) - len(fit)
    title = f"first {shown} of {pred.rows:,} rows"
    if labels:
        title += f"; probability of each class (columns{f', {more} more in the file' if more else ''})"
    table = Table(box=None)
    table.add_column("row", justify="right", style="dim")
    # Multi-output: one prediction column per output, as in the written file.
    heads = [f"prediction_{o}" for o in pred.outputs] if pred.outputs else ["prediction"]
    for head in heads:
        table.add_column(head, justify="right")
    for label in fit:
        table.add_column(label, justify="right", min_width=6, no_wrap=True)
    for i in range(shown):
        values = pred.predictions[i] if pred.outputs else [pred.predictions[i]]
        cells = [f"{v:.6g}" if isinstance(v, float) else str(v) for v in values]
        if pred.proba is not None:
            cells += [f"{p:.4f}" for p in pred.proba[i][: len(fit)]]
        table.add_row(str(i), *cells)
    return Group(Text(title, style="italic"), table)  # the title above, whole, however narrow the table


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
            if p.out:
                yield Static(f"predictions written to [b]{p.out}[/b]", id="prediction-out")
            if p.metric is not None:
                score = f"{p.score:.4f}" if p.score is not None else "-"
                yield Static(f"{p.metric}: [b]{score}[/b]", id="prediction-score")
            else:
                yield Static("no target column in these rows: nothing to score", id="prediction-score")
            width = min(94, self.app.size.width - 10)  # the dialog's text width, in a terminal this wide
            yield Static(preview_table(p, width=width), id="prediction-preview", classes="section")
            if p.confusion is not None:
                yield Static(confusion_table(p), id="prediction-detail")
            elif p.errors:
                yield Static(errors_table(p), id="prediction-detail")
            if p.driver_peak_mb is not None:
                yield Static(f"driver peak memory while predicting: {p.driver_peak_mb:,} MB", classes="hint")
        yield KeysFooter()

    def action_close(self) -> None:
        self.dismiss(None)
