"""``n``: the new-build form. Validated by the core itself; every error shows beside its field.

Submitting is one step: ``driver.validate`` (no writes) at once, then, in a
thread worker, the workers are started (a cold start overlaps the data) and
``driver.create`` claims the name, loads and stores the data. The form says
which stage it is in; until it ends, keys other than typing are ignored (it
cannot be closed half-way, so no build is left behind unstarted), and the form
closes with the new build's name, which the app starts at once.
"""

from __future__ import annotations

import dataclasses
import shlex
import time
from dataclasses import dataclass
from typing import Any

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Button, Input, Label, Select, Static
from textual.worker import Worker, WorkerState

from lamforest import driver, fmt
from lamforest.backend import Backend
from lamforest.data import BUILTINS
from lamforest.estimate.params import ModelParams
from lamforest.spec import ARCHITECTURES, MODELS, TASKS, BuildSpec, SpecError, parse_param_value, real, whole
from lamforest.spec_input import make_spec
from lamforest_tui.widgets.footer import KeysFooter
from lamforest_tui.widgets.steady_input import SteadyInput
from lamforest_tui.widgets.steady_select import SteadySelect

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
        Field("data", "source", "input", "", placeholder="synthetic: 5000x20:3 · file: path.csv, shards/, s3://…"),
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


def estimate_command(spec: BuildSpec) -> str:
    """The ``lamforest estimate`` command that measures a sample of this very build (every field the form
    set away from its default), so the estimate it caches is the one the form looks up."""
    words = ["lamforest", "estimate", spec.name, "--data", spec.data]
    if spec.target is not None:
        words += ["--target", str(spec.target)]
    for flag, value, default in (
        ("--model", spec.model, "rf"),
        ("--task", spec.task, "auto"),
        ("--seed", spec.seed, 0),
        ("--memory", spec.memory, 1769),
        ("--arch", spec.arch, "x86_64"),
    ):
        if value != default:
            words += [flag, str(value)]
    words += ["-t", str(spec.trees), "-g", str(spec.grove)]
    for key, value in sorted(spec.params.items()):
        words += ["--param", f"{key}={value}"]
    return " ".join(shlex.quote(w) for w in words)


def estimate_text(spec: BuildSpec, params: ModelParams | None = None, seeds: tuple[int, ...] = ()) -> str:
    """One line: the projected wall time and cost on Lambda for ``spec``, from a cached sample, or how to get one.

    A sample measured with another of ``seeds`` stands in for this seed's: the seed moves the split and the
    trees, not what a tree costs to fit, so changing only the seed does not take the estimate away."""
    from lamforest.driver.estimate import cache_dir
    from lamforest.estimate.project import quick_estimate

    proj = quick_estimate(spec, cache_dir(), params)
    other = ""
    for seed in seeds:
        if proj is not None:
            break
        if seed != spec.seed:
            proj = quick_estimate(dataclasses.replace(spec, seed=seed), cache_dir(), params)
            other = f" [dim](sample measured with seed {seed})[/dim]" if proj is not None else ""
    if proj is None:
        return (
            f"[dim]estimate: no measured sample of this data and these parameters yet; "
            f"`{escape(estimate_command(spec))}` measures one[/dim]"
        )
    warn = f"  [yellow]{proj.warnings[0]}[/yellow]" if proj.warnings else ""
    return (
        f"estimate on Lambda: {fmt.secs(proj.wall_s)} ({fmt.secs(proj.wall_p10_s)}-{fmt.secs(proj.wall_p90_s)}), "
        f"{fmt.usd(proj.cost_usd)} for {proj.groves} groves at {fmt.mb(proj.memory_mb)}{other}{warn}"
    )


def error_key(spec_field: str) -> str:
    """Which form field a ``SpecError.field`` belongs to."""
    key = spec_field.removeprefix("param ").strip()
    return key if key in {f.key for f in fields()} else "general"


class NewBuildScreen(ModalScreen[str | None]):
    """Dismisses with the created build's name, or None."""

    BINDINGS = [
        Binding(
            "ctrl+s",
            "submit",
            "Start",
            tooltip="start (enter in a field too): every error shows beside its field; nothing starts until all pass",
            id="new.start",
        ),
        Binding("escape", "close", "Close", tooltip="close (not while it is starting the build)", id="new.close"),
    ]

    @dataclass
    class Stage(Message):
        """The submit moved on (posted from its thread)."""

        text: str

    def __init__(self, backend: Backend, workers: int | None = None) -> None:
        super().__init__()
        self.backend = backend
        self.build_workers = workers
        self.submitting = False
        self.stages: list[str] = []  # what the form said while submitting, in order
        self.estimated = ""  # the estimate line last shown
        self._estimate_params: ModelParams | None = None
        self._estimate_timer: Timer | None = None
        self._seeds_estimated: list[int] = []  # seeds a sample was found for (another seed's stands in)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="new-build", classes="dialog", can_focus=False):
            yield Static("[b]New build[/b]  ·  tab moves, enter or ctrl+s starts, esc closes", classes="dialog-title")
            with Grid(id="form"):
                for f in fields():
                    with Vertical(classes="field", id=f"field-{f.key}"):
                        yield Label(f.label, classes="field-label")
                        if f.kind == "select":
                            yield SteadySelect(
                                f.options, value=f.default, allow_blank=False, id=f"in-{f.key}", compact=True
                            )
                        else:
                            yield SteadyInput(
                                value=f.default or self._default(f.key),
                                placeholder=f.placeholder,
                                id=f"in-{f.key}",
                                compact=True,
                            )
                        yield Static("", classes="error", id=f"err-{f.key}")
            yield Static("", classes="error", id="err-general")
            yield Static("", id="estimate")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Start build", id="start", variant="success")
                yield Button("Cancel", id="cancel")
        yield KeysFooter()

    def _default(self, key: str) -> str:
        if key == "name":
            return "digits-" + time.strftime("%Y%m%d-%H%M%S", time.localtime(fmt.now()))
        return ""

    def on_mount(self) -> None:
        self.query_one("#in-name", Input).focus()
        self._sync_source()
        self._estimate_soon()

    # -- the estimate beside the form: from cached sample measurements only, computed off the UI thread
    @dataclass
    class Estimated(Message):
        text: str

    def _estimate_soon(self) -> None:
        """Re-estimate once the fields stop changing for a moment (typing fast costs one estimate)."""
        if self._estimate_timer is not None:
            self._estimate_timer.stop()
        self._estimate_timer = self.set_timer(0.3, self._estimate_now)

    def _estimate_now(self) -> None:
        try:
            spec = self.spec()
        except SpecError:
            self.query_one("#estimate", Static).update("")
            return
        self.estimate(spec)

    @work(thread=True, exclusive=True, exit_on_error=False, group="estimate")
    def estimate(self, spec: BuildSpec) -> None:
        if self._estimate_params is None:  # once per form: it may read the store (calibration, cold starts)
            from lamforest.driver.estimate import lambda_params

            self._estimate_params = lambda_params(self.backend)[0]
        text = estimate_text(spec, self._estimate_params, (*self._seeds_estimated, 0))
        if text.startswith("estimate on Lambda") and spec.seed not in self._seeds_estimated:
            self._seeds_estimated.append(spec.seed)
        self.post_message(self.Estimated(text))

    def on_new_build_screen_estimated(self, message: NewBuildScreen.Estimated) -> None:
        self.estimated = message.text
        self.query_one("#estimate", Static).update(message.text)

    def on_select_changed(self, event: Select.Changed) -> None:
        self._estimate_soon()
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

    def value(self, key: str, overrides: dict[str, str] | None = None) -> str:
        if overrides and key in overrides:
            return overrides[key]
        widget = self.query_one(f"#in-{key}")
        if isinstance(widget, Select):
            return str(widget.value)
        assert isinstance(widget, Input)
        return widget.value.strip()

    def spec(self, overrides: dict[str, str] | None = None) -> BuildSpec:
        """The form as a validated BuildSpec (``make_spec``, the road the CLI's flags take too): the
        fields' text is converted here, an error naming its field; ``overrides`` replace fields."""

        def value(key: str) -> str:
            return self.value(key, overrides)

        kind = value("dataset")
        data = kind
        if kind == "synthetic":
            data = "synthetic:" + value("data").removeprefix("synthetic:")
        elif kind == "file":
            data = value("data")
            if not data:
                raise SpecError(
                    "data", "a path is required: a .csv/.parquet/.npz/.npy file, or a folder or s3:// of Parquet shards"
                )
        params: dict[str, Any] = {}
        for key in COMMON_PARAMS:
            text = value(key)
            if text:
                params[key] = parse_param_value(text)
        max_cost = value("max_cost")
        return make_spec(
            value("name"),
            data=data,
            target=value("target") or None,
            trees=whole("trees", value("trees")),
            grove=whole("grove", value("grove")),
            model=value("model"),
            task=value("task"),
            params=params,
            seed=whole("seed", value("seed")),
            memory=whole("memory", value("memory")),
            arch=value("arch"),
            max_cost=real("max_cost", max_cost, "a number of USD") if max_cost else None,
        )

    def all_errors(self) -> tuple[BuildSpec | None, list[SpecError]]:
        """The form's spec, or every field's error at once: validate, put the offending field back to its
        default, repeat."""
        errors: list[SpecError] = []
        defaults = {f.key: f.default for f in fields()}
        overrides: dict[str, str] = {}
        for _ in range(len(defaults) + 1):
            try:
                spec = self.spec(overrides)
                return (None if errors else spec), errors
            except SpecError as exc:
                errors.append(exc)
                key = error_key(exc.field)
                if key == "general" or key in overrides:
                    return None, errors
                overrides[key] = defaults[key] if key != "name" else "x"
        return None, errors

    def clear_errors(self) -> None:
        for err in self.query(".error").results(Static):
            err.update("")
        for widget in self.query(".invalid"):
            widget.remove_class("invalid")

    def show_error(self, exc: SpecError, focus: bool = True) -> None:
        key = error_key(exc.field)
        if key == "general":
            self.query_one("#err-general", Static).update(f"{exc.field}: {exc.message}")
            return
        self.query_one(f"#err-{key}", Static).update(exc.message)
        widget = self.query_one(f"#in-{key}")
        widget.add_class("invalid")
        if focus:
            widget.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self._estimate_soon()
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
        elif not self.submitting:
            self.dismiss(None)

    def action_submit(self) -> None:
        if self.submitting:
            return
        self.clear_errors()
        spec, errors = self.all_errors()
        if spec is None:
            order = [f.key for f in fields()]
            errors.sort(key=lambda e: order.index(k) if (k := error_key(e.field)) in order else len(order))
            for i, exc in enumerate(errors):  # the focus goes to the first field, in the form's order
                self.show_error(exc, focus=i == 0)
            return
        self.submitting = True
        self.query_one("#start", Button).disabled = True
        self.query_one("#cancel", Button).disabled = True
        self.on_new_build_screen_stage(self.Stage("starting workers…"))
        self.create(spec)

    def on_new_build_screen_stage(self, message: NewBuildScreen.Stage) -> None:
        if self.submitting:
            self.stages.append(message.text)
            note = "[dim](keys wait until it is done)[/dim]"
            self.query_one("#err-general", Static).update(f"[b]{message.text}[/b]  {note}")

    @work(thread=True, exclusive=True, exit_on_error=False, group="create")
    def create(self, spec: BuildSpec) -> str:
        # Workers first: their cold start (local: interpreters importing scikit-learn) overlaps the data.
        self.backend.make_compute(spec, self.build_workers, False)
        self.post_message(self.Stage("claiming the name, loading and storing the data…"))
        name = driver.create(self.backend, spec).spec.name
        self.post_message(self.Stage("starting the build…"))
        return name

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # One submit at a time, and no closing half-way (it would leave a build behind).
        return not (self.submitting and action in ("close", "submit"))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "estimate" and event.state == WorkerState.ERROR:
            self.query_one("#estimate", Static).update(f"[dim]no estimate: {event.worker.error}[/dim]")
            return
        if event.worker.group != "create" or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        self.submitting = False
        self.query_one("#start", Button).disabled = False
        self.query_one("#cancel", Button).disabled = False
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
        if not self.submitting:
            self.dismiss(None)
