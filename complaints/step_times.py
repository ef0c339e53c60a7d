"""How long each SOP step took, read back from the case history (issue 10, reports).

A case's history holds one row per status change (:func:`complaints.lifecycle.transition`).
A *stay* is the time between a row that enters a status and the next row that leaves it: one
step done once. Its length counts on the status's clock from ``sop.yaml`` (working minutes of
the city calendar, or wall minutes for the steps machines do), and it is *within the standard*
when that length is at most the time the step was allowed.

The allowance follows :mod:`complaints.lifecycle`: a status's ``minutes``, except after a wait
for the citizen (``dikembalikan_ke_pelapor``, no clock), when the resumed status gets what the
interrupted step had left (never more than its own standard). Stays in statuses without a clock
(waiting for the citizen, the closed case) are not steps of the city and are not returned.

Each stay is attributed to the OPD that held the case while it lasted: the ``opd_code`` written
on the history row that entered the status (a re-routed case's earlier steps stay with the OPD
that had them). History written before that column existed falls back to the case's current OPD.

Pure functions of the rows, the SOP and the calendar: no database, no clock of their own.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from complaints import sla
from config.model import SopConfig

REROUTE = "reroute"
"""The one move from a status to itself that starts the step again (``disposisi`` to another OPD)."""


@dataclass(frozen=True, slots=True)
class Change:
    """One history row, as far as step times need it."""

    complaint_id: str
    at: datetime
    action: str
    from_status: str | None
    to_status: str | None
    opd_code: str | None = None


@dataclass(frozen=True, slots=True)
class Stay:
    """One step done once: a case's time in one status, on that status's clock."""

    complaint_id: str
    status: str
    step: int
    opd_code: str | None
    started: datetime
    ended: datetime
    minutes: float
    """Length on the status's clock (working or wall minutes)."""
    allowed: float
    """Minutes the step was allowed (its standard, or what was left of it after a pause)."""

    @property
    def within(self) -> bool:
        """Done within the time standard."""
        return self.minutes <= self.allowed


def is_status_change(change: Change) -> bool:
    """True for a row that moved the case (notes, escalations and the like keep the status)."""
    if change.to_status is None:
        return False
    return change.from_status != change.to_status or change.action == REROUTE


@dataclass(slots=True)
class _Open:
    status: str
    started: datetime
    opd_code: str | None
    allowed: float | None


@dataclass(frozen=True, slots=True)
class _Rule:
    """What sop.yaml says of one status, looked up once per walk (not once per row)."""

    standard: float | None
    """Minutes allowed; None without a clock (or for a status sop.yaml no longer has)."""
    waits: bool
    """No clock and not the end: the case waits for the citizen and the clock pauses."""
    wall: bool
    step: int


def _rules(sop: SopConfig) -> dict[str, _Rule]:
    rules = {}
    for state in sop.states:
        minutes = sop.deadline_minutes(state.status)
        rules[state.status] = _Rule(
            standard=None if minutes is None else float(minutes),
            waits=minutes is None and not state.terminal,
            wall=state.clock == sla.WALL,
            step=state.step,
        )
    return rules


_UNKNOWN = _Rule(standard=None, waits=False, wall=False, step=0)


def stays(
    changes: Iterable[Change], sop: SopConfig, calendar: sla.Calendar, current_opd: Mapping[str, str | None]
) -> Iterator[Stay]:
    """The finished stays in ``changes`` (rows ordered by case, then by when they were written).

    ``current_opd`` maps a case id to its OPD now, for history rows without an ``opd_code``.
    """
    rules = _rules(sop)
    case_id: str | None = None
    open_: _Open | None = None
    paused: float | None = None
    for change in changes:
        if change.complaint_id != case_id:
            case_id, open_, paused = change.complaint_id, None, None
        if not is_status_change(change):
            continue
        assert change.to_status is not None  # noqa: S101 - is_status_change checked it
        used: float | None = None
        if open_ is not None and open_.status == change.from_status and open_.allowed is not None:
            stay = _close(open_, change, rules[open_.status], calendar)
            used = stay.minutes
            yield stay
        rule = rules.get(change.to_status, _UNKNOWN)
        if rule.standard is None:
            if rule.waits and open_ is not None and open_.allowed is not None and used is not None:
                paused = max(0.0, open_.allowed - used)
            allowed = None
        else:
            allowed = rule.standard if paused is None else min(paused, rule.standard)
            paused = None
        opd = change.opd_code if change.opd_code is not None else current_opd.get(change.complaint_id)
        open_ = _Open(change.to_status, change.at, opd, allowed)


def _close(open_: _Open, change: Change, rule: _Rule, calendar: sla.Calendar) -> Stay:
    assert open_.allowed is not None  # noqa: S101 - only clocked stays are closed
    if rule.wall:
        minutes = (change.at - open_.started).total_seconds() / 60
    else:
        minutes = sla.working_minutes_between(open_.started, change.at, calendar)
    return Stay(
        complaint_id=change.complaint_id,
        status=open_.status,
        step=rule.step,
        opd_code=open_.opd_code,
        started=open_.started,
        ended=change.at,
        minutes=max(0.0, minutes),
        allowed=open_.allowed,
    )


def median(values: Sequence[float]) -> float | None:
    """The median (the mean of the two middle values for an even count); None for no values."""
    return statistics.median(values) if values else None


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile: the smallest value with at least ``share`` of the values at or below it.

    Nearest rank (not interpolation) so every figure is a time some step really took, and a
    reader can check it by counting: the 90th percentile of ten values is the ninth smallest.
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]
