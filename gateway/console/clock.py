"""The step clock in words for the inbox and the case page (part-clock, issue 10).

Time left is counted on the step's own clock (the case's ``deadline_clock``, else sop.yaml
``clock:``): working hours of the city's calendar for the steps people do ("3 jam kerja lagi"),
every minute for the steps machines do ("20 menit lagi"). Whether a step is late is only
``deadline < now``, as the escalation scheduler reads it (complaints.deadlines.is_overdue), so
the words and the red row never disagree with the scheduler.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from complaints import sla
from complaints.sla import LATE_COUNT_DAYS
from config.model import CityConfig


def clock_kind(config: CityConfig, status: str) -> str:
    """How ``status``'s time counts; an unknown (retired) status counts wall minutes."""
    return config.sop.clock(status) if status in config.sop.statuses else sla.WALL


def step_clock_words(
    t: Mapping[str, str],
    config: CityConfig,
    status: str,
    deadline: datetime | None,
    now: datetime,
    *,
    clock: str | None = None,
) -> str:
    """ "3 jam kerja lagi", "40 menit kerja lagi", "terlambat 2 jam kerja" (or the wall-clock words), or "–".

    ``clock`` is the clock the deadline counts on (the case's ``deadline_clock``: a verified case
    handed to the operator counts working time although sop.yaml marks the status ``wall``);
    without it, the status's own clock.
    """
    if deadline is None:
        state = config.sop.state(status) if status in config.sop.statuses else None
        waiting = state is not None and state.minutes is None and not state.terminal
        return t["clock_paused"] if waiting else "–"
    deadline = deadline if deadline.tzinfo is not None else deadline.replace(tzinfo=UTC)
    if deadline < now - timedelta(days=LATE_COUNT_DAYS):
        return t["inbox_late_over_days"].format(n=LATE_COUNT_DAYS)
    kind = clock or clock_kind(config, status)
    left = sla.minutes_left(now, deadline, kind, sla.calendar_of(config.calendar))
    suffix = "_working" if kind == sla.WORKING else ""
    if deadline < now:
        return t["inbox_late" + suffix].format(n=max(0, int(-left // 60)))
    if left < 60:
        return t["inbox_left_minutes" + suffix].format(n=max(0, int(left)))
    return t["inbox_left_hours" + suffix].format(n=int(left // 60))
