"""A sender over ``SENDER_RATE_LIMIT``: keep every message, group it, tell the sender once.

Issue 12: 300 SMS from one phone in two seconds made 300 cases and queued 300 replies to that
phone. Now a message past the sender's limit (:mod:`workers.sender_counter`) is

- added to the sender's latest open case as a citizen message (text and files, shown in the
  case's conversation), or, when the sender has no open case, opened as a case that waits at
  "diterima" for an operator instead of being checked and answered;
- flagged on that case for the operator (``attention = "sender_limit"``, shown in the inbox);
- answered by one notice per ``SENDER_NOTICE_INTERVAL_MINUTES`` on the sender's channel, and
  by nothing else: no acknowledgement, no identity request, no status answer per message.

Other senders are not touched: counting is per sender and the work per held message is one
short transaction, less than a normal message costs.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select

from complaints import attention, lifecycle, sla, store
from complaints.models import Complaint, InboxMessage, Reply
from complaints.replies import render_reply
from config.statuses import CLOSED
from normalizer.envelope import ComplaintEnvelope, utcnow
from normalizer.tickets import new_ticket
from workers.batch import FollowUps
from workers.followup import citizen_note

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from workers.runtime import Runtime

log = structlog.get_logger(__name__)

NOTICE_KIND = "sender_limit"
"""The reply kind (and template) of the one notice a sender over the limit gets."""


def latest_open_case(session: Session, envelope: ComplaintEnvelope) -> Complaint | None:
    """The sender's newest case that is not closed (same channel and reply address), or None."""
    route = envelope.reply_route
    return session.scalar(
        select(Complaint)
        .where(
            Complaint.reply_channel == route.channel,
            Complaint.reply_address == route.address,
            Complaint.status != CLOSED,
        )
        .order_by(Complaint.created_at.desc())
        .limit(1)
    )


def hold(runtime: Runtime, session: Session, inbox: InboxMessage, envelope: ComplaintEnvelope) -> FollowUps:
    """Keep a message from a sender over the limit for the operator; queue the notice if one is due."""
    case = latest_open_case(session, envelope)
    if case is not None:
        inbox.error = f"sender over limit: added to {case.ticket}"
        # Kept as the citizen's message on the case (files included), not appended to the case's
        # text: a flood would make every append rewrite an ever longer row.
        citizen_note(session, case, envelope, envelope.text or "")
    else:
        # No case to add to: open one, but leave the checking and the answer to an operator.
        if inbox.ticket is None:
            # Only complaints get a ticket at accept time; a chat turn or a status query gets
            # one here, as the conversation does (a collision fails the savepoint: retried).
            inbox.ticket = new_ticket()
        case = lifecycle.open_case(
            session, inbox, envelope, sop=runtime.config.sop, calendar=sla.calendar_of(runtime.config.calendar)
        )
        inbox.error = f"sender over limit: held as {case.ticket}"
    if case.attention != attention.DELIVERY_FAILED and case.attention != attention.SENDER_LIMIT:
        attention.flag(
            session, case, attention.SENDER_LIMIT, actor="system", note=f"many messages via {envelope.provider}"
        )
    log.info("sender_over_limit", ticket=case.ticket, inbox=inbox.id)
    reply_id = _notice(runtime, session, case)
    return {"send_reply": [reply_id]} if reply_id else {}


def _notice(runtime: Runtime, session: Session, case: Complaint) -> str | None:
    """Queue the notice unless this sender had one within SENDER_NOTICE_INTERVAL_MINUTES.

    Decided from the outbox itself (the database every worker shares), by the notice's dedupe
    key: the sender (a digest) and the interval's time slot, not the case. So workers holding
    the sender's messages at the same moment (each may see a different latest case while the
    others' transactions are open) insert one notice between them, a retried worker none, and
    both look-ups are on the unique key's index, however large the outbox grows.
    """
    interval = timedelta(minutes=runtime.settings.sender_notice_interval_minutes)
    now = utcnow()
    slot = int(now.timestamp() // interval.total_seconds())
    # A digest, not the address itself: the key is an index entry, and short.
    sender = hashlib.sha256(f"{case.reply_channel}:{case.reply_address}".encode()).hexdigest()[:32]
    key = f"{NOTICE_KIND}:{sender}:"
    previous = session.scalar(select(Reply.created_at).where(Reply.dedupe_key == f"{key}{slot - 1}"))
    if previous is not None and previous >= now - interval:
        return None  # the last slot's notice is less than an interval old
    text = render_reply(
        runtime.config.replies, NOTICE_KIND, case.language, channel=case.reply_channel, ticket=case.ticket
    )
    return store.queue_case_reply(session, case, NOTICE_KIND, text, dedupe_key=f"{key}{slot}")
