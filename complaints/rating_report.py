"""Ratings and reopen rates per OPD for the staff report (issue 14, close the loop).

Per OPD, in the report's period: answers that closed a case (the moves into ``selesai``), the
citizens' ratings of its answers (:class:`~complaints.models.CaseRating`, given to the OPD whose
answer was rated), how many were PUAS, and how many of its cases a TIDAK PUAS reopened (the
``reopen`` moves). Scoped like every report query (:func:`complaints.queries.visible_cases`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from complaints.models import CaseRating, Complaint, HistoryEntry
from complaints.queries import Viewer, visible_cases
from config.statuses import CLOSED

__all__ = ["OpdRatings", "opd_ratings"]


@dataclass(frozen=True, slots=True)
class OpdRatings:
    """One OPD's answers, ratings and reopens in the period."""

    opd_code: str | None
    answered: int
    ratings: int
    satisfied: int
    reopened: int


def opd_ratings(session: Session, viewer: Viewer, start: datetime, end: datetime) -> tuple[OpdRatings, ...]:
    """Per OPD (by code), what happened in [start, end) to the answers of the cases ``viewer`` may see."""
    ids = visible_cases(viewer).with_only_columns(Complaint.id)
    moves = session.execute(
        select(HistoryEntry.opd_code, HistoryEntry.action, HistoryEntry.to_status).where(
            HistoryEntry.at >= start,
            HistoryEntry.at < end,
            HistoryEntry.from_status != HistoryEntry.to_status,
            (HistoryEntry.to_status == CLOSED) | (HistoryEntry.action == "reopen"),
            HistoryEntry.complaint_id.in_(ids),
        )
    ).all()
    answered: Counter[str | None] = Counter(opd for opd, _action, to in moves if to == CLOSED)
    reopened: Counter[str | None] = Counter(opd for opd, action, _to in moves if action == "reopen")
    rated: Counter[str | None] = Counter()
    satisfied: Counter[str | None] = Counter()
    for opd, happy in session.execute(
        select(CaseRating.opd_code, CaseRating.satisfied).where(
            CaseRating.at >= start, CaseRating.at < end, CaseRating.complaint_id.in_(ids)
        )
    ):
        rated[opd] += 1
        satisfied[opd] += int(happy)
    codes = sorted(set(answered) | set(reopened) | set(rated), key=lambda c: c or "")
    return tuple(OpdRatings(c, answered[c], rated[c], satisfied[c], reopened[c]) for c in codes)
