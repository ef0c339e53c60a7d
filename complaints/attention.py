"""Why a case needs an operator although its status does not say so (``Complaint.attention``).

Set in the transaction that learns of it: a reply carrying the answer that ends ``failed`` or
``unknown`` (the send worker, a provider's delivery report, a bounce) flags the case
``delivery_failed``; a citizen writing again on a closed case flags it ``citizen_message``.
The operator inbox lists flagged cases; the operator clears the flag by dealing with it
(sending the answer again by another route, or marking the message read).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from complaints import lifecycle
from complaints.models import Complaint, Reply

DELIVERY_FAILED = "delivery_failed"
CITIZEN_MESSAGE = "citizen_message"
SENDER_LIMIT = "sender_limit"
"""part-abuse: the citizen sent more than SENDER_RATE_LIMIT; the messages wait on the case unanswered."""
ANSWER_KIND = "answer"
FINAL_FAILURES = ("failed", "unknown")


def flag(session: Session, complaint: Complaint, reason: str, *, actor: str, note: str) -> None:
    """Set the case's ``attention`` to ``reason`` and write a history note saying why.

    A failed delivery outranks an unread citizen message (the citizen may not have the answer
    at all); an unread message never hides a failed delivery.
    """
    if not (reason == CITIZEN_MESSAGE and complaint.attention == DELIVERY_FAILED):
        complaint.attention = reason
    lifecycle.note(session, complaint, actor=actor, action=reason, note=note)


def clear(session: Session, complaint: Complaint, *, actor: str, action: str, note: str | None = None) -> None:
    """Clear the flag (the operator dealt with it) and record who did, in the history."""
    complaint.attention = None
    lifecycle.note(session, complaint, actor=actor, action=action, note=note)


def answer_delivery_ended(session: Session, reply: Reply) -> bool:
    """Flag the reply's case when ``reply`` carried the answer and ended failed or unknown.

    A late report on an older attempt does not flag a case whose answer was since sent again
    (a newer answer reply exists). Returns True when the case was flagged.
    """
    if reply.kind != ANSWER_KIND or reply.status not in FINAL_FAILURES or reply.complaint_id is None:
        return False
    newer = session.scalar(
        select(Reply.id)
        .where(
            Reply.complaint_id == reply.complaint_id,
            Reply.kind == ANSWER_KIND,
            Reply.created_at > reply.created_at,
        )
        .limit(1)
    )
    if newer is not None:
        return False
    complaint = session.get(Complaint, reply.complaint_id)
    if complaint is None:
        return False
    # Provider error texts can quote the address: the history says only the channel and outcome.
    flag(
        session,
        complaint,
        DELIVERY_FAILED,
        actor="system",
        note=f"answer via {reply.channel}: {reply.status}",
    )
    return True
