"""The citizen rates the answer and may reopen the case (issue 14, "close the loop").

After the answer of a case is delivered (the case is ``selesai``), the citizen may reply on the
same channel ``PUAS`` or ``TIDAK PUAS <alasan>`` (also ``BELUM SELESAI <alasan>``), or a number
1–5. Every rating is a :class:`~complaints.models.CaseRating` row. A dissatisfied rating (TIDAK
PUAS, BELUM SELESAI, 1 or 2) that gives a reason reopens the case to the same OPD: back to
``ditindaklanjuti`` through the transition table, so the step gets its own fresh clock from
sop.yaml, the reopen count grows, and the case is flagged for the operator. A case already reopened
once is not reopened again by the citizen: the operator decides (the case is flagged
``reopen_requested``).

Ratings are taken for ``RATING_PERIOD_WORKING_DAYS`` working days after closing, on the city's
calendar (:func:`rating_open_until`). After that the scheduler finishes the case
(:func:`finish_unrated`): ``rating_ended_at`` is stamped and the history says whether it was rated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from complaints import attention, lifecycle, sla
from complaints.models import CaseRating, Complaint
from config.model import SopConfig
from config.statuses import CLOSED, FOLLOWED_UP
from normalizer.envelope import utcnow

__all__ = [
    "MAX_REOPENS_BY_CITIZEN",
    "REOPENED",
    "REOPEN_REQUESTED",
    "Rating",
    "accepts_rating",
    "closed_case_of_sender",
    "finish_unrated",
    "parse_rating",
    "rate",
    "rate_ticket",
    "rated_since_closing",
    "rating_open_until",
]

REOPENED = "reopened"
"""Attention flag: the citizen's TIDAK PUAS sent the case back to its OPD (the operator sees it)."""
REOPEN_REQUESTED = "reopen_requested"
"""Attention flag: a second TIDAK PUAS; the case stays closed until the operator decides."""
MAX_REOPENS_BY_CITIZEN = 1
"""Reopens the citizen's reply makes on its own; after that the operator decides."""

# The keyword opens the message; the rest is the reason. "TIDAK PUAS" must be tried before "PUAS".
_RATING = re.compile(
    r"^\s*(?P<word>tidak\s+puas|tdk\s+puas|belum\s+selesai|puas|(?P<score>[1-5]))(?![\w])[\s.,:;!-]*(?P<reason>.*)$",
    re.IGNORECASE | re.DOTALL,
)
MAX_REASON_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Rating:
    """What a rating reply says: satisfied or not, the 1–5 score if given, the reason if any."""

    satisfied: bool
    score: int | None
    reason: str | None


def parse_rating(text: str | None) -> Rating | None:
    """The rating a message gives, or None when it is not a rating reply.

    ``PUAS`` (satisfied), ``TIDAK PUAS`` / ``BELUM SELESAI`` (not), or a lone digit 1–5 (1–2 not
    satisfied); what follows is the reason. A longer number ("12 lampu mati") is not a rating.
    """
    found = _RATING.match(text or "")
    if found is None:
        return None
    word = " ".join(found["word"].lower().split())
    reason = " ".join(found["reason"].split())[:MAX_REASON_CHARS] or None
    if found["score"]:
        score = int(found["score"])
        return Rating(satisfied=score >= 3, score=score, reason=reason)
    return Rating(satisfied=word == "puas", score=None, reason=reason)


def rating_open_until(closed_at: datetime, days: int, calendar: sla.Calendar) -> datetime:
    """The end of the ``days``-th working day after the closing day: the last moment a rating counts.

    A case closed on Friday with 10 working days takes ratings until the close of business on the
    Friday two weeks later (later still across holidays).
    """
    day = calendar.local_date(closed_at)
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            counted += 1
    window = calendar.window(day)
    return window[1] if window is not None else closed_at + timedelta(days=days)


def closed_case_of_sender(
    session: Session, channel: str, address: str, *, days: int, calendar: sla.Calendar, now: datetime | None = None
) -> Complaint | None:
    """The sender's newest closed case still open for a rating, matched on the case's reply route."""
    newest = session.scalar(
        select(Complaint)
        .where(
            Complaint.reply_channel == channel,
            Complaint.reply_address == address,
            Complaint.status == CLOSED,
            Complaint.closed_at.is_not(None),
            Complaint.merged_into_id.is_(None),
        )
        .order_by(Complaint.closed_at.desc())
        .limit(1)
    )
    if newest is None or not accepts_rating(newest, days=days, calendar=calendar, now=now):
        return None
    return newest


def accepts_rating(case: Complaint, *, days: int, calendar: sla.Calendar, now: datetime | None = None) -> bool:
    """True while ``case`` takes a rating: closed, not merged or finished, within the rating period."""
    if case.status != CLOSED or case.closed_at is None or case.merged_into_id is not None:
        return False
    if case.rating_ended_at is not None:
        return False
    return (now or utcnow()) <= rating_open_until(case.closed_at, days, calendar)


def rated_since_closing(session: Session, case: Complaint) -> bool:
    """True when the case's current answer (closed at ``closed_at``) has been rated already."""
    if case.closed_at is None:
        return False
    given = session.scalar(
        select(CaseRating.id).where(CaseRating.complaint_id == case.id, CaseRating.at >= case.closed_at).limit(1)
    )
    return given is not None


def finish_unrated(
    session: Session, *, days: int, calendar: sla.Calendar, now: datetime, limit: int
) -> tuple[list[str], list[str]]:
    """Finish the closed cases whose rating period ended by ``now``: stamp ``rating_ended_at`` and
    write a history note. Returns (tickets finished without a rating, tickets finished rated).

    Ten working days are never fewer than ten calendar days, so only cases closed before that are
    read; each is then checked on the calendar. Idempotent: a finished case is not read again.
    """
    cases = session.scalars(
        select(Complaint)
        .where(
            Complaint.status == CLOSED,
            Complaint.rating_ended_at.is_(None),
            Complaint.closed_at < now - timedelta(days=days),
            Complaint.merged_into_id.is_(None),
        )
        .order_by(Complaint.closed_at)
        .limit(limit)
    ).all()
    unrated: list[str] = []
    rated: list[str] = []
    for case in cases:
        if case.closed_at is None or now <= rating_open_until(case.closed_at, days, calendar):
            continue
        case.rating_ended_at = now
        given = session.scalar(select(CaseRating.id).where(CaseRating.complaint_id == case.id).limit(1))
        (rated if given is not None else unrated).append(case.ticket)
        action = "rating_period_ended" if given is not None else "finished_unrated"
        lifecycle.note(session, case, actor="scheduler", action=action, note=f"{days} working days after closing")
    return unrated, rated


def rate(
    session: Session,
    complaint: Complaint,
    rating: Rating,
    *,
    via: str,
    sop: SopConfig,
    calendar: sla.Calendar,
) -> str:
    """Record ``rating`` on the closed ``complaint``; reopen it or hand it to the operator when asked.

    Returns the outcome: ``recorded``, ``reopened`` (back to the OPD's follow-up with a fresh step
    clock) or ``to_operator`` (a second reopen: flagged for the operator's decision).
    """
    outcome = "recorded"
    if not rating.satisfied and rating.reason:
        if complaint.reopen_count >= MAX_REOPENS_BY_CITIZEN:
            outcome = "to_operator"
        elif lifecycle.allows(complaint, FOLLOWED_UP, "system"):
            outcome = "reopened"
    session.add(
        CaseRating(
            complaint_id=complaint.id,
            at=utcnow(),
            satisfied=rating.satisfied,
            score=rating.score,
            reason=rating.reason,
            via=via,
            outcome=outcome,
            opd_code=complaint.opd_code,
        )
    )
    wording = "PUAS" if rating.satisfied else "TIDAK PUAS"
    score = f" ({rating.score}/5)" if rating.score else ""
    if outcome == "reopened":
        lifecycle.transition(
            session,
            complaint,
            FOLLOWED_UP,
            sop=sop,
            calendar=calendar,
            actor="citizen",
            role="system",
            action="reopen",
            note=f"{wording}{score} via {via}",
        )
        complaint.reopen_count += 1
        complaint.closed_at = None  # open again: it closes anew when the new answer is approved
        attention.flag(session, complaint, REOPENED, actor="citizen", note=f"reopen {complaint.reopen_count}")
    elif outcome == "to_operator":
        attention.flag(
            session,
            complaint,
            REOPEN_REQUESTED,
            actor="citizen",
            note=f"{wording}{score} via {via}; reopened {complaint.reopen_count}x already: operator decides",
        )
    else:
        lifecycle.note(session, complaint, actor="citizen", action="rated", note=f"{wording}{score} via {via}")
    return outcome


def rate_ticket(
    session: Session,
    ticket: str,
    rating: Rating,
    *,
    via: str,
    days: int,
    sop: SopConfig,
    calendar: sla.Calendar,
    once_per_answer: bool = False,
) -> str | None:
    """Rate the case ``ticket`` through :func:`rate` when it takes a rating now (closed, within the
    period; with ``once_per_answer``, not yet rated since closing): the outcome, else None."""
    case = session.scalar(select(Complaint).where(Complaint.ticket == ticket))
    if case is None or not accepts_rating(case, days=days, calendar=calendar):
        return None
    if once_per_answer and rated_since_closing(session, case):
        return None
    return rate(session, case, rating, via=via, sop=sop, calendar=calendar)
