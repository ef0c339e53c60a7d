"""Answering a status query (``CEK <ticket>``, ``/cek <ticket>``) on the channel it came in on.

Shared by the verify stage (an SMS or e-mail ``CEK``) and the guided conversation (``/cek``), so
neither has to import the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from complaints import lifecycle, store
from complaints.replies import render_reply
from config.loader import load_opds, load_sop
from normalizer.tickets import normalize_ticket
from workers.batch import FollowUps

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from complaints.models import InboxMessage
    from normalizer.envelope import ComplaintEnvelope


def answer_status_query(session: Session, inbox: InboxMessage, envelope: ComplaintEnvelope) -> FollowUps:
    """Answer `CEK <ticket>` with the case's status (never echoing what was sent)."""
    lang = envelope.language
    channel = envelope.reply_route.channel
    ticket = normalize_ticket(envelope.query_ticket or "")
    complaint = store.complaint_by_ticket(session, ticket) if ticket else None
    if complaint is None:
        pending = store.inbox_by_ticket(session, ticket) if ticket else None
        if pending is not None:
            text = render_reply(
                "status",
                lang,
                channel=channel,
                ticket=ticket,
                status_label=load_sop().label(lifecycle.RECEIVED, lang),
                opd="-",
            )
        else:
            # Never echo what was sent: only a well-formed ticket is repeated back.
            text = render_reply("status_unknown", lang, channel=channel, ticket=ticket or "-")
    else:
        opd = load_opds().get(complaint.opd_code or "")
        text = render_reply(
            "status",
            lang,
            channel=channel,
            ticket=complaint.ticket,
            status_label=load_sop().label(complaint.status, lang),
            opd=opd.short_name if opd else "-",
        )
    route = envelope.reply_route
    reply_id = store.queue_reply(
        session,
        dedupe_key=f"{inbox.id}:status",
        kind="status",
        channel=route.channel,
        provider=route.provider,
        address=route.address,
        thread_ref=route.thread_ref,
        inbox_id=inbox.id,
        complaint_id=complaint.id if complaint else None,
        text=text,
    )
    return {"send_reply": [reply_id]} if reply_id else {}
