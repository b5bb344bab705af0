"""Plain snapshots of a build, made in the worker thread from a ``BuildStatus``.

The core's ``Watcher`` mutates its rows on every refresh, so the UI thread
never reads a ``BuildStatus`` directly: a worker turns it into a frozen
``BuildView`` (every table cell already formatted) and posts that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lamforest import fmt
from lamforest.driver import BuildStatus, GroveRow
from lamforest.logs import parse_report

# (column key, label, width): fixed widths, so updates never re-measure the table; every figure fits its column.
GROVE_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("grove", "grove", 6),
    ("trees", "trees", 5),
    ("seed", "seed", 10),
    ("state", "state", 9),
    ("start", "start", fmt.WIDTH["secs"] + 1),
    ("duration", "duration", 8),
    ("billed", "billed", fmt.WIDTH["secs"]),
    ("init", "init", fmt.WIDTH["secs"]),
    ("memory", "max mem", fmt.WIDTH["mb"]),
    ("cost", "cost", fmt.WIDTH["usd"]),
    ("retries", "retry", 5),
)
# Where the table is narrower than its columns, they give way in this order (x shows them all again).
GROVE_DROP_ORDER = ("seed", "start", "billed", "trees", "retries", "init", "duration")
ACTIVE = ("queued", "running", "finishing")
FINAL = ("done", "failed", "cancelled")
INTERRUPTED = "interrupted"  # no driver holds the build any more: not running, no clock; resumable


def grove_cells(row: GroveRow, origin: float) -> tuple[str, ...]:
    """One table row; ``origin`` is the build's creation time, so starts read ``+1.20s``."""
    rep = row.report
    return (
        str(row.grove),
        str(row.trees),
        str(row.seed),
        row.state,
        f"+{fmt.secs(max(0.0, row.started - origin))}" if row.started is not None else "",
        fmt.secs(row.duration_s),
        fmt.ms(rep.billed_ms) if rep else "",
        fmt.ms(rep.init_ms) if rep and rep.init_ms is not None else "",
        fmt.mb(rep.max_memory_mb) if rep else "",
        fmt.usd(row.cost_usd) if rep else "",
        str(row.retries) if row.retries else "",
    )


@dataclass(frozen=True)
class Span:
    """A grove's run on the timeline, in seconds from the build's first start."""

    grove: int
    start: float
    end: float
    state: str


@dataclass(frozen=True)
class BuildView:
    name: str
    state: str
    backend: str
    task: str
    model: str
    groves_total: int
    memory_mb: int
    arch: str
    counts: dict[str, int]
    trees_done: int
    trees_total: int
    elapsed_s: float
    billed_ms: float
    gb_seconds: float
    cost_usd: float
    projected_usd: float | None
    estimate: bool
    metric: str | None
    test_score: float | None
    oob_score: float | None
    reason: str | None
    late_cancel: bool
    ended: bool  # the driver wrote its summary: nothing in the store changes any more
    error: str | None
    model_path: str | None
    cells: dict[int, tuple[str, ...]]
    records: dict[int, dict[str, Any]]
    durations: list[float]
    spans: list[Span]
    new_lines: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def chart_key(self) -> tuple[int, ...]:
        """Changes when the charts have something new to draw."""
        c = self.counts
        return (c.get("done", 0), c.get("running", 0), c.get("failed", 0), c.get("cancelled", 0))

    def header_lines(self, width: int = 160) -> list[str]:
        """The header's lines: who and what, progress, time and money, then one line for a note (blank when
        there is none), so the header keeps its height from queued to done at a given width. Below
        ``WIDE_HEADER`` columns time and money take two lines, so no figure is cut."""
        c = self.counts
        est = "est. " if self.estimate else ""
        who = (
            f"[b]{self.name}[/b]  [{state_style(self.state)}]{self.state}[/]  ·  {self.model} {self.task} "
            f"on {self.backend}  ·  {fmt.mb(self.memory_mb)} {self.arch}"
        )
        cancelled = f", {c.get('cancelled', 0)} cancelled" if c.get("cancelled") else ""
        progress = (
            f"groves {c.get('done', 0)}/{self.groves_total} done, {c.get('running', 0)} running, "
            f"{c.get('failed', 0)} failed{cancelled}  ·  trees {self.trees_done}/{self.trees_total}"
        )
        projected = fmt.usd(self.projected_usd) if self.projected_usd is not None else "-"
        time_cost = f"elapsed {fmt.secs(self.elapsed_s)}  ·  billed {fmt.gbs(self.gb_seconds)}  ·  "
        time_cost += f"cost {est}{fmt.usd(self.cost_usd)}"
        outlook = f"projected {est}{projected}"
        if self.test_score is not None:
            outlook += f"  ·  {self.metric or 'score'} [b]{fmt.score(self.test_score)}[/b]"
        note = ""
        if self.reason:
            note = f"[i]{self.reason}[/i]"
        elif self.late_cancel:
            note = "[i]it finished before the cancel reached it[/i]"
        elif self.state == "queued":
            note = "[i]waiting for the first grove to start: workers are starting (a cold start)[/i]"
        elif self.state == INTERRUPTED:
            note = "[i]no driver is running it: [b]r[/b] resumes it here[/i]"
        if self.error:
            note = f"{note}  [red]{self.error}[/red]" if note else f"[red]{self.error}[/red]"
        if width >= WIDE_HEADER:
            return [who, progress, f"{time_cost}  ·  {outlook}", note]
        return [who, progress, time_cost, outlook, note]


WIDE_HEADER = 110  # columns from which time and money share one header line


def state_style(state: str) -> str:
    return {
        "done": "green",
        "running": "yellow",
        "finishing": "cyan",
        "failed": "red",
        "cancelled": "magenta",
        INTERRUPTED: "bold red",
    }.get(state, "dim")


def projected_usd(status: BuildStatus) -> float | None:
    """What the whole build will cost: what it cost so far, plus the trees still to fit at the cost of a
    warm grove's tree. The first groves pay their workers' cold start (an Init Duration billed once per
    worker, not once per grove); spread over every tree, it made the first projections 8x too high."""
    if status.summary is not None or status.brief:
        return status.projected_cost_usd  # ended: the cost is what it is
    warm_usd = 0.0
    warm_trees = 0
    for r in status.rows:
        rep = r.report
        if r.state != "done" or rep is None or not rep.billed_ms:
            continue
        share = 1.0 if not rep.init_ms else min(1.0, rep.duration_ms / rep.billed_ms)  # the fit, not the start
        warm_usd += (r.cost_usd or 0.0) * share
        warm_trees += r.trees
    if not warm_trees:
        return None
    left = max(0, status.spec.trees - status.trees_done)
    return status.cost_usd + warm_usd / warm_trees * left


def elapsed(status: BuildStatus) -> float:
    """Seconds a driver worked on the build: counting (on the screen's clock) while one does, less
    the time it sat interrupted before a resume; the core's fixed figure once it ended or stopped."""
    if status.state in ACTIVE:
        return max(0.0, fmt.now() - status.plan.created - status.paused_s)
    return status.elapsed_s


CellCache = dict[int, tuple[tuple[Any, ...], tuple[str, ...]]]


def cached_cells(status: BuildStatus, origin: float, cache: CellCache) -> dict[int, tuple[str, ...]]:
    """Every grove's cells, formatting again only the rows whose record or report changed (and the
    running ones, whose duration grows): a 1,000-grove build changes a few dozen rows per refresh."""
    out = {}
    for r in status.rows:
        key = (r.state, r.attempt, r.started, r.ended, r.request_id, r.report is not None)
        hit = cache.get(r.grove)
        if hit is None or hit[0] != key or r.state == "running":
            hit = cache[r.grove] = (key, grove_cells(r, origin))
        out[r.grove] = hit[1]
    return out


def build_view(status: BuildStatus, new_lines: list[str] | None = None, cache: CellCache | None = None) -> BuildView:
    """Freeze a status (call it in the thread that refreshed it); ``cache`` keeps formatted rows
    between calls for the same build."""
    origin = status.plan.created
    starts = [r.started for r in status.rows if r.started is not None]
    t0 = min(starts) if starts else origin
    spans = [
        Span(r.grove, r.started - t0, r.started - t0 + (r.duration_s or 0.0), r.state)
        for r in status.rows
        if r.started is not None
    ]
    summary: Mapping[str, Any] = status.summary or {}
    return BuildView(
        name=status.name,
        state=status.state,
        backend=status.backend,
        task=status.plan.task,
        model=status.spec.model,
        groves_total=len(status.rows),
        memory_mb=status.spec.memory,
        arch=status.spec.arch,
        counts={st: status.count(st) for st in ("queued", "running", "done", "failed", "cancelled")},
        trees_done=status.trees_done,
        trees_total=status.spec.trees,
        elapsed_s=elapsed(status),
        billed_ms=status.billed_ms,
        gb_seconds=status.gb_seconds,
        cost_usd=status.cost_usd,
        projected_usd=projected_usd(status),
        estimate=status.cost_estimate,
        metric=summary.get("metric"),
        test_score=status.test_score,
        oob_score=summary.get("oob_score"),
        # A cancel that came after the last grove was done changed nothing: the build is done, not cancelled.
        reason=status.cancel_reason if status.state == "cancelled" else None,
        late_cancel=status.state == "done" and status.late_cancel,
        ended=status.summary is not None,
        error=summary.get("error"),
        model_path=status.model,
        cells=cached_cells(status, origin, cache if cache is not None else {}),
        records={r.grove: r.record for r in status.rows if r.record},
        durations=[r.duration_s for r in status.rows if r.state == "done" and r.duration_s is not None],
        spans=spans,
        new_lines=list(new_lines or []),
    )


def report_request_id(line: str) -> str | None:
    """The request id of a REPORT line (text or JSON form), else None."""
    if not (line.startswith("REPORT") or line.startswith("{")):
        return None
    rep = parse_report(line)
    return rep.request_id if rep else None


class LogTap:
    """Wraps a watcher's log source and keeps the lines it returned since the last ``take``."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self._pending: list[str] = []

    def lines(self, build: str, kind: str | None = None) -> list[str]:
        out = self.source.lines(build) if kind is None else self.source.lines(build, kind)
        self._pending.extend(out)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)  # e.g. ``shared`` (CloudWatch: one log for every build)

    def take(self) -> list[str]:
        out, self._pending = self._pending, []
        return out
