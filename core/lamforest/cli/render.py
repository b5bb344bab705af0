"""Terminal output of the ``lamforest`` command: tables, the progress bar, predictions (rich)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.markup import escape

from lamforest import driver as drv
from lamforest import fmt


def fmt_usd(v: float | None) -> str:
    """Money as every screen writes it (``lamforest.fmt``); ``-`` when unknown."""
    return "-" if v is None else fmt.usd(v)


def fmt_ms(v: float | None) -> str:
    """A duration in ms, as every screen writes durations; ``-`` when unknown."""
    return "-" if v is None else fmt.ms(v)


def grove_table(st: drv.BuildStatus) -> Any:
    from rich.table import Table

    t = Table(title=f"groves of {st.name}", show_lines=False, header_style="bold")
    for col in ("grove", "trees", "seed", "state", "try", "duration", "billed", "init", "max mem", "cost"):
        t.add_column(col, justify="left" if col == "state" else "right")
    for r in st.rows:
        rep = r.report
        style = {"failed": "red", "cancelled": "yellow", "running": "cyan"}.get(r.state)
        t.add_row(
            str(r.grove),
            str(r.trees),
            str(r.seed),
            r.state,
            str(max(r.attempt, 1)),
            fmt.secs(r.duration_s) if r.duration_s is not None else "-",
            fmt_ms(rep.billed_ms if rep else None),
            fmt_ms(rep.init_ms if rep else None),
            fmt.mb(rep.max_memory_mb) if rep else "-",
            fmt_usd(r.cost_usd),
            style=style,
        )
    return t


def _sample_rows(st: Any) -> list[tuple[str, str]]:
    """Sharded data: how much each grove and the forest as a whole see (subsampled bagging)."""
    sh = st.plan.sharded
    if not sh:
        return []
    return [
        (
            "sample",
            f"{sh['shards']:,} shards, {sh['bytes'] / 1e6:,.1f} MB; each grove samples whole shards, "
            f"up to {sh['rows_per_grove']:,} train rows (mean {sh.get('sample_rows_mean', 0):,.0f}); "
            f"the forest sees {sh.get('seen_fraction', 0):.1%} of the train rows; no OOB score",
        )
    ]


def summary_table(st: drv.BuildStatus) -> Any:
    from rich.table import Table

    j = st.to_json()
    t = Table(show_header=False, box=None)
    t.add_column(style="bold")
    t.add_column()
    est = " (estimate: what Lambda would charge)" if st.cost_estimate else ""
    rows = [
        ("build", f"{st.name}  \\[{st.state}]"),  # escaped: rich would read [done] as markup and drop it
        ("backend", st.backend),
        (
            "forest",
            f"{st.spec.model} {st.plan.task}, {st.trees_done}/{st.spec.trees} trees in "
            f"{len(st.rows)} groves of {st.spec.grove}",
        ),
        (
            "data",
            f"{st.spec.data}: {st.plan.n_train} train rows, {st.plan.n_test} test rows, {st.plan.n_features} features",
        ),
        *_sample_rows(st),
        ("elapsed", fmt.secs(st.elapsed_s)),
        ("billed", f"{fmt.ms(st.billed_ms)}, {fmt.gbs(st.gb_seconds)} at {fmt.mb(st.spec.memory)} {st.spec.arch}"),
        ("cost", f"{fmt_usd(st.cost_usd)}{est}"),
    ]
    if j["test_score"] is not None:
        rows.append((f"test {j['metric']}", f"{j['test_score']:.4f}"))
    if j["oob_score"] is not None:
        rows.append(("oob score", f"{j['oob_score']:.4f}"))
    if j["failures"]:
        rows.append(("retried", f"{len(j['failures'])} failed attempt(s)"))
    # Free text is escaped: "[Errno 28]" would otherwise be read as markup and vanish.
    if st.cancel_reason:
        rows.append(("cancelled", escape(st.cancel_reason)))
    if j["error"]:
        rows.append(("error", escape(j["error"])))
    if st.hint:
        rows.append(("next", escape(st.hint)))
    if st.model:
        rows.append(("model", st.model))
    elif j["model_kind"] == "groves":
        merge: Mapping[str, Any] = (st.summary.get("merge") if st.summary else None) or {}
        why = f", above the merge limit of {merge['limit_mb']:,.0f} MB" if merge.get("mode") == "auto" else ""
        rows.append(
            (
                "model",
                f"a grove set: {len(st.rows)} groves, {j['forest_mb']:,.1f} MB merged{why}; predict new rows with "
                f"`lamforest predict {st.name} --data FILE --out PRED.csv` (groves streamed)",
            )
        )
    mem = j["memory"] or {}
    if mem.get("driver_finish_peak_mb") is not None:
        who = "groves fitted in this process, its peak" if mem.get("fitted_here") else "workers peak"
        workers = f"; {who} {mem['worker_peak_mb']:,.0f} MB" if mem.get("worker_peak_mb") is not None else ""
        rows.append(("memory", f"driver peak during finish {mem['driver_finish_peak_mb']:,} MB{workers}"))
    for k, v in rows:
        t.add_row(k, v)
    return t


class ProgressView:
    """A rich progress bar: groves done/running/failed, trees, elapsed, cost so far."""

    def __init__(self, console: Any, total: int, trees: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.task = self.progress.add_task("groves", total=total, info="")
        self.trees = trees

    def __enter__(self) -> ProgressView:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, st: drv.BuildStatus) -> None:
        info = (
            f"running {st.count('running')}  failed {st.count('failed')}  "
            f"trees {st.trees_done}/{self.trees}  {fmt_usd(st.cost_usd)}{' est.' if st.cost_estimate else ''}"
            f"  \\[{st.state}]"
        )
        self.progress.update(self.task, completed=st.count("done"), info=info)


def print_prediction(console: Any, pred: drv.Prediction) -> None:
    from rich.table import Table

    console.print(f"[bold]{pred.source}[/]: {pred.rows} rows")
    if pred.out and pred.out != "-":
        console.print(f"predictions written to [bold]{pred.out}[/]")
    if pred.driver_peak_mb is not None:
        console.print(f"driver peak memory while predicting: {pred.driver_peak_mb:,} MB")
    if pred.metric is None:
        if not pred.out:
            console.print(f"predictions (first 20): {pred.predictions[:20].tolist()}")
        return
    console.print(f"[bold]{pred.metric}[/] {pred.score:.4f}")
    if pred.confusion is not None and pred.labels is not None and len(pred.labels) <= 20:
        t = Table(title="confusion matrix (rows: true, columns: predicted)")
        t.add_column("")
        for lab in pred.labels:
            t.add_column(str(lab), justify="right")
        for lab, row in zip(pred.labels, pred.confusion, strict=True):
            t.add_row(str(lab), *[str(int(v)) for v in row])
        console.print(t)
    if pred.unseen:
        seen = ", ".join(map(str, pred.unseen_labels or []))
        console.print(
            f"[yellow]{pred.unseen:,} row(s) have labels the model never saw ({escape(seen)}): counted wrong in "
            "the accuracy, absent from the confusion matrix[/]"
        )
    if pred.errors:
        console.print("  ".join(f"{k} {v:.4f}" for k, v in pred.errors.items()))


def leaderboard_table(lb: Any) -> Any:
    from rich.table import Table

    est = " (est.)" if lb.cost_estimate else ""
    t = Table(title=f"search {lb.name}: {lb.done}/{len(lb.trials)} trials, {fmt_usd(lb.cost_usd)}{est}")
    for col in ("rank", "trial", *lb.spec.grid, lb.metric or "score", "duration", "cost", "state"):
        t.add_column(col, justify="left" if col == "state" else "right")
    for rank, tr in enumerate(lb.ranked(), start=1):
        t.add_row(
            str(rank) if tr.score is not None else "-",
            str(tr.trial),
            *[str(tr.params.get(k)) for k in lb.spec.grid],
            f"{tr.score:.4f}" if tr.score is not None else "-",
            fmt.secs(tr.duration_s) if tr.duration_s is not None else "-",
            fmt_usd(tr.cost_usd),
            tr.state if not tr.error else f"{tr.state}: {tr.error[:60]}",
        )
    return t
