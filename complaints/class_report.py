"""Class-deadline compliance for the staff report (issue 14): its own figure beside the steps'.

Of the cases whose class deadline (``class_deadline_at``) fell in the report's period, and has
passed by now, how many were closed by it, per class. A case still open after its deadline
counts as missed; a deadline later in the period than now is not counted yet (it may still be
met). The figure is scoped like every other report query (:func:`complaints.queries.visible_cases`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from complaints import sla
from complaints.models import Complaint
from complaints.queries import Viewer, visible_cases

__all__ = ["ClassCompliance", "class_compliance"]


@dataclass(frozen=True, slots=True)
class ClassCompliance:
    """One class: deadlines due in the period and how many the city met."""

    complaint_class: str
    due: int
    met: int


def class_compliance(
    session: Session, viewer: Viewer, start: datetime, end: datetime, now: datetime, order: tuple[str, ...]
) -> tuple[ClassCompliance, ...]:
    """Per class (in ``order``, the config's; unknown codes after), deadlines in [start, min(end, now))."""
    until = min(end, now)
    ids = visible_cases(viewer).with_only_columns(Complaint.id)
    rows = session.execute(
        select(Complaint.complaint_class, Complaint.class_deadline_at, Complaint.closed_at).where(
            Complaint.class_deadline_at >= start,
            Complaint.class_deadline_at < until,
            Complaint.merged_into_id.is_(None),  # answered with its main case: counted there once
            Complaint.id.in_(ids),
        )
    ).all()
    due: Counter[str] = Counter()
    met: Counter[str] = Counter()
    for stored, deadline, closed in rows:
        code = stored or "-"  # a deadline without a class: none is written so, but count it if found
        due[code] += 1
        if closed is not None and deadline is not None and sla.as_utc(closed) <= sla.as_utc(deadline):
            met[code] += 1
    codes = [c for c in order if c in due] + sorted(c for c in due if c not in order)
    return tuple(ClassCompliance(code, due[code], met[code]) for code in codes)
