"""Database reads of the app API: a device's own complaints and the replies sent to it.

A complaint is the device's when its reply route is the app channel and this device id. Until
the verify worker opens the case (usually within a second), the complaint exists only as an
accepted inbox row; it is shown then too, as received ("diterima"), so a ticket the app just received
never answers 404. Plain synchronous functions of a session: the handlers run them through
``ACCEPTOR.read`` off the event loop.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from complaints import store
from complaints.lifecycle import RECEIVED
from complaints.models import Complaint, InboxMessage, Reply
from config.model import CityConfig
from gateway.health import public_status
from normalizer.envelope import ComplaintEnvelope

CHANNEL = "app"
MAX_LISTED = 100
# Accepted-but-unverified rows of every channel are few (the verify worker drains them in
# milliseconds); this bounds the scan when the workers are down and they pile up.
PENDING_SCAN = 500

Ownership = Literal["case", "pending"]


def _owns_pending(inbox: InboxMessage, device_id: str) -> bool:
    """True when the accepted inbox row is a complaint (not a follow-up) from this device."""
    if inbox.channel != CHANNEL or inbox.kind != "complaint" or not inbox.envelope:
        return False
    # Read through the envelope type: it knows every stored version (v1 kept case_ticket in raw).
    envelope = ComplaintEnvelope.from_dict(inbox.envelope)
    route = envelope.reply_route
    return route.channel == CHANNEL and route.address == device_id and not envelope.thread.case_ticket


def ownership(session: Session, device_id: str, ticket: str) -> Ownership | None:
    """``"case"`` when the device's complaint ``ticket`` is an opened case, ``"pending"`` while
    it waits for the verify worker, None when it is not this device's (or does not exist)."""
    case = session.execute(
        select(Complaint.reply_channel, Complaint.reply_address).where(Complaint.ticket == ticket)
    ).first()
    if case is not None:
        return "case" if case.reply_channel == CHANNEL and case.reply_address == device_id else None
    inbox = store.inbox_by_ticket(session, ticket)
    if inbox is not None and inbox.state == "accepted" and _owns_pending(inbox, device_id):
        return "pending"
    return None


def case_status(session: Session, ticket: str) -> str | None:
    """The status of the case ``ticket`` (None when there is none)."""
    return session.scalar(select(Complaint.status).where(Complaint.ticket == ticket))


def _opd(config: CityConfig, code: str | None) -> dict[str, str] | None:
    opd = config.opd(code)
    return {"code": opd.code, "name": opd.name} if opd else None


def my_complaints(session: Session, config: CityConfig, device_id: str, lang: str) -> list[dict[str, Any]]:
    """The device's complaints, newest first (at most :data:`MAX_LISTED`)."""
    sop = config.sop
    rows = session.execute(
        select(Complaint.ticket, Complaint.status, Complaint.opd_code, Complaint.created_at)
        .where(Complaint.reply_channel == CHANNEL, Complaint.reply_address == device_id)
        .order_by(Complaint.created_at.desc())
        .limit(MAX_LISTED)
    ).all()
    items = [
        {
            "ticket": r.ticket,
            "status": r.status,
            "status_label": sop.label(r.status, lang),
            "opd": _opd(config, r.opd_code),
            "created_at": r.created_at,
        }
        for r in rows
    ]
    listed = {item["ticket"] for item in items}
    pending = session.scalars(
        select(InboxMessage)
        .where(InboxMessage.state == "accepted", InboxMessage.channel == CHANNEL, InboxMessage.kind == "complaint")
        .order_by(InboxMessage.created_at)
        .limit(PENDING_SCAN)
    )
    for inbox in pending:
        if inbox.ticket and inbox.ticket not in listed and _owns_pending(inbox, device_id):
            items.append(
                {
                    "ticket": inbox.ticket,
                    "status": RECEIVED,
                    "status_label": sop.label(RECEIVED, lang),
                    "opd": None,
                    "created_at": inbox.created_at,
                }
            )
    items.sort(key=lambda item: item["created_at"], reverse=True)
    for item in items:
        item["created_at"] = item["created_at"].isoformat()
    return items[:MAX_LISTED]


def my_complaint(session: Session, config: CityConfig, device_id: str, ticket: str, lang: str) -> dict[str, Any] | None:
    """The public view of the device's complaint ``ticket`` plus every reply addressed to the
    device about it (whatever became of the push), or None when it is not this device's."""
    owned = ownership(session, device_id, ticket)
    if owned is None:
        return None
    status = public_status(session, config, ticket, lang)
    if status is None:
        return None
    replies: list[dict[str, Any]] = []
    if owned == "case":
        complaint_id = session.scalar(select(Complaint.id).where(Complaint.ticket == ticket))
        rows = session.scalars(
            select(Reply)
            .where(Reply.complaint_id == complaint_id, Reply.channel == CHANNEL, Reply.address == device_id)
            .order_by(Reply.created_at, Reply.id)
        )
        replies = [
            {
                "id": r.id,
                "kind": r.kind,
                "text": r.text,
                "created_at": r.created_at.isoformat(),
                "sent_at": r.sent_at.isoformat() if r.sent_at else None,
            }
            for r in rows
        ]
    return {**status, "replies": replies}
