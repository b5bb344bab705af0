"""Grove durations (histogram) and the grove timeline (start -> end per grove, as Lithops plots it).

Drawn with textual-plotext: axes, ticks and labels for free, and it renders
in snapshots. Plotext redraws everything on each render, so the timeline
draws at most ``MAX_BANDS`` segments: past that, neighbouring groves are
merged into one band (first start -> last end), which is all a terminal's
height can show anyway.
"""

from __future__ import annotations

import math

import numpy as np
from textual_plotext import PlotextPlot

from lamforest_tui.view import Span

MAX_BANDS = 48
STATE_COLORS = {"done": "green", "running": "orange", "failed": "red", "cancelled": "magenta"}


def bands(spans: list[Span], limit: int = MAX_BANDS) -> list[Span]:
    """Merge neighbouring groves into at most ``limit`` bands; a band takes its worst state."""
    if len(spans) <= limit:
        return spans
    order = sorted(spans, key=lambda s: s.grove)
    size = -(-len(order) // limit)
    rank = {"failed": 3, "running": 2, "cancelled": 1, "done": 0}
    out = []
    for i in range(0, len(order), size):
        chunk = order[i : i + size]
        state = max((s.state for s in chunk), key=lambda st: rank.get(st, 0))
        out.append(Span(chunk[0].grove, min(s.start for s in chunk), max(s.end for s in chunk), state))
    return out


class DurationHistogram(PlotextPlot):
    """How long the finished groves took."""

    def show(self, durations: list[float]) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("grove duration (s)")
        if durations:
            bins = min(20, max(4, len(durations) // 2))
            plt.hist(durations, bins=bins, color="cyan")
            # Counts are whole groves: integer ticks only (plotext would put 833.3 on the axis).
            top = int(np.histogram(durations, bins=bins)[0].max())
            step = max(1, math.ceil(top / 5))
            plt.yticks(list(range(0, top + step, step)))
        plt.ylabel("groves")
        plt.xlabel("seconds")
        self.refresh()


class GroveTimeline(PlotextPlot):
    """One segment per grove (or band of groves): when it started and ended."""

    def show(self, spans: list[Span]) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("timeline: grove start -> end")
        plt.ylabel("grove")
        plt.xlabel("seconds since the first grove started")
        shown = bands(spans)
        if shown:
            ticks: list[float] = sorted({s.grove for s in shown})
            step = max(1, len(ticks) // 6)
            plt.yticks(ticks[::step])
        for span in shown:
            end = max(span.end, span.start + 1e-3)
            plt.plot(
                [span.start, end], [span.grove, span.grove], color=STATE_COLORS.get(span.state, "gray"), marker="hd"
            )
        self.refresh()
