"""Seed case rows straight into a migrated database, for tests of the console's queries and pages."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from complaints import sla
from complaints.models import Complaint, InboxMessage
from normalizer.envelope import new_id, utcnow
from tests.support.city import shipped_city

NIK = "3271010101900001"
NAME = "Siti Rahmawati"
PHONE = "+6281298765432"
EMAIL = "siti.rahma@example.net"
ADDRESS = "Jl. Pajajaran No. 17"


def seed_case(
    session: Session,
    ticket: str,
    status: str,
    *,
    opd_code: str | None = None,
    channel: str = "web",
    created_at: datetime | None = None,
    deadline_in: timedelta | None = timedelta(hours=1),
    **fields: Any,
) -> Complaint:
    """Add one case (and its inbox row) with full personal data; ``deadline_in`` from now (None: no clock).

    The deadline counts on the shipped sop.yaml's clock of ``status`` unless ``deadline_clock`` is
    given (None: a deadline of the old wall-clock rule, not yet recomputed).
    """
    now = utcnow()
    created = created_at or now - timedelta(hours=2)
    inbox = InboxMessage(
        id=new_id(),
        channel=channel,
        provider="test",
        external_id=ticket,
        kind="complaint",
        ticket=ticket,
        envelope={},
        state="done",
        created_at=created,
        updated_at=created,
    )
    values: dict[str, Any] = {
        "id": new_id(),
        "ticket": ticket,
        "inbox_id": inbox.id,
        "channel": channel,
        "provider": "test",
        "reply_channel": "sms",
        "reply_address": PHONE,
        "status": status,
        "step": 3,
        "step_deadline_at": now + deadline_in if deadline_in is not None else None,
        "deadline_clock": _clock_of(status) if deadline_in is not None else None,
        "opd_code": opd_code,
        "nik": NIK,
        "name": NAME,
        "address": ADDRESS,
        "phone": PHONE,
        "email": EMAIL,
        "subject": "Jalan rusak",
        "text": "Jalan berlubang di depan rumah saya.",
        "created_at": created,
        "updated_at": created,
    }
    values.update(fields)
    if "deadline_clock" not in fields and values["step_deadline_at"] is not None:
        values["deadline_clock"] = _clock_of(status)
    session.add(inbox)
    session.flush()
    case = Complaint(**values)
    session.add(case)
    session.flush()
    return case


def _clock_of(status: str) -> str:
    sop = shipped_city().sop
    return sop.clock(status) if status in sop.statuses else sla.WALL
