"""Guided conversations (Telegram /lapor), being written: issue 4."""

from __future__ import annotations

from typing import TYPE_CHECKING

from normalizer.envelope import ComplaintEnvelope
from workers.batch import FollowUps

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from complaints.models import InboxMessage
    from workers.runtime import Runtime


def handle_turn(runtime: Runtime, session: Session, inbox: InboxMessage, envelope: ComplaintEnvelope) -> FollowUps:
    """One message of a guided conversation (not implemented yet)."""
    raise NotImplementedError("guided conversations are not implemented yet")
