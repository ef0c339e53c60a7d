"""One OPD's monthly SOP report, as an Inspektorat or Ombudsman audit asks for it (issue 10).

The SOP's "Pencatatan dan Pendataan": for one OPD and one month, what reached it, what it did
and how fast, step by step against the time standard, every step it finished late (with the
ticket, so an auditor can open the case), and every case it sent back as not its authority,
with its reason. Steps count for the OPD that held the case while they lasted
(``history.opd_code``), so a case re-routed away later still shows in the month of the OPD that
had it. A case merged into another (issue 10) is not open (nobody can act on it: its main case
carries the work) and is counted on its own line, merged in the month; see
:data:`complaints.reports.MERGED_STATUS` for why. Blocking: run in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from complaints import sla
from complaints.merging import MERGED_INTO
from complaints.models import Complaint, HistoryEntry
from complaints.queries import Viewer, opd_statuses
from complaints.reports import OperatorReturn, Period, StepFigure, finished_stays, returns_to_operator, step_figures
from complaints.step_times import REROUTE, Stay
from config.model import SopConfig
from config.statuses import ANSWERED, CLOSED, DISPOSED, RETURNED_TO_OPERATOR

_ALL = Viewer("operator")


@dataclass(frozen=True, slots=True)
class LateStep:
    """One of the OPD's steps that took longer than it was allowed."""

    ticket: str
    status: str
    started: datetime
    ended: datetime
    minutes: float
    allowed: float


@dataclass(frozen=True, slots=True)
class OpdReport:
    """Everything the printable monthly page of one OPD shows."""

    opd_code: str
    period: Period
    disposed: int
    """Times a case was disposed (or re-routed) to the OPD in the month."""
    answered: int
    """Answers the OPD sent to the operator in the month."""
    returned: int
    """Cases it returned to the operator as not its authority."""
    open_now: int
    """Its cases still open when the report was made (with it, or with the operator for its answer), merged ones not."""
    steps: tuple[StepFigure, ...]
    late: tuple[LateStep, ...]
    returns: tuple[OperatorReturn, ...]
    merged: int = 0
    """Its cases merged into another of its cases in the month (answered with that one)."""


def _entries(session: Session, code: str, status: str, start: datetime, end: datetime) -> int:
    """Rows entering ``status`` in [start, end) while ``code`` held the case (re-routes included)."""
    query = select(func.count()).where(
        HistoryEntry.opd_code == code,
        HistoryEntry.to_status == status,
        or_(HistoryEntry.from_status != HistoryEntry.to_status, HistoryEntry.action == REROUTE),
        HistoryEntry.at >= start,
        HistoryEntry.at < end,
    )
    return int(session.scalar(query) or 0)


def build_opd_report(session: Session, code: str, period: Period, sop: SopConfig, calendar: sla.Calendar) -> OpdReport:
    """The monthly report of OPD ``code`` over ``period``."""
    start, end = period.bounds(calendar)
    own = [s for s in finished_stays(session, _ALL, start, end, sop, calendar) if _is_own(s, code, sop)]
    tickets = _tickets(session, {s.complaint_id for s in own if not s.within})
    late = tuple(
        LateStep(tickets.get(s.complaint_id, "?"), s.status, s.started, s.ended, s.minutes, s.allowed)
        for s in sorted(own, key=lambda s: (s.ended, s.complaint_id))
        if not s.within
    )
    open_now = session.scalar(
        select(func.count()).where(
            Complaint.opd_code == code,
            Complaint.status.in_([s for s in opd_statuses() if s != CLOSED]),
            Complaint.merged_into_id.is_(None),
        )
    )
    # The merge's history row (a note: the status does not change) carries the OPD, on the ix_history_at range.
    merged = session.scalar(
        select(func.count()).where(
            HistoryEntry.action == MERGED_INTO,
            HistoryEntry.opd_code == code,
            HistoryEntry.at >= start,
            HistoryEntry.at < end,
        )
    )
    return OpdReport(
        opd_code=code,
        period=period,
        disposed=_entries(session, code, DISPOSED, start, end),
        answered=_entries(session, code, ANSWERED, start, end),
        returned=_entries(session, code, RETURNED_TO_OPERATOR, start, end),
        open_now=int(open_now or 0),
        steps=step_figures(own, sop),
        late=late,
        returns=tuple(r for r in returns_to_operator(session, _ALL, start, end) if r.opd_code == code),
        merged=int(merged or 0),
    )


def _is_own(stay: Stay, code: str, sop: SopConfig) -> bool:
    return stay.opd_code == code and sop.actor(stay.status) == "opd"


def _tickets(session: Session, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = session.execute(select(Complaint.id, Complaint.ticket).where(Complaint.id.in_(ids)))
    return {case_id: ticket for case_id, ticket in rows}
