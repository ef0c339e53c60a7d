"""A citizen's ``PUAS`` / ``TIDAK PUAS <alasan>`` (or 1–5) reply to a delivered answer (issue 14).

The verify stage asks :func:`handle_rating` before treating a message (SMS, e-mail, X) as a
follow-up or a new complaint, and a chat's conversation (Telegram, WhatsApp) asks it for a text
outside a report. The rated case is the one the message's thread or ticket names (an e-mail reply to the
answer), else the sender's newest closed case within ``RATING_PERIOD_WORKING_DAYS`` on the same
reply route (an SMS has no thread). What the rating does to the case is
:func:`complaints.rating.rate`; here the message is kept in the case's conversation and the
citizen is told what happened, on the channel the rating came in on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from complaints import rating, sla, store
from complaints.replies import render_reply
from workers import completion, followup
from workers.batch import FollowUps

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from complaints.models import Complaint, InboxMessage
    from normalizer.envelope import ComplaintEnvelope
    from workers.runtime import Runtime

log = structlog.get_logger(__name__)

_REPLY_OF_OUTCOME = {"recorded": "rating_thanks", "reopened": "rating_reopened", "to_operator": "rating_to_operator"}


def handle_rating(
    runtime: Runtime, session: Session, inbox: InboxMessage, envelope: ComplaintEnvelope, *, chat: bool = False
) -> FollowUps | None:
    """Record the message as a rating of the sender's answered case; None when it is not one.

    ``chat``: a chat channel's turn outside a report (``workers.conversation``), matched on the chat.

    A bare number counts only in a short message: "1 lampu mati di Jl. Pajajaran ..." from someone
    whose last case closed last week is a new complaint, not a rating of 1.
    """
    if not chat and envelope.channel not in completion.REPLY_CHANNELS:
        return None
    given = rating.parse_rating(envelope.text)
    if given is None or (given.score is not None and not completion.is_short_reply(envelope)):
        return None
    case = _rated_case(runtime, session, envelope)
    if case is None:
        return None
    calendar = sla.calendar_of(runtime.config.calendar)
    outcome = rating.rate(session, case, given, via=envelope.provider, sop=runtime.config.sop, calendar=calendar)
    inbox.error = f"rating of {case.ticket}"
    followup.citizen_note(session, case, envelope, envelope.text or "")
    log.info("case_rated", ticket=case.ticket, satisfied=given.satisfied, score=given.score, outcome=outcome)
    return _tell_citizen(runtime, session, inbox, envelope, case, outcome)


def _rated_case(runtime: Runtime, session: Session, envelope: ComplaintEnvelope) -> Complaint | None:
    """The closed case the rating is for: the one its thread or ticket names, else the sender's newest."""
    days, calendar = runtime.settings.rating_period_working_days, sla.calendar_of(runtime.config.calendar)
    named = followup.continued_case(session, envelope)
    if named is not None:
        if not rating.accepts_rating(named, days=days, calendar=calendar):
            return None  # an open case's follow-up, or a rating too late: the usual paths take it
        return named
    route = envelope.reply_route
    return rating.closed_case_of_sender(session, route.channel, route.address, days=days, calendar=calendar)


def _tell_citizen(
    runtime: Runtime,
    session: Session,
    inbox: InboxMessage,
    envelope: ComplaintEnvelope,
    case: Complaint,
    outcome: str,
) -> FollowUps:
    """Thank the citizen, and say whether the case went back to the OPD or to the operator."""
    route = envelope.reply_route
    opd = runtime.config.opd(case.opd_code)
    text = render_reply(
        runtime.config.replies,
        _REPLY_OF_OUTCOME[outcome],
        case.language,
        channel=route.channel,
        ticket=case.ticket,
        opd=opd.short_name if opd else "-",
    )
    reply_id = store.queue_reply(
        session,
        dedupe_key=f"{inbox.id}:rating",
        kind="rating",
        channel=route.channel,
        provider=route.provider,
        address=route.address,
        thread_ref=route.thread_ref,
        inbox_id=inbox.id,
        complaint_id=case.id,
        text=text,
    )
    return {"send_reply": [reply_id]} if reply_id else {}
