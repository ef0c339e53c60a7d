"""SOP steps 2–3 done by a worker: open the case and check the reporter's identity.

A complete, valid identity moves the case on to routing. A missing or invalid one returns
the complaint to the citizen (SOP step 3) with a reply naming exactly what is missing, on the
channel it came in on. A status query (``CEK <ticket>``) is answered here too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from complaints import lifecycle, store
from complaints.models import InboxMessage
from complaints.replies import render_reply
from normalizer.envelope import ComplaintEnvelope, utcnow
from normalizer.tickets import normalize_ticket
from workers import conversation, followup
from workers.batch import FollowUps, StageResult, each_in_savepoint
from workers.casework import check_case

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from workers.runtime import Runtime

log = structlog.get_logger(__name__)


def verify_batch(runtime: Runtime, inbox_ids: list[str]) -> StageResult:
    """Verify a batch of accepted messages in one transaction."""
    return each_in_savepoint(runtime, "verify_intake", inbox_ids, verify_one)


def verify_one(runtime: Runtime, session: Session, inbox_id: str) -> FollowUps:
    """Process one accepted message; return the follow-up work ``{actor: [ids]}``."""
    # Row lock (PostgreSQL): a sweep may hand the same message to two workers at once.
    inbox = session.get(InboxMessage, inbox_id, with_for_update=True)
    if inbox is None or inbox.state != "accepted":
        return {}  # already done by an earlier run: every actor is idempotent
    envelope = ComplaintEnvelope.from_dict(inbox.envelope)
    inbox.attempts += 1
    inbox.state = "done"
    inbox.updated_at = utcnow()
    if envelope.kind == "status_query":
        return answer_status_query(runtime, session, inbox, envelope)
    if envelope.kind == "conversation":
        return conversation.handle_turn(runtime, session, inbox, envelope)
    automatic = (envelope.raw or {}).get("auto")
    if automatic:
        # RFC 3834: never answer robots; a bounce of our own reply marks that reply failed.
        inbox.state = "ignored"
        inbox.error = f"automatic message ({automatic}): no case, no reply"
        followup.apply_bounce(session, envelope)
        return {}
    case = followup.find_case(session, envelope)
    if case is not None:
        return followup.add_to_case(runtime, session, case, inbox, envelope)
    complaint = lifecycle.open_case(session, inbox, envelope, sop=runtime.config.sop)
    if complaint.status != lifecycle.RECEIVED:
        return {}
    return check_case(runtime, session, complaint, actor="worker:verify_intake")


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
        opd = config.opd(complaint.opd_code)
        text = render_reply(
            config.replies,
            "status",
            lang,
            channel=channel,
            ticket=complaint.ticket,
            status_label=config.sop.label(complaint.status, lang),
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
