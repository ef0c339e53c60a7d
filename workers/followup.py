"""A citizen writing again about the same complaint, and bounces of our own replies.

A message belongs to an existing case when it answers one of our replies (its In-Reply-To
or References name a reply's Message-ID) or, failing that, when its subject or its text
carries the case's ticket and it comes from the case's own address. It is added to that case
instead of opening a new one, and written as a ``citizen_message`` note so the case page shows
it in the conversation; a case returned for missing identity is checked again, and a closed case
(or one merged into another, which no list shows) is flagged for the operator (``attention =
"citizen_message"``). A ``CEK <ticket>`` from
the case's own address on a closed case is answered as always and flagged the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select

from complaints import attention, lifecycle, store
from complaints.models import CaseNote, Complaint, InboxMessage, Reply
from config.statuses import CLOSED
from normalizer.envelope import ComplaintEnvelope, utcnow
from normalizer.identity import normalize_phone
from normalizer.tickets import find_ticket, normalize_ticket
from workers import completion
from workers.batch import FollowUps
from workers.casework import check_case

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from workers.runtime import Runtime

log = structlog.get_logger(__name__)

IDENTITY_FIELDS = ("nik", "name", "address", "phone", "email")
# The newest ids of a thread are the ones our replies can be: older ones cost a longer query.
MAX_THREAD_IDS = 50


def find_case(session: Session, envelope: ComplaintEnvelope, *, window_days: float) -> Complaint | None:
    """The case this message continues (from the case's own address), or None for a new complaint.

    Failing a thread or ticket, a short message completes the sender's case returned for missing
    identity within ``window_days`` (COMPLETE_REPLY_WINDOW_DAYS); a case returned longer ago
    takes nothing more, whatever the message names (:mod:`workers.completion`).
    """
    case = continued_case(session, envelope)
    # The app names the case itself ("add a message"): its explicit choice stands after the window.
    replies = envelope.channel in completion.REPLY_CHANNELS
    if case is not None and replies and completion.past_window(session, case, window_days):
        log.info("returned_case_expired", ticket=case.ticket)
        return None
    if case is None and replies:
        case = completion.returned_case_of_sender(session, envelope, window_days)
        if case is not None:
            log.info("completes_returned_case", ticket=case.ticket)
    return case


def continued_case(session: Session, envelope: ComplaintEnvelope) -> Complaint | None:
    """The case the message's thread, client or ticket names, if it is the sender's own."""
    thread, route = envelope.thread, envelope.reply_route
    if thread.case_ticket:
        # The client (the app API) names the case a message continues; it must still be this sender's case.
        case = store.complaint_by_ticket(session, thread.case_ticket)
        if case is not None and case.reply_channel == route.channel and case.reply_address == route.address:
            return case
    ids = [i for i in (*thread.in_reply_to, *thread.references) if i][-MAX_THREAD_IDS:]
    if ids:
        complaint_id = session.scalar(
            select(Reply.complaint_id)
            .where(Reply.provider_message_id.in_(ids), Reply.complaint_id.is_not(None))
            .limit(1)
        )
        case = session.get(Complaint, complaint_id) if complaint_id else None
        # Someone else in the thread (a relative copied in) does not get to change the case.
        if case is not None and _own_address(case, envelope):
            return case
    for where in (envelope.subject or "", envelope.text or ""):
        ticket = find_ticket(where)
        if not ticket:
            continue
        case = store.complaint_by_ticket(session, ticket)
        # A ticket is easy to copy: only the case's own address may add to it.
        if case is not None and _own_address(case, envelope):
            return case
    return None


def _own_address(case: Complaint, envelope: ComplaintEnvelope) -> bool:
    """The message comes from the case's reply address, or from the e-mail or phone the case's
    answer may have gone to instead (a web-form or call-centre complaint answered by e-mail/SMS)."""
    route = envelope.reply_route
    if case.reply_channel == route.channel and case.reply_address.lower() == route.address.lower():
        return True
    if route.channel == "email" and case.email:
        return case.email.lower() == route.address.lower()
    if route.channel == "sms" and case.phone:
        return normalize_phone(route.address) == case.phone
    return False


def add_to_case(
    runtime: Runtime, session: Session, complaint: Complaint, inbox: InboxMessage, envelope: ComplaintEnvelope
) -> FollowUps:
    """Append the message to the case; re-check identity if the case was waiting for it."""
    inbox.error = f"follow-up of {complaint.ticket}"
    if envelope.text:
        stamp = envelope.received_at[:16].replace("T", " ")
        complaint.text = f"{complaint.text}\n\n[{stamp} UTC]\n{envelope.text}".strip()
    waiting = lifecycle.can(complaint, "recheck", "system")
    sources = envelope.identity_sources
    taken: list[str] = []
    for field in IDENTITY_FIELDS:
        value = getattr(envelope.identity, field)
        # A returned case takes corrections the citizen writes; what the channel says about the
        # sender (an e-mail display name) only fills a gap. A verified case keeps what was verified.
        corrects = waiting and (sources is None or completion.is_read_from_text(sources.get(field)))
        if value and (corrects or not getattr(complaint, field)) and getattr(complaint, field) != value:
            taken.append(field)
            setattr(complaint, field, value)
            read = {"from": (sources or {}).get(field, "reply"), "reply_at": envelope.received_at}
            complaint.identity_sources = {
                **(complaint.identity_sources or {}),
                field: read,
            }  # a new dict: JSON is written
    # The history names the fields the message changed (never their values), so the operator
    # sees at a glance what a completing reply brought; a reply of only identity shows that too.
    changed = f"; identity: {', '.join(taken)}" if taken else ""
    lifecycle.note(
        session, complaint, actor="citizen", action="citizen_follow_up", note=f"via {envelope.provider}{changed}"
    )
    labels = runtime.config.replies.of(complaint.language).fields
    given = ", ".join(labels.get(field, field) for field in taken)
    citizen_note(session, complaint, envelope, envelope.text or (f"({given})" if given else ""))
    if complaint.status == CLOSED or complaint.merged_into_id is not None:
        # issue 10: a merged case is out of every list, so its reporter's new message must bring it back.
        why = "after closing" if complaint.status == CLOSED else "on a case merged into another"
        attention.flag(
            session,
            complaint,
            attention.CITIZEN_MESSAGE,
            actor="citizen",
            note=f"message {why} via {envelope.provider}",
        )
    log.info("follow_up", ticket=complaint.ticket, waiting=waiting)
    if waiting:
        return check_case(runtime, session, complaint, actor="worker:verify_intake", round_id=inbox.id)
    return {}


def note_status_query(session: Session, envelope: ComplaintEnvelope) -> None:
    """A ``CEK <ticket>`` from a closed case's own address: keep it on the case and flag the case.

    The citizen asking after the answer may not have received it. A query about another
    case, or about an open one, is only answered (as always).
    """
    ticket = normalize_ticket(envelope.query_ticket or "")
    case = store.complaint_by_ticket(session, ticket) if ticket else None
    if case is None or case.status != CLOSED or not _own_address(case, envelope):
        return
    citizen_note(session, case, envelope, envelope.text or f"CEK {case.ticket}")
    attention.flag(
        session,
        case,
        attention.CITIZEN_MESSAGE,
        actor="citizen",
        note=f"status query after closing via {envelope.provider}",
    )


def citizen_note(session: Session, complaint: Complaint, envelope: ComplaintEnvelope, text: str) -> None:
    """The citizen's message as a note of the conversation (public to the case page, not internal)."""
    files = [
        {name: getattr(a, name) for name in ("sha256", "size", "content_type", "filename")}
        for a in envelope.attachments
    ]
    session.add(
        CaseNote(
            complaint_id=complaint.id,
            at=utcnow(),
            author_id=None,
            author_role="citizen",
            kind=attention.CITIZEN_MESSAGE,
            text=text,
            attachments={"files": files} if files else None,
            internal=False,
        )
    )


def apply_bounce(session: Session, envelope: ComplaintEnvelope) -> store.DeliveryApplied | None:
    """If the message is a delivery failure report for one of our replies, mark that reply failed.

    Returns what the bounce matched (the caller counts a reply it settled as failed), or None.
    """
    bounce = envelope.bounce
    if bounce is None or not bounce.original_message_id or bounce.action == "delayed":
        return None
    applied = store.apply_delivery_report(
        session,
        status="failed",
        provider_message_id=bounce.original_message_id,
        detail=f"bounced: {bounce.status or ''} {bounce.diagnostic or ''}".strip()[:500],
    )
    log.info("bounce", matched=applied is not None)
    return applied
