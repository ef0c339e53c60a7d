"""The health page's small chart: queue depth and throughput per minute, drawn as inline SVG on the server.

No JavaScript and no chart library: two polylines over the minutes of the series, each scaled
to its own peak (which the legend states), so the page stays one request and reloads itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from workers.health_report import SeriesPoint

WIDTH = 600
HEIGHT = 120
PAD = 4


@dataclass(frozen=True)
class Chart:
    """What the template draws: the polylines' points and each line's peak."""

    width: int
    height: int
    depth_points: str
    depth_peak: int
    processed_points: str
    processed_peak: int
    sampled: bool
    """At least one minute has a queue depth sample (the monitor thread writes them)."""


def _points(values: list[tuple[int, int]], count: int, peak: int) -> str:
    step = (WIDTH - 2 * PAD) / max(1, count - 1)
    scale = (HEIGHT - 2 * PAD) / max(1, peak)
    return " ".join(f"{PAD + i * step:.1f},{HEIGHT - PAD - v * scale:.1f}" for i, v in values)


def build_chart(series: list[SeriesPoint]) -> Chart:
    """Scale ``series`` into the chart's box (minutes without a depth sample leave a gap-free line)."""
    depths = [(i, p.depth) for i, p in enumerate(series) if p.depth is not None]
    processed = [(i, p.processed) for i, p in enumerate(series)]
    depth_peak = max((v for _, v in depths), default=0)
    processed_peak = max((v for _, v in processed), default=0)
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        depth_points=_points(depths, len(series), depth_peak),
        depth_peak=depth_peak,
        processed_points=_points(processed, len(series), processed_peak),
        processed_peak=processed_peak,
        sampled=bool(depths),
    )
