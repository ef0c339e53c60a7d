"""The SOP state machine: every status change of a case goes through :func:`transition`.

Each change sets the case's SOP step and the deadline of that step (from the city's
``sop.yaml``, passed in as a :class:`config.model.SopConfig`) and writes a history row saying
who did what and when.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from complaints.models import Complaint, HistoryEntry, InboxMessage
from config.model import SopConfig
from normalizer.envelope import ComplaintEnvelope, new_id, utcnow

# Status codes used by the code (their labels, steps and time standards live in sop.yaml).
RECEIVED = "diterima"
VERIFIED = "diverifikasi"
RETURNED_TO_CITIZEN = "dikembalikan_ke_pelapor"
TRIAGE = "triase"
DISPOSED = "disposisi"


def transition(
    session: Session,
    complaint: Complaint,
    to_status: str,
    *,
    sop: SopConfig,
    actor: str,
    action: str,
    note: str | None = None,
) -> None:
    """Move ``complaint`` to ``to_status``, restart the step clock from ``sop``'s time standard, and record it."""
    now = utcnow()
    from_status = complaint.status
    complaint.status = to_status
    complaint.step = sop.step_for_status(to_status)
    minutes = sop.deadline_minutes(to_status)
    complaint.step_deadline_at = now + timedelta(minutes=minutes) if minutes else None
    complaint.updated_at = now
    session.add(
        HistoryEntry(
            complaint_id=complaint.id,
            at=now,
            actor=actor,
            action=action,
            from_status=from_status,
            to_status=to_status,
            note=note,
        )
    )


def note(session: Session, complaint: Complaint, *, actor: str, action: str, note: str | None = None) -> None:
    """Record an event that does not change the status (a follow-up, a suppressed reply)."""
    now = utcnow()
    complaint.updated_at = now
    session.add(
        HistoryEntry(
            complaint_id=complaint.id,
            at=now,
            actor=actor,
            action=action,
            from_status=complaint.status,
            to_status=complaint.status,
            note=note,
        )
    )


def open_case(session: Session, inbox: InboxMessage, envelope: ComplaintEnvelope, *, sop: SopConfig) -> Complaint:
    """Create the case for an accepted complaint message (or return the existing one).

    The case starts at SOP step 2 ("diterima"); the receipt itself (step 1) is the inbox row.
    """
    existing = session.scalar(select(Complaint).where(Complaint.inbox_id == inbox.id))
    if existing is not None:
        return existing
    ident = envelope.identity
    route = envelope.reply_route
    received_at = inbox.created_at
    complaint = Complaint(
        id=new_id(),
        ticket=inbox.ticket,
        inbox_id=inbox.id,
        channel=envelope.channel,
        provider=envelope.provider,
        reply_channel=route.channel,
        reply_provider=route.provider,
        reply_address=route.address,
        reply_thread_ref=route.thread_ref,
        language=envelope.language,
        status="",
        step=1,
        nik=ident.nik,
        name=ident.name,
        address=ident.address,
        phone=ident.phone,
        email=ident.email,
        subject=envelope.subject,
        text=envelope.text,
        attachments={"files": [_attachment(a) for a in envelope.attachments]} if envelope.attachments else None,
        created_at=received_at,
        updated_at=received_at,
    )
    session.add(complaint)
    session.flush()
    transition(
        session, complaint, RECEIVED, sop=sop, actor="system", action="received", note=f"via {envelope.provider}"
    )
    return complaint


def _attachment(att: object) -> dict[str, object]:
    return {name: getattr(att, name) for name in ("sha256", "size", "content_type", "filename")}
