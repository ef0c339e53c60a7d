"""A case's complaint class and overall deadline (issue 14): the proposal and the assignment.

The classes and their working days are data (config/complaint_classes.yaml, :mod:`config.classes`).
:func:`suggest` proposes one for a case: the first keyword of the rules found among the text's
words (stemmed as the routing does, so "pungutan" and "dipungut" meet), else the class of the
case's OPD (or of the OPD the routing rules propose, since an operator verifies before routing),
else the default. :func:`assign` stores the class and its deadline, counted on the city calendar
from the day the complaint was received.
"""

from __future__ import annotations

from datetime import datetime

from complaints import routing, sla
from complaints.models import Complaint
from config.classes import ComplaintClass
from config.model import CityConfig

__all__ = ["assign", "class_deadline", "is_class_overdue", "suggest"]


def suggest(case: Complaint, config: CityConfig) -> str:
    """The class code to propose for ``case`` (always one of the configured classes)."""
    classes = config.classes
    words = {routing.stem_word(w) for w in routing.tokens(" ".join(filter(None, (case.subject, case.text))))}
    for keyword, code in classes.keywords:
        if routing.stem_word(keyword) in words:
            return code
    opd = case.opd_code or routing.route(case.text or "", config.routing).opd_code
    return classes.by_opd.get(opd or "", classes.default)


def class_deadline(received_at: datetime, chosen: ComplaintClass, config: CityConfig) -> datetime:
    """The overall deadline of a case of class ``chosen`` received at ``received_at`` (UTC)."""
    return sla.add_working_days(received_at, chosen.working_days, sla.calendar_of(config.calendar))


def assign(case: Complaint, code: str, config: CityConfig) -> None:
    """Set ``case``'s class to ``code`` and its deadline from receipt; ValueError on an unknown code."""
    chosen = config.classes.get(code)
    if chosen is None:
        raise ValueError(f"unknown complaint class {code!r}")
    case.complaint_class = chosen.code
    case.class_deadline_at = class_deadline(sla.as_utc(case.created_at), chosen, config)


def is_class_overdue(case: Complaint, now: datetime) -> bool:
    """True when ``case`` is open and its class deadline has passed."""
    due = case.class_deadline_at
    return due is not None and case.closed_at is None and sla.as_utc(due) < now
