"""The public statistics (``/statistik``): counts only, never a person, a ticket or a complaint's words.

Over the last twelve months (the current one included, city dates):

- complaints received per month, and per current status;
- per OPD: complaints it has now, how many of them were merged into another case, how many it
  answered, and the share answered within the standard. *Answered within the standard* means the
  OPD's own time, from the case's last disposition to it (entering ``disposisi``) to its first
  answer (entering ``dijawab``), counted in working minutes, is at most the sum of the time
  standards of the OPD's steps in sop.yaml (``actor: opd`` on the main line: 30 + 240 + 1440 minutes
  in the shipped SOP). The answer is credited to the OPD written on the history row
  (``history.opd_code``), so a re-routed case counts for the OPD that answered it.

A case merged into another (issue 10) counts as received and on the "merged" line of the
statuses and of its OPD, never as answered: its answer is its main case's, counted once there
(:data:`complaints.reports.MERGED_STATUS` says why).

OPDs with fewer than ``min_cases`` complaints in the window are left out (a handful of cases
could point at the people behind them); the page says how many were left out. Issue 14: the share
of PUAS ratings and of reopened answers are shown as shares only, and only over at least
``min_cases`` ratings (answers) of the OPD.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from complaints import sla
from complaints.models import CaseRating, Complaint, HistoryEntry
from complaints.reports import Period, status_key, statuses_in_order
from complaints.step_times import REROUTE
from config.model import SopConfig
from config.statuses import ANSWERED, DISPOSED

MONTHS = 12


@dataclass(frozen=True, slots=True)
class OpdFigure:
    """One OPD's public line."""

    opd_code: str
    received: int
    answered: int
    answered_within: int
    merged: int = 0
    """Of ``received``, cases merged into another case (answered with it, not counted in ``answered``)."""
    ratings: int = 0
    """Issue 14: the citizens' ratings of the OPD's answers in the window (``case_ratings``)."""
    satisfied: int = 0
    """Of ``ratings``, PUAS (or 3-5)."""
    reopened: int = 0
    """Cases a TIDAK PUAS (or the operator's decision on one) reopened to the OPD in the window."""


@dataclass(frozen=True, slots=True)
class PublicFigures:
    """Everything ``/statistik`` shows."""

    period: Period
    per_month: tuple[tuple[date, int], ...]
    """(first day of the month, complaints received), every month of the window, zeros included."""
    per_status: tuple[tuple[str, int], ...]
    per_opd: tuple[OpdFigure, ...]
    hidden_opds: int
    """OPDs left out for having fewer than the minimum number of complaints."""
    min_cases: int


def window(today: date) -> Period:
    """The first day of the month eleven months back, to ``today``."""
    month_index = today.year * 12 + today.month - 1 - (MONTHS - 1)
    return Period(date(month_index // 12, month_index % 12 + 1, 1), today)


def opd_standard_minutes(sop: SopConfig) -> int:
    """The OPD's share of the SOP: the sum of the main-line steps whose actor is ``opd``."""
    return sum(s.minutes or 0 for s in sop.steps if s.actor == "opd")


def _answers(
    session: Session, start: datetime, end: datetime, sop: SopConfig, calendar: sla.Calendar
) -> tuple[Counter[str], Counter[str]]:
    """Per OPD: cases first answered in [start, end), and how many of those within the OPD's standard."""
    standard = opd_standard_minutes(sop)
    rows = session.execute(
        select(HistoryEntry.complaint_id, HistoryEntry.at, HistoryEntry.to_status, HistoryEntry.opd_code)
        .add_columns(Complaint.opd_code)
        .join(Complaint, Complaint.id == HistoryEntry.complaint_id)
        .where(
            HistoryEntry.to_status.in_((DISPOSED, ANSWERED)),
            # A status change, or a re-route (disposisi to disposisi): not a note written in the status.
            or_(HistoryEntry.from_status != HistoryEntry.to_status, HistoryEntry.action == REROUTE),
            HistoryEntry.at < end,
            # A merged case is answered with its main case, counted once there (an answer the OPD gave it
            # before the merge too: its reporter got the main case's answer).
            Complaint.merged_into_id.is_(None),
            Complaint.id.in_(
                select(HistoryEntry.complaint_id).where(
                    HistoryEntry.to_status == ANSWERED, HistoryEntry.at >= start, HistoryEntry.at < end
                )
            ),
        )
        .order_by(HistoryEntry.complaint_id, HistoryEntry.id)
    )
    answered: Counter[str] = Counter()
    within: Counter[str] = Counter()
    case_id: str | None = None
    disposed_at: datetime | None = None
    done = False
    for complaint_id, at, to_status, held_by, opd_now in rows:
        if complaint_id != case_id:
            case_id, disposed_at, done = complaint_id, None, False
        if to_status == DISPOSED:
            disposed_at = at
            continue
        if done or at < start or disposed_at is None:
            done = True
            continue
        done = True
        opd = held_by or opd_now
        if opd is None:
            continue
        answered[opd] += 1
        within[opd] += sla.working_minutes_between(disposed_at, at, calendar) <= standard
    return answered, within


def _ratings(
    session: Session, start: datetime, end: datetime
) -> tuple[Counter[str | None], Counter[str | None], Counter[str | None]]:
    """Per OPD: ratings and PUAS ratings given in [start, end), and reopens made in it (issue 14)."""
    rated: Counter[str | None] = Counter()
    satisfied: Counter[str | None] = Counter()
    for opd, happy in session.execute(
        select(CaseRating.opd_code, CaseRating.satisfied).where(CaseRating.at >= start, CaseRating.at < end)
    ):
        rated[opd] += 1
        satisfied[opd] += int(happy)
    reopened: Counter[str | None] = Counter(
        session.scalars(
            select(HistoryEntry.opd_code).where(
                HistoryEntry.action == "reopen", HistoryEntry.at >= start, HistoryEntry.at < end
            )
        )
    )
    return rated, satisfied, reopened


def public_figures(
    session: Session, sop: SopConfig, calendar: sla.Calendar, today: date, min_cases: int
) -> PublicFigures:
    """The figures of ``/statistik`` for the window ending ``today`` (blocking: run in a thread)."""
    period = window(today)
    start, end = period.bounds(calendar)
    rows = session.execute(
        select(Complaint.created_at, Complaint.status, Complaint.opd_code, Complaint.merged_into_id).where(
            Complaint.created_at >= start, Complaint.created_at < end
        )
    ).all()
    months: Counter[date] = Counter()
    statuses: Counter[str] = Counter()
    opds: Counter[str] = Counter()
    merged: Counter[str] = Counter()
    for created, status, opd, merged_into in rows:
        months[calendar.local_date(created).replace(day=1)] += 1
        statuses[status_key(status, merged_into)] += 1
        if opd is not None:
            opds[opd] += 1
            merged[opd] += merged_into is not None
    answered, within = _answers(session, start, end, sop, calendar)
    rated, satisfied, reopened = _ratings(session, start, end)
    shown = sorted(code for code, n in opds.items() if n >= min_cases)
    month_starts = []
    cursor = period.first
    while cursor <= period.last:
        month_starts.append(cursor)
        cursor = (cursor + timedelta(days=32)).replace(day=1)
    return PublicFigures(
        period=period,
        per_month=tuple((m, months[m]) for m in month_starts),
        per_status=statuses_in_order(statuses, sop),
        per_opd=tuple(
            OpdFigure(
                code,
                opds[code],
                answered[code],
                within[code],
                merged[code],
                rated[code],
                satisfied[code],
                reopened[code],
            )
            for code in shown
        ),
        hidden_opds=len(opds) - len(shown),
        min_cases=min_cases,
    )
