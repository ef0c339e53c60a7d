"""Answering a status query (``CEK <ticket>``, ``/cek <ticket>``) on the channel it came in on.

Shared by the verify stage (an SMS or e-mail ``CEK``) and the guided conversation (``/cek``), so
neither has to import the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from complaints import lifecycle, merging, store
from complaints.replies import render_reply
from normalizer.tickets import normalize_ticket
from workers.batch import FollowUps

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from complaints.models import InboxMessage
    from normalizer.envelope import ComplaintEnvelope
    from workers.runtime import Runtime


def answer_status_query(
    runtime: Runtime, session: Session, inbox: InboxMessage, envelope: ComplaintEnvelope
) -> FollowUps:
    """Answer `CEK <ticket>` with the case's status (never echoing what was sent)."""
    config = runtime.config
    lang = envelope.language
    channel = envelope.reply_route.channel
    ticket = normalize_ticket(envelope.query_ticket or "")
    complaint = store.complaint_by_ticket(session, ticket) if ticket else None
    if complaint is None:
        pending = store.inbox_by_ticket(session, ticket) if ticket else None
        if pending is not None:
            text = render_reply(
                config.replies,
                "status",
                lang,
                channel=channel,
                ticket=ticket,
                status_label=config.sop.label(lifecycle.RECEIVED, lang),
                opd="-",
            )
        else:
            # Never echo what was sent: only a well-formed ticket is repeated back.
            text = render_reply(config.replies, "status_unknown", lang, channel=channel, ticket=ticket or "-")
    else:
        # issue 10: a complaint merged into another one is where its main case is (under its own ticket).
        followed = merging.main_of(session, complaint) or complaint
        opd = config.opd(followed.opd_code)
        text = render_reply(
            config.replies,
            "status",
            lang,
            channel=channel,
            ticket=complaint.ticket,
            status_label=config.sop.label(followed.status, lang),
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
