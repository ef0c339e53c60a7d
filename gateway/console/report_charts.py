"""The report's two charts, drawn on the server by matplotlib as SVG (no JavaScript in the page).

- complaints received per day, one line per channel, over every day of the period;
- the share of each OPD's steps done within the time standard, as horizontal bars.

Each chart is a :class:`matplotlib.figure.Figure` drawn on its own SVG canvas, never through
``pyplot``: pyplot keeps global state and is not safe in the threads the console draws in.
matplotlib is imported on the first chart, not when the gateway starts (it takes a while and
most processes never draw). Text is drawn as paths, so the SVG looks the same in every browser.
"""

from __future__ import annotations

import io
import threading
from datetime import timedelta
from typing import TYPE_CHECKING

from complaints.reports import Report
from config.model import CityConfig
from gateway.console.report_tables import share

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_LOCK = threading.Lock()
"""One chart is drawn at a time, and matplotlib is imported only while holding this lock: its
font cache and text layout are shared, and two threads importing it for the first time at once
(the page's two charts arrive together) meet a half-imported ``matplotlib.ticker``."""

WIDTH_INCHES = 8.0
# Colours that stay apart for colour-blind readers (Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


def _figure(height: float) -> Figure:
    """A new figure (call with :data:`_LOCK` held)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_INCHES, height), layout="constrained")
    return figure


def _svg(figure: Figure) -> bytes:
    """The figure as SVG bytes (call with :data:`_LOCK` held)."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    buffer = io.BytesIO()
    FigureCanvasSVG(figure).print_svg(buffer, metadata={"Date": None})
    return buffer.getvalue()


def per_day_svg(report: Report, t: dict[str, str]) -> bytes:
    """Complaints received per day, one line per channel (days without any count as 0)."""
    days = [report.period.first + timedelta(days=i) for i in range(report.period.days)]
    counts: dict[str, dict[object, int]] = {}
    for day, channel, n in report.per_day:
        counts.setdefault(channel, {})[day] = n
    with _LOCK:
        from matplotlib.ticker import MaxNLocator  # under the lock: see _LOCK

        figure = _figure(3.8)
        axes = figure.add_subplot()
        for i, (channel, by_day) in enumerate(sorted(counts.items())):
            axes.plot(
                days,  # type: ignore[arg-type]  # matplotlib's date converter takes dates; the stubs say numbers
                [by_day.get(d, 0) for d in days],
                label=t.get("channel_" + channel, channel),
                color=PALETTE[i % len(PALETTE)],
                linewidth=1.6,
                marker="o" if len(days) <= 45 else None,
                markersize=3,
            )
        axes.set_title(t["report_per_day"])
        axes.set_ylabel(t["report_col_count"])
        axes.set_ylim(bottom=0)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(axis="y", alpha=0.3)
        if counts:  # below the plot: nine channels' legend would hide a month of lines
            figure.legend(loc="outside lower center", fontsize="small", ncols=min(5, len(counts)), frameon=False)
        else:
            axes.text(0.5, 0.5, t["report_none"], ha="center", va="center", transform=axes.transAxes)
        figure.autofmt_xdate()
        return _svg(figure)


def compliance_svg(report: Report, config: CityConfig, t: dict[str, str]) -> bytes:
    """Per OPD, the percentage of its steps done within the standard, as horizontal bars."""
    rows = [
        ((opd.short_name if (opd := config.opd(c.opd_code)) else c.opd_code), share(c.within, c.count) or 0.0, c.count)
        for c in report.opd_compliance
    ]
    rows.sort(key=lambda row: (row[1], row[0]))
    with _LOCK:
        figure = _figure(max(2.0, 0.6 + 0.32 * len(rows)))
        axes = figure.add_subplot()
        if rows:
            labels = [name for name, _, _ in rows]
            values = [value for _, value, _ in rows]
            bars = axes.barh(labels, values, color=PALETTE[2])
            axes.bar_label(bars, labels=[f"{v:.0f}% ({n})" for _, v, n in rows], padding=3, fontsize="small")
        else:
            axes.text(0.5, 0.5, t["report_none"], ha="center", va="center", transform=axes.transAxes)
        axes.set_xlim(0, 115)
        axes.set_xlabel(t["report_col_share"])
        axes.set_title(t["report_opd_compliance"])
        axes.grid(axis="x", alpha=0.3)
        return _svg(figure)
