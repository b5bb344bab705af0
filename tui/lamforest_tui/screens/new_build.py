"""``n``: the new-build form. Validated by the core itself; errors show beside their field.

Submitting runs ``driver.validate`` (no writes) at once, then ``driver.create``
in a thread worker (it loads the data: missing file, unknown target column).
The form closes with the new build's name only when both passed; nothing is
written or started before that.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Select, Static
from textual.worker import Worker, WorkerState

from lamforest import driver
from lamforest.backend import Backend
from lamforest.data import BUILTINS
from lamforest.spec import ARCHITECTURES, MODELS, TASKS, BuildSpec, SpecError, parse_param_value
from lamforest_tui import fmt

DATASETS = [*BUILTINS, "synthetic", "file"]
COMMON_PARAMS = ("max_depth", "max_features", "min_samples_leaf")
MODEL_LABELS = {"rf": "random forest (rf)", "et": "extra trees (et)"}


@dataclass(frozen=True)
class Field:
    key: str  # SpecError.field that belongs here ("param max_depth" -> "max_depth")
    label: str
    kind: str  # "input" | "select"
    default: str
    options: tuple[tuple[str, str], ...] = ()
    placeholder: str = ""


def fields() -> list[Field]:
    return [
        Field("name", "name", "input", "", placeholder="letters, digits, _ - ."),
        Field("dataset", "dataset", "select", "digits", tuple((d, d) for d in DATASETS)),
        Field("data", "source", "input", "", placeholder="synthetic: 5000x20:3 · file: path.csv"),
        Field("target", "target column", "input", "", placeholder="files only: column name or index"),
        Field("task", "task", "select", "auto", tuple((t, t) for t in TASKS)),
        Field("model", "model", "select", "rf", tuple((MODEL_LABELS.get(m, m), m) for m in MODELS)),
        Field("seed", "seed", "input", "0"),
        Field("trees", "trees", "input", "100"),
        Field("grove", "grove size", "input", "10", placeholder="trees per Lambda call"),
        Field("memory", "memory (MB)", "input", "1769", placeholder="128-10240; 1769 = 1 vCPU"),
        Field("arch", "architecture", "select", "x86_64", tuple((a, a) for a in ARCHITECTURES)),
        Field("max_cost", "max cost (USD)", "input", "", placeholder="optional: cancel past this"),
        Field("max_depth", "max_depth", "input", "", placeholder="default: None (grow fully)"),
        Field("max_features", "max_features", "input", "", placeholder="default: sqrt / 1.0"),
        Field("min_samples_leaf", "min_samples_leaf", "input", "", placeholder="default: 1"),
    ]


def error_key(spec_field: str) -> str:
    """Which form field a ``SpecError.field`` belongs to."""
    key = spec_field.removeprefix("param ").strip()
    return key if key in {f.key for f in fields()} else "general"


class NewBuildScreen(ModalScreen[str | None]):
    """Dismisses with the created build's name, or None."""

    BINDINGS = [
        Binding("ctrl+s", "submit", "Start", id="new.start"),
        Binding("escape", "close", "Close", id="new.close"),
    ]

    def __init__(self, backend: Backend) -> None:
        super().__init__()
        self.backend = backend
        self.submitting = False

    def compose(self) -> ComposeResult:
        with Vertical(id="new-build", classes="dialog"):
            yield Static("[b]New build[/b]  ·  tab moves, enter or ctrl+s starts, esc closes", classes="dialog-title")
            with Grid(id="form"):
                for f in fields():
                    with Vertical(classes="field", id=f"field-{f.key}"):
                        yield Label(f.label, classes="field-label")
                        if f.kind == "select":
                            yield Select(f.options, value=f.default, allow_blank=False, id=f"in-{f.key}", compact=True)
                        else:
                            yield Input(
                                value=f.default or self._default(f.key),
                                placeholder=f.placeholder,
                                id=f"in-{f.key}",
                                compact=True,
                            )
                        yield Static("", classes="error", id=f"err-{f.key}")
            yield Static("", classes="error", id="err-general")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Start build", id="start", variant="success")
                yield Button("Cancel", id="cancel")
        yield Footer()

    def _default(self, key: str) -> str:
        if key == "name":
            return "digits-" + time.strftime("%Y%m%d-%H%M%S", time.localtime(fmt.now()))
        return ""

    def on_mount(self) -> None:
        self.query_one("#in-name", Input).focus()
        self._sync_source()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "in-dataset":
            self._sync_source()
            name = self.query_one("#in-name", Input)
            prefix, _, rest = name.value.partition("-")
            if prefix in DATASETS and rest:
                name.value = f"{event.value}-{rest}"

    def _sync_source(self) -> None:
        kind = self.query_one("#in-dataset", Select).value
        self.query_one("#field-data").display = kind in ("synthetic", "file")
        self.query_one("#field-target").display = kind == "file"

    def value(self, key: str) -> str:
        widget = self.query_one(f"#in-{key}")
        if isinstance(widget, Select):
            return str(widget.value)
        assert isinstance(widget, Input)
        return widget.value.strip()

    def spec(self) -> BuildSpec:
        """The form as a BuildSpec (unvalidated: the core validates it)."""
        kind = self.value("dataset")
        data = kind
        if kind == "synthetic":
            data = "synthetic:" + self.value("data").removeprefix("synthetic:")
        elif kind == "file":
            data = self.value("data")
            if not data:
                raise SpecError("data", "a file path is required (.csv, .parquet, .npz, .npy)")
        params: dict[str, Any] = {}
        for key in COMMON_PARAMS:
            text = self.value(key)
            if text:
                params[key] = parse_param_value(text)
        return BuildSpec(
            name=self.value("name"),
            data=data,
            target=self.value("target") or None,
            trees=self.value("trees"),  # type: ignore[arg-type]  # strings: BuildSpec validates and converts
            grove=self.value("grove"),  # type: ignore[arg-type]
            model=self.value("model"),
            task=self.value("task"),
            params=params,
            seed=self.value("seed"),  # type: ignore[arg-type]
            memory=self.value("memory"),  # type: ignore[arg-type]
            arch=self.value("arch"),
            max_cost=self.value("max_cost") or None,  # type: ignore[arg-type]
        )

    def clear_errors(self) -> None:
        for err in self.query(".error").results(Static):
            err.update("")
        for widget in self.query(".invalid"):
            widget.remove_class("invalid")

    def show_error(self, exc: SpecError) -> None:
        key = error_key(exc.field)
        if key == "general":
            self.query_one("#err-general", Static).update(f"{exc.field}: {exc.message}")
            return
        self.query_one(f"#err-{key}", Static).update(exc.message)
        widget = self.query_one(f"#in-{key}")
        widget.add_class("invalid")
        widget.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        key = (event.input.id or "").removeprefix("in-")
        if event.input.has_class("invalid"):
            event.input.remove_class("invalid")
            self.query_one(f"#err-{key}", Static).update("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "start":
            self.action_submit()
        else:
            self.dismiss(None)

    def action_submit(self) -> None:
        if self.submitting:
            return
        self.clear_errors()
        try:
            spec = driver.validate(self.spec())
        except SpecError as exc:
            self.show_error(exc)
            return
        self.submitting = True
        self.query_one("#start", Button).disabled = True
        self.query_one("#err-general", Static).update("[dim]loading the data…[/dim]")
        self.create(spec)

    @work(thread=True, exclusive=True, exit_on_error=False, group="create")
    def create(self, spec: BuildSpec) -> str:
        return driver.create(self.backend, spec).spec.name

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "create" or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        self.submitting = False
        self.query_one("#start", Button).disabled = False
        self.query_one("#err-general", Static).update("")
        if event.state == WorkerState.SUCCESS:
            self.dismiss(event.worker.result)
            return
        error = event.worker.error
        if isinstance(error, SpecError):
            self.show_error(error)
        else:
            self.query_one("#err-general", Static).update(f"{type(error).__name__}: {error}")

    def action_close(self) -> None:
        self.dismiss(None)
