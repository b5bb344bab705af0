"""The progress bar of a fit: rich, in a terminal or a Jupyter notebook; silent elsewhere."""

from __future__ import annotations

from typing import Any

from lamforest.driver.watch import BuildStatus


class BuildProgress:
    """A rich progress bar of a build's trees, in a terminal or a Jupyter notebook; silent elsewhere."""

    def __init__(self, enabled: bool, name: str, trees: int, groves: int) -> None:
        self.name, self.trees, self.groves = name, trees, groves
        self._bar: Any = None
        self._task: Any = None
        if enabled:
            from rich.console import Console

            console = Console(stderr=True)
            if console.is_terminal or console.is_jupyter:
                from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

                self._bar = Progress(
                    TextColumn("[bold]{task.description}"),
                    BarColumn(),
                    TaskProgressColumn(),
                    TextColumn("{task.fields[detail]}"),
                    TimeElapsedColumn(),
                    console=console,
                )

    def __enter__(self) -> BuildProgress:
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task(self.name, total=self.trees, detail="queued")
        return self

    def update(self, st: BuildStatus) -> None:
        if self._bar is None:
            return
        est = " est." if st.cost_estimate else ""
        detail = (
            f"{st.count('done')}/{self.groves} groves, {st.count('running')} running, "
            f"{st.count('failed')} failed, ${st.cost_usd:.2e}{est}  {st.state}"
        )
        self._bar.update(self._task, completed=st.trees_done, detail=detail)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
