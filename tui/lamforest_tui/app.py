"""``lamforest-tui``: start, watch, cancel and predict forest builds by key.

Thin on purpose: it opens the backend, composes the screens, and owns the
builds it starts (a thread worker per build running ``driver.run``).
"""

from __future__ import annotations

import argparse
import multiprocessing.resource_tracker
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, WorkerState, get_current_worker

from lamforest import driver, fmt
from lamforest.backend import BACKENDS, Backend, ConfigError, open_backend
from lamforest_tui.host import NewBuild, OpenBuild, ResumeBuild, StartBuild
from lamforest_tui.screens.build import BuildScreen
from lamforest_tui.screens.builds import BuildsScreen
from lamforest_tui.screens.confirm import ConfirmScreen
from lamforest_tui.screens.help import HelpScreen, describe
from lamforest_tui.screens.new_build import NewBuildScreen

STOP_WAIT_S = 5.0  # on quit, how long to wait for running drivers to let go


class LamforestApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "lamforest"
    BINDINGS = [
        Binding("question_mark", "help", "Help", tooltip="this help: every key of every screen", id="app.help"),
        Binding(
            "q",
            "quit",
            "Quit",
            tooltip="quit (says what happens to builds running here, asks y/n)",
            id="app.quit",
        ),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="app.ctrl_quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="app.ctrl_c_quit"),  # as in k9s, htop
        # Focus keys act where the app receives them (priority), before it hands the next keys on:
        # as plain bindings they made a round trip through the focused widget's queue, and the keys
        # typed right after a tab were already handed to the field being left.
        Binding(
            "tab",
            "focus_next",
            "Next field",
            show=False,
            priority=True,
            tooltip="next field (the form scrolls to it)",
            id="app.focus_next",
        ),
        Binding("shift+tab", "focus_previous", "Previous field", show=False, priority=True, id="app.focus_previous"),
    ]

    @dataclass
    class Progress(Message):
        """A build this app runs moved on (posted from its driver thread)."""

        name: str
        state: str
        groves_done: int
        groves: int

    def __init__(self, backend: Backend, workers: int | None = None) -> None:
        super().__init__()
        self.backend = backend
        self.workers_per_build = workers  # local pool size; None: one per CPU
        # Textual replaces sys.stderr with an object whose fileno() is -1 while the app runs;
        # multiprocessing's resource tracker passes that fd to its child and the local pool
        # then fails ("bad value(s) in fds_to_keep"). Start the tracker now, with the real stderr.
        multiprocessing.resource_tracker.ensure_running()
        self.runs: dict[str, Worker[driver.BuildStatus]] = {}
        self.progress: dict[str, LamforestApp.Progress] = {}
        self._stop = threading.Event()
        self._drivers_done: dict[str, threading.Event] = {}
        self.last_opened: str | None = None

    def on_mount(self) -> None:
        self.push_screen(BuildsScreen(self.backend))

    # ------------------------------------------------------------------ builds this app runs

    @property
    def running(self) -> list[str]:
        return [name for name, w in self.runs.items() if w.state in (WorkerState.PENDING, WorkerState.RUNNING)]

    def start_build(self, name: str) -> None:
        self._drivers_done[name] = threading.Event()
        self.runs[name] = self.run_build(name)

    @work(thread=True, exit_on_error=False, group="run")
    def run_build(self, name: str) -> driver.BuildStatus:
        worker = get_current_worker()
        done = self._drivers_done[name]

        def progress(st: driver.BuildStatus) -> None:
            self.post_message(self.Progress(name, st.state, st.count("done"), len(st.rows)))

        try:
            return driver.run(
                self.backend,
                name,
                workers=self.workers_per_build,
                on_progress=progress,
                should_stop=lambda: worker.is_cancelled or self._stop.is_set(),
            )
        finally:
            done.set()

    def on_lamforest_app_progress(self, message: Progress) -> None:
        self.progress[message.name] = message

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != "run" or self._stop.is_set():
            return
        if event.state == WorkerState.SUCCESS:
            st: driver.BuildStatus = worker.result  # type: ignore[assignment]
            if st.state == "done":
                metric = (st.summary.get("metric") if st.summary else None) or "score"
                self.notify(f"{st.name} done: {metric} {fmt.score(st.test_score)}", title="Build done")
            else:
                self.notify(f"{st.name}: {st.state}", title="Build ended", severity="warning")
        elif event.state == WorkerState.ERROR:
            self.notify(f"{type(worker.error).__name__}: {worker.error}", title="Build error", severity="error")

    # ------------------------------------------------------------------ navigation

    def in_view(self, screen: Screen) -> bool:
        """``screen`` is on top, or seen under the dialogs on top of it (a question must not freeze it)."""
        for top in reversed(self.screen_stack):
            if top is screen:
                return True
            if not top.is_modal or isinstance(top, HelpScreen):  # help is opaque: nothing shows under it
                return False
        return False

    def open_build(self, name: str) -> None:
        self.last_opened = name  # the list puts its cursor here when it is back on top
        self.push_screen(BuildScreen(self.backend, name))

    # What the screens ask (see ``lamforest_tui.host``).

    def on_open_build(self, message: OpenBuild) -> None:
        self.open_build(message.name)

    def on_start_build(self, message: StartBuild) -> None:
        self.start_build(message.name)
        self.open_build(message.name)

    def on_resume_build(self, message: ResumeBuild) -> None:
        self.resume_build(message.name)

    def on_new_build(self, message: NewBuild) -> None:
        self.action_new_build()

    def action_new_build(self) -> None:
        def created(name: str | None) -> None:
            if name:
                self.start_build(name)
                self.open_build(name)

        if isinstance(self.screen, NewBuildScreen):
            return
        self.push_screen(NewBuildScreen(self.backend, self.workers_per_build), created)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # While the form creates a build, nothing may open over it until it is done.
        busy = isinstance(self.screen, NewBuildScreen) and self.screen.submitting
        return not (action == "command_palette" and busy)

    def resume_build(self, name: str) -> None:
        """Ask, then drive an interrupted build to its end here (``driver.finish`` in a thread)."""
        if name in self.running:
            self.notify(f"{name} is already running here", title="Resume")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                # driver.run resumes a build whose groves are partly done (what `lamforest finish` does)
                # and, unlike finish, stops when this app quits.
                self.start_build(name)
                self.notify(f"resuming {name}: groves not done are dispatched again", title="Resume")

        self.push_screen(
            ConfirmScreen(
                f"Resume [b]{name}[/b]? Its driver is gone; this app dispatches the groves not done yet, "
                "then merges and scores it. Quitting stops it again.",
                title="Resume build?",
            ),
            answered,
        )

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            if not self.is_screen_installed("help"):
                self.install_screen(HelpScreen(), "help")  # composed once, kept: it opens at once after
            self.push_screen("help")

    def quit_question(self, running: list[str]) -> str:
        """What quitting does to the builds this app drives, said plainly."""
        names = ", ".join(f"[b]{n}[/b]" for n in running)
        verb = "is" if len(running) == 1 else "are"
        if self.backend.runs_without_driver:
            fate = (
                "Groves already sent finish on their own; no new grove is sent and nothing merges the forest "
                "until you resume it."
            )
        else:
            fate = (
                "Quitting STOPS it: its local workers end with this app. Groves done so far stay in the store; "
                "the build shows as interrupted until you resume it."
            )
        return (
            f"{names} {verb} running here. {fate}\nResume later with [b]r[/b] on the build, or `lamforest finish NAME`."
        )

    async def action_quit(self) -> None:
        running = self.running
        if not running:
            self.exit()
            return
        if isinstance(self.screen, ConfirmScreen):
            return  # already asking: one question at a time

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()

        self.push_screen(ConfirmScreen(self.quit_question(running), title="Quit?"), answered)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("New build", describe(BuildsScreen, "new_build"), self.action_new_build)
        yield SystemCommand("Help", describe(type(self), "help"), self.action_help)
        # The screen's own actions, where they apply now (the same checks as its keys); what they do
        # and their keys are said by the screen's bindings.
        own = {
            "cancel_build": "Cancel build",
            "resume_build": "Resume build",
            "predict": "Predict",
            "export": "Export",
            "searches": "Searches",
            "filter": "Filter builds",
        }
        for action, title in own.items():
            if hasattr(screen, f"action_{action}") and screen.check_action(action, ()):
                yield SystemCommand(title, describe(type(screen), action), getattr(screen, f"action_{action}"))

    def stop_drivers(self, wait_s: float = STOP_WAIT_S) -> list[str]:
        """Ask the build drivers to stop watching (builds stay in the store); wait for them to let go."""
        self._stop.set()
        for worker in self.runs.values():
            worker.cancel()
        return [name for name, done in self._drivers_done.items() if not done.wait(wait_s)]

    def on_unmount(self) -> None:
        self.stop_drivers()
        self.backend.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="lamforest-tui", description="Drive lamforest builds by key.")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="where groves run and land (default: LAMFOREST_BACKEND, else local)",
    )
    parser.add_argument(
        "--home", type=Path, default=None, help="local store folder (default: LAMFOREST_HOME, else the user data dir)"
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="local backend: worker processes per build (default: one per CPU)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        backend = open_backend(args.backend, home=args.home)
    except ConfigError as exc:
        raise SystemExit(f"lamforest-tui: {exc}") from None
    LamforestApp(backend, workers=args.workers).run()
