"""The citizen rates the answer on the tracking page (issue 14: "a link on the tracking page").

Once a case's answer is delivered (``selesai``), ``/lacak/<ticket>`` offers PUAS / TIDAK PUAS with
a reason, posted to ``/lacak/<ticket>/nilai`` with the web form's CSRF protection. The rating takes
the same path as an SMS reply, :func:`complaints.rating.rate` (``via="web"``): a TIDAK PUAS with a
reason reopens the case to its OPD. The ticket is the only key a tracking page has, so one rating
per answer is taken here (the form disappears once the answer is rated) and only while the rating
period runs; nothing personal is shown or asked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from complaints import rating, sla, store

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from config.model import CityConfig

__all__ = ["CHOICE_FIELD", "OUTCOMES", "REASON_FIELD", "VIA", "offers_rating", "rating_of_form", "record_rating"]

CHOICE_FIELD = "nilai"
REASON_FIELD = "alasan"
VIA = "web"
_SATISFIED = {"puas": True, "tidak_puas": False}
OUTCOMES = ("recorded", "reopened", "to_operator")
"""What :func:`complaints.rating.rate` answers; the page thanks the citizen with ``rating_done_<outcome>``."""


def rating_of_form(fields: dict[str, str]) -> rating.Rating | None:
    """The rating the posted form gives, or None when its choice is neither PUAS nor TIDAK PUAS."""
    satisfied = _SATISFIED.get(fields.get(CHOICE_FIELD, ""))
    if satisfied is None:
        return None
    reason = " ".join(fields.get(REASON_FIELD, "").split())[: rating.MAX_REASON_CHARS] or None
    return rating.Rating(satisfied=satisfied, score=None, reason=reason)


def offers_rating(session: Session, config: CityConfig, ticket: str, days: int) -> bool:
    """True when the tracking page of ``ticket`` shows the rating form (read-only)."""
    case = store.complaint_by_ticket(session, ticket)
    if case is None or not rating.accepts_rating(case, days=days, calendar=sla.calendar_of(config.calendar)):
        return False
    return not rating.rated_since_closing(session, case)


def record_rating(
    sf: sessionmaker[Session], config: CityConfig, ticket: str, given: rating.Rating, days: int
) -> str | None:
    """Record the tracking page's rating of ``ticket``: the outcome, or None when it takes none now."""
    calendar = sla.calendar_of(config.calendar)
    with sf.begin() as session:
        return rating.rate_ticket(
            session, ticket, given, via=VIA, days=days, sop=config.sop, calendar=calendar, once_per_answer=True
        )
