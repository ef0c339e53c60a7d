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
from complaints.replies import field_labels, render_reply
from config.loader import load_opds, load_sop
from normalizer.envelope import ComplaintEnvelope, utcnow
from normalizer.identity import check_identity
from normalizer.tickets import normalize_ticket

from workers.batch import FollowUps, StageResult, each_in_savepoint

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from workers.runtime import Runtime

log = structlog.get_logger(__name__)


def verify_batch(runtime: Runtime, inbox_ids: list[str]) -> StageResult:
    """Verify a batch of accepted messages in one transaction."""
    return each_in_savepoint(runtime, "verify_intake", inbox_ids, verify_one)


def verify_one(runtime: Runtime, session: Session, inbox_id: str) -> FollowUps:
    """Process one accepted message; return the follow-up work ``{actor: [ids]}``."""
    inbox = session.get(InboxMessage, inbox_id)
    if inbox is None or inbox.state != "accepted":
        return {}  # already done by an earlier run: every actor is idempotent
    envelope = ComplaintEnvelope.from_dict(inbox.envelope)
    inbox.attempts += 1
    if envelope.kind == "status_query":
        follow = _answer_status_query(session, inbox, envelope)
    else:
        follow = _verify_complaint(runtime, session, inbox, envelope)
    inbox.state = "done"
    inbox.updated_at = utcnow()
    return follow


def _verify_complaint(
    runtime: Runtime, session: Session, inbox: InboxMessage, envelope: ComplaintEnvelope
) -> dict[str, list[str]]:
    complaint = lifecycle.open_case(session, inbox, envelope)
    if complaint.status != lifecycle.RECEIVED:
        return {}
    problems = [(p.field, p.code) for p in check_identity(envelope.identity, home_region=runtime.settings.region_code)]
    if not envelope.text:
        problems.append(("text", "missing"))
    if problems:
        complaint.identity_problems = ",".join(f"{f}:{c}" for f, c in problems)
        lifecycle.transition(
            session,
            complaint,
            lifecycle.RETURNED_TO_CITIZEN,
            actor="worker:verify_intake",
            action="returned_to_citizen",
            note=complaint.identity_problems,
        )
        key = "empty_complaint" if problems == [("text", "missing")] else "identity_missing"
        text = render_reply(
            key,
            complaint.language,
            channel=complaint.reply_channel,
            ticket=complaint.ticket,
            fields=field_labels([p for p in problems if p[0] != "text"], complaint.language),
        )
        log.info("identity_incomplete", ticket=complaint.ticket, problems=complaint.identity_problems)
        reply_id = store.queue_case_reply(session, complaint, key, text)
        return {"send_reply": [reply_id]} if reply_id else {}
    lifecycle.transition(session, complaint, lifecycle.VERIFIED, actor="worker:verify_intake", action="verified")
    return {"route_to_opd": [complaint.id]}


def _answer_status_query(session: Session, inbox: InboxMessage, envelope: ComplaintEnvelope) -> dict[str, list[str]]:
    lang = envelope.language
    channel = envelope.reply_route.channel
    ticket = normalize_ticket(envelope.query_ticket or "")
    complaint = store.complaint_by_ticket(session, ticket) if ticket else None
    if complaint is None:
        pending = store.inbox_by_ticket(session, ticket) if ticket else None
        if pending is not None:
            text = render_reply(
                "status", lang, channel=channel, ticket=ticket,
                status_label=load_sop().label(lifecycle.RECEIVED, lang), opd="-",
            )
        else:
            text = render_reply("status_unknown", lang, channel=channel, ticket=envelope.query_ticket or "-")
    else:
        opd = load_opds().get(complaint.opd_code or "")
        text = render_reply(
            "status", lang, channel=channel, ticket=complaint.ticket,
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
